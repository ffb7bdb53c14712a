//! Usage metering over HTTP: counts per key, minute and status class match the
//! requests made; `GET /v1/usage` aggregates them for the caller's organization only.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use keygate::clock::ManualClock;

use crate::helpers::{assert_api_error, assert_oauth_error, eventually, TestApp, TestKey};

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

/// The token endpoint is metered per client — tokens issued, refusals by reason — in
/// the client's view and the organization's, without a database write per request
/// (the counts appear with the periodic flush).
#[actix_rt::test]
async fn token_issuance_is_metered_per_client_issued_and_refused_by_reason() {
    let app = TestApp::spawn_with(|s| {
        s.usage_flush_interval = Duration::from_secs(1);
        s.auth_failures_per_minute = 2;
        s.auth_failures_per_minute_per_source = 1000;
    })
    .await;
    let issuing = app.client_with_scope("read");
    for _ in 0..3 {
        app.token_json(&issuing).await;
    }
    let refused = [
        (vec![("scope", "admin")], "invalid_scope"),
        (
            vec![("resource", "https://elsewhere.example")],
            "invalid_target",
        ),
    ];
    for (extra, code) in refused {
        let mut form = vec![("grant_type", "client_credentials")];
        form.extend(extra);
        assert_oauth_error(app.token_basic(&issuing, &form).await, 400, code).await;
    }
    let wrong = |id: &str| crate::helpers::TestClient {
        id: id.to_owned(),
        secret: "kgs_wrong".to_owned(),
    };
    let form = [("grant_type", "client_credentials")];
    assert_oauth_error(
        app.token_basic(&wrong(&issuing.id), &form).await,
        401,
        "invalid_client",
    )
    .await;
    // A guessed client: two failures, then the throttle.
    let guessed = app.client_with_scope("read");
    for status in [401, 401, 429] {
        let response = app.token_basic(&wrong(&guessed.id), &form).await;
        assert_eq!(response.status(), status);
    }
    // A client id that names no client is metered nowhere.
    let unknown = wrong(&format!("kgc_{}", "0".repeat(32)));
    assert_eq!(app.token_basic(&unknown, &form).await.status(), 401);

    let body = flushed(
        &app,
        &format!("client_id={}&granularity=day", issuing.id),
        |b| b["data"][0]["tokens"]["refused"] == 3,
    )
    .await;
    let period = &body["data"][0];
    assert_eq!(period["requests"], 0, "no request to keygate's API: {body}");
    assert_eq!(
        period["tokens"],
        serde_json::json!({
            "issued": 3,
            "refused": 3,
            "refused_by_reason": {"invalid_client": 1, "invalid_scope": 1, "invalid_target": 1},
        })
    );
    let body = flushed(
        &app,
        &format!("client_id={}&granularity=day", guessed.id),
        |b| b["data"][0]["tokens"]["refused"] == 3,
    )
    .await;
    assert_eq!(
        body["data"][0]["tokens"]["refused_by_reason"],
        serde_json::json!({"invalid_client": 2, "rate_limit_exceeded": 1})
    );

    let org = flushed(&app, "granularity=day", |b| {
        b["data"][0]["tokens"]["refused"] == 6
    })
    .await;
    assert_eq!(org["data"][0]["tokens"]["issued"], 3, "{org}");
    let top = org["top"].as_array().unwrap();
    let listed = top
        .iter()
        .find(|t| t["subject_id"] == issuing.id.as_str())
        .unwrap_or_else(|| panic!("the issuing client is among the busiest: {org}"));
    assert_eq!(listed["kind"], "client");
    assert_eq!(listed["requests"], 0);
    assert_eq!(listed["tokens"]["issued"], 3);
    // A key's entry carries the same shape, all zero.
    let key = top.iter().find(|t| t["kind"] == "api_key").unwrap();
    assert_eq!(key["tokens"]["issued"], 0);
}
