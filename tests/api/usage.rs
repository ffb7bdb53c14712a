//! Usage metering over HTTP: counts per key, minute and status class match the
//! requests made; `GET /v1/usage` aggregates them for the caller's organization only.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use keygate::clock::ManualClock;

use crate::helpers::{assert_api_error, eventually, TestApp, TestKey};

async fn usage(app: &TestApp, query: &str) -> reqwest::Response {
    app.get(&format!("/v1/usage?{query}"), &app.admin_key).await
}

/// The usage `query` gives once the periodic flush has written what `check` wants.
async fn flushed(
    app: &TestApp,
    query: &str,
    check: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    eventually(&format!("usage matching {query}"), || async {
        let body: serde_json::Value = usage(app, query).await.json().await.unwrap();
        check(&body).then_some(body)
    })
    .await
}

#[actix_rt::test]
async fn counts_match_the_requests_made() {
    let now = Utc::now();
    let clock = Arc::new(ManualClock::new(now));
    let app = TestApp::spawn_with_clock(
        |s| s.usage_flush_interval = Duration::from_secs(1),
        clock.clone(),
    )
    .await;
    let TestKey { id: key_id, key } = app.operator_key("default", "read", None);
    for _ in 0..3 {
        assert_eq!(app.me(&[("X-API-Key", &key)]).await.status(), 200);
    }
    let forbidden = app
        .create_key_as(&key, serde_json::json!({"name": "x", "scopes": ["read"]}))
        .await;
    assert_eq!(forbidden.status(), 403);
    clock.advance(chrono::Duration::minutes(1));
    assert_eq!(app.me(&[("X-API-Key", &key)]).await.status(), 200);

    let query = format!("key_id={key_id}&granularity=minute");
    let body = flushed(&app, &query, |b| {
        b["data"]
            .as_array()
            .is_some_and(|d| d.len() == 2 && d[1]["requests"] == 1)
    })
    .await;
    assert_eq!(body["data"][0]["requests"], 4);
    assert_eq!(
        body["data"][0]["by_status"],
        serde_json::json!({"2xx": 3, "4xx": 1})
    );
    assert_eq!(body["data"][1]["by_status"], serde_json::json!({"2xx": 1}));
    let hourly: serde_json::Value = usage(&app, &format!("key_id={key_id}&granularity=hour"))
        .await
        .json()
        .await
        .unwrap();
    let total: i64 = hourly["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["requests"].as_i64().unwrap())
        .sum();
    assert_eq!(total, 5);
}

#[actix_rt::test]
async fn usage_queries_are_validated_and_kept_to_the_organization() {
    let app = TestApp::spawn().await;
    let key_id = app.operator_key("default", "read", None).id;
    let client = app.client_with_scope("read");
    assert_eq!(
        usage(&app, &format!("client_id={}", client.id))
            .await
            .status(),
        200
    );
    for bad in [
        format!("key_id={key_id}&client_id={}", client.id),
        "granularity=week".to_owned(),
        format!("key_id={key_id}&granularity=week"),
        format!("key_id={key_id}&from=2026-01-01T00:00:00Z&to=2026-03-01T00:00:00Z"),
        format!("key_id={key_id}&from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z"),
        format!("key_id={key_id}&from=yesterday"),
    ] {
        assert_api_error(usage(&app, &bad).await, 400, "invalid_request").await;
    }
    let other_admin = app.other_org_admin().key;
    let response = app
        .get(&format!("/v1/usage?key_id={key_id}"), &other_admin)
        .await;
    assert_api_error(response, 404, "not_found").await;
    assert_api_error(usage(&app, "key_id=key_nope").await, 404, "not_found").await;
    let reader = app.operator_key("default", "read", None).key;
    let response = app
        .get(&format!("/v1/usage?key_id={key_id}"), &reader)
        .await;
    assert_api_error(response, 403, "insufficient_scope").await;
}

#[actix_rt::test]
async fn the_organization_view_totals_its_requests_and_names_its_busiest_credentials() {
    let app = TestApp::spawn_with(|s| s.usage_flush_interval = Duration::from_secs(1)).await;
    let TestKey {
        id: busy_id,
        key: busy,
    } = app.operator_key("default", "read", None);
    let TestKey {
        id: quiet_id,
        key: quiet,
    } = app.operator_key("default", "read", None);
    for _ in 0..4 {
        assert_eq!(app.me(&[("X-API-Key", &busy)]).await.status(), 200);
    }
    assert_eq!(app.me(&[("X-API-Key", &quiet)]).await.status(), 200);
    // Another organization's traffic is not in this one's view.
    let other = app.other_org_admin().key;
    let mut other_id = String::new();
    for _ in 0..9 {
        let me: serde_json::Value = app.me(&[("X-API-Key", &other)]).await.json().await.unwrap();
        other_id = me["subject"].as_str().unwrap().to_owned();
    }
    let body = flushed(&app, "granularity=day", |b| {
        b["top"].as_array().is_some_and(|top| {
            top.iter()
                .any(|t| t["subject_id"] == busy_id.as_str() && t["requests"] == 4)
                && top.iter().any(|t| t["subject_id"] == quiet_id.as_str())
        })
    })
    .await;
    assert!(body["org_id"].as_str().unwrap().starts_with("org_"));
    let top = body["top"].as_array().unwrap();
    let requests: Vec<i64> = top
        .iter()
        .map(|t| t["requests"].as_i64().unwrap())
        .collect();
    assert!(
        requests.windows(2).all(|w| w[0] >= w[1]),
        "busiest first: {body}"
    );
    let busy = top
        .iter()
        .find(|t| t["subject_id"] == busy_id.as_str())
        .unwrap();
    assert_eq!(busy["kind"], "api_key");
    assert_eq!(busy["by_status"], serde_json::json!({"2xx": 4}));
    let total: i64 = body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["requests"].as_i64().unwrap())
        .sum();
    // The admin key's own usage queries count too; the other organization's do not.
    let listed: i64 = top.iter().map(|t| t["requests"].as_i64().unwrap()).sum();
    assert_eq!(total, listed, "{body}");
    assert_eq!(top.len(), 3, "the admin key, busy and quiet only: {body}");
    assert!(
        top.iter().all(|t| t["subject_id"] != other_id.as_str()),
        "another organization's requests leaked in: {body}"
    );
}
