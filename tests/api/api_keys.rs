//! `/v1/api-keys` over HTTP: shown once, masked afterwards, paginated, narrowed,
//! revoked, rotated with an overlap; bad input refused with the envelope; another
//! organization's keys invisible.

use std::sync::Arc;

use chrono::Utc;
use keygate::clock::ManualClock;
use reqwest::Method;
use serde_json::json;

use crate::helpers::{assert_api_error, TestApp, TestKey};

#[actix_rt::test]
async fn a_key_is_shown_once_then_only_masked() {
    let app = TestApp::spawn().await;
    let response = app
        .create_key_as(
            &app.admin_key,
            json!({"name": "deploy bot", "scopes": ["read", "write"], "environment": "test"}),
        )
        .await;
    assert_eq!(response.status(), 201);
    assert_eq!(
        crate::helpers::header(&response, "cache-control"),
        "no-store"
    );
    let created: serde_json::Value = response.json().await.unwrap();
    let key = created["key"].as_str().unwrap().to_owned();
    let id = created["id"].as_str().unwrap().to_owned();
    assert!(key.starts_with("kg_test_"), "{key}");
    assert_eq!(created["environment"], "test");
    assert_eq!(created["state"], "active");
    assert_eq!(created["scopes"], json!(["read", "write"]));
    let masked = format!("kg_test_…{}", &key[key.len() - 4..]);
    assert_eq!(created["masked"], masked.as_str());

    let shown = app
        .get_text(&format!("/v1/api-keys/{id}"), &app.admin_key)
        .await;
    let listed = app.get_text("/v1/api-keys", &app.admin_key).await;
    for text in [&shown, &listed] {
        assert!(text.contains(&masked), "{text}");
        assert!(!text.contains(&key), "the key is never shown again");
        assert!(!text.contains("key_hash"), "{text}");
    }
    assert_eq!(app.me(&[("X-API-Key", &key)]).await.status(), 200);
}

#[actix_rt::test]
async fn lists_are_paginated_with_a_cursor() {
    let app = TestApp::spawn().await;
    for _ in 0..4 {
        app.api_key("read").await;
    }
    // 5 keys: the bootstrap key and four more.
    let mut seen = Vec::new();
    let mut path = "/v1/api-keys?limit=2".to_owned();
    loop {
        let page: serde_json::Value = app.get_json(&path, &app.admin_key).await;
        let data = page["data"].as_array().unwrap();
        assert!(data.len() <= 2);
        seen.extend(data.iter().map(|k| k["id"].as_str().unwrap().to_owned()));
        match page["next_cursor"].as_str() {
            Some(cursor) => path = format!("/v1/api-keys?limit=2&after={cursor}"),
            None => break,
        }
    }
    assert_eq!(seen.len(), 5);
    let mut sorted = seen.clone();
    sorted.dedup();
    assert_eq!(sorted.len(), 5, "no key twice");
    for bad in [
        "limit=0",
        "limit=101",
        "limit=abc",
        "after=../x",
        "colour=red",
    ] {
        let response = app
            .get(&format!("/v1/api-keys?{bad}"), &app.admin_key)
            .await;
        assert_api_error(response, 400, "invalid_request").await;
    }
}

#[actix_rt::test]
async fn bad_create_requests_are_refused_and_create_nothing() {
    let app = TestApp::spawn().await;
    let reader_admin = app.api_key("read admin").await.key;
    for (body, field) in [
        (json!({"name": "", "scopes": ["read"]}), Some("name")),
        (json!({"name": "a\u{0}b", "scopes": ["read"]}), Some("name")),
        (
            json!({"name": "x".repeat(201), "scopes": ["read"]}),
            Some("name"),
        ),
        (json!({"name": "x", "scopes": []}), Some("scopes")),
        (json!({"name": "x", "scopes": ["billing"]}), Some("scopes")),
        (json!({"name": "x", "scopes": ["re\"ad"]}), Some("scopes")),
        (
            json!({"name": "x", "scopes": ["read"], "expires_in": "soon"}),
            Some("expires_in"),
        ),
        (
            json!({"name": "x", "scopes": ["read"], "expires_in": "1s"}),
            Some("expires_in"),
        ),
        (
            json!({"name": "x", "scopes": ["read"], "expires_in": 30}),
            Some("expires_in"),
        ),
        (
            json!({"name": "x", "scopes": ["read"], "expires_in": -5}),
            None,
        ),
        (
            json!({"name": "x", "scopes": ["read"], "expires_at": "2001-01-01T00:00:00Z"}),
            Some("expires_in"),
        ),
        (
            json!({"name": "x", "scopes": ["read"], "expires_at": "tomorrow"}),
            None,
        ),
        (
            json!({"name": "x", "scopes": ["read"], "expires_in": 3600,
                   "expires_at": "2099-01-01T00:00:00Z"}),
            Some("expires_at"),
        ),
        (
            json!({"name": "x", "scopes": ["read"], "environment": "prod"}),
            None,
        ),
        (
            json!({"name": "x", "scopes": ["read"], "admin": true}),
            None,
        ),
        (json!({"scopes": ["read"]}), None),
        (json!({"name": "x", "scopes": "read"}), None),
        (json!({"name": "x", "scopes": vec!["read"; 100_000]}), None),
    ] {
        let response = app.create_key_as(&app.admin_key, body.clone()).await;
        let status = response.status().as_u16();
        if status == 413 {
            assert_api_error(response, 413, "payload_too_large").await;
            continue;
        }
        let error = assert_api_error(response, 400, "invalid_request").await;
        if let Some(field) = field {
            assert_eq!(error["error"]["details"]["field"], field, "{body}");
        }
    }
    // A principal never hands out a scope it lacks.
    let response = app
        .create_key_as(
            &reader_admin,
            json!({"name": "x", "scopes": ["read", "write"]}),
        )
        .await;
    let error = assert_api_error(response, 400, "invalid_request").await;
    assert_eq!(error["error"]["details"]["field"], "scopes");

    let raw = |content_type: &'static str, body: Vec<u8>| {
        app.with_key(Method::POST, "/v1/api-keys", &app.admin_key)
            .header("Content-Type", content_type)
            .body(body)
            .send()
    };
    let response = raw("application/json", b"{\"name\": ".to_vec())
        .await
        .unwrap();
    assert_api_error(response, 400, "invalid_request").await;
    let response = raw(
        "application/json",
        b"{\"name\": \"\xff\xfe\", \"scopes\": [\"read\"]}".to_vec(),
    )
    .await
    .unwrap();
    assert_api_error(response, 400, "invalid_request").await;
    let response = raw("text/plain", b"name=x".to_vec()).await.unwrap();
    assert_api_error(response, 415, "unsupported_media_type").await;
    let response = raw("application/json", vec![b' '; 64 * 1024])
        .await
        .unwrap();
    assert_api_error(response, 413, "payload_too_large").await;

    let listed: serde_json::Value = app.get_json("/v1/api-keys", &app.admin_key).await;
    assert_eq!(
        listed["data"].as_array().unwrap().len(),
        2,
        "nothing was created"
    );
}

#[actix_rt::test]
async fn a_key_can_be_renamed_and_narrowed_but_never_widened() {
    let app = TestApp::spawn().await;
    let TestKey { id, key } = app.api_key("read write").await;
    let patch = |body: serde_json::Value| {
        app.with_key(Method::PATCH, &format!("/v1/api-keys/{id}"), &app.admin_key)
            .json(&body)
            .send()
    };
    let response = patch(json!({"name": "renamed", "scopes": ["read"]}))
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let updated: serde_json::Value = response.json().await.unwrap();
    assert_eq!(updated["name"], "renamed");
    assert_eq!(updated["scopes"], json!(["read"]));
    let me: serde_json::Value = app.me(&[("X-API-Key", &key)]).await.json().await.unwrap();
    assert_eq!(me["scopes"], json!(["read"]), "narrowed at once");

    let response = patch(json!({"scopes": ["read", "write"]})).await.unwrap();
    let error = assert_api_error(response, 400, "invalid_request").await;
    assert_eq!(error["error"]["details"]["field"], "scopes");
    let response = patch(json!({"scopes": []})).await.unwrap();
    assert_api_error(response, 400, "invalid_request").await;
    let response = patch(json!({"key_hash": "x"})).await.unwrap();
    assert_api_error(response, 400, "invalid_request").await;
}

#[actix_rt::test]
async fn rotation_keeps_the_old_key_for_the_overlap_only() {
    let clock = Arc::new(ManualClock::new(Utc::now()));
    let app = TestApp::spawn_with_clock(|_| {}, clock.clone()).await;
    let TestKey { id, key: old } = app.api_key("read webhook").await;
    let rotate = |body: Option<serde_json::Value>| {
        let request = app.with_key(
            Method::POST,
            &format!("/v1/api-keys/{id}/rotate"),
            &app.admin_key,
        );
        match body {
            Some(body) => request.json(&body).send(),
            None => request.send(),
        }
    };
    for bad in [
        json!({"overlap": "forever"}),
        json!({"overlap": "31d"}),
        json!({"x": 1}),
    ] {
        assert_api_error(rotate(Some(bad)).await.unwrap(), 400, "invalid_request").await;
    }
    let response = rotate(Some(json!({"overlap": "1h"}))).await.unwrap();
    assert_eq!(response.status(), 201);
    let rotated: serde_json::Value = response.json().await.unwrap();
    let new = rotated["key"].as_str().unwrap().to_owned();
    assert_ne!(new, old);
    assert_eq!(rotated["scopes"], json!(["read", "webhook"]));

    clock.advance(chrono::Duration::minutes(59));
    assert_eq!(
        app.me(&[("X-API-Key", &old)]).await.status(),
        200,
        "overlap"
    );
    assert_eq!(app.me(&[("X-API-Key", &new)]).await.status(), 200);
    clock.advance(chrono::Duration::minutes(2));
    assert_api_error(app.me(&[("X-API-Key", &old)]).await, 401, "expired_api_key").await;
    assert_eq!(app.me(&[("X-API-Key", &new)]).await.status(), 200);

    // A key is rotated once; its successor is what to rotate next.
    assert_api_error(rotate(None).await.unwrap(), 409, "conflict").await;
    let shown: serde_json::Value = app
        .get_json(&format!("/v1/api-keys/{id}"), &app.admin_key)
        .await;
    assert_eq!(shown["replaced_by"], rotated["id"]);
    assert_eq!(shown["state"], "expired");
}

#[actix_rt::test]
async fn rotation_without_overlap_ends_the_old_key_at_once() {
    let app = TestApp::spawn().await;
    let TestKey { id, key: old } = app.api_key("read").await;
    let response = app
        .send(
            Method::POST,
            &format!("/v1/api-keys/{id}/rotate"),
            &app.admin_key,
        )
        .await;
    assert_eq!(response.status(), 201);
    assert_api_error(app.me(&[("X-API-Key", &old)]).await, 401, "expired_api_key").await;
}

#[actix_rt::test]
async fn rotation_cannot_mint_scopes_the_caller_lacks() {
    let app = TestApp::spawn().await;
    let limited_admin = app.api_key("read admin").await.key;
    let id = app.api_key("read write").await.id;
    let response = app
        .send(
            Method::POST,
            &format!("/v1/api-keys/{id}/rotate"),
            &limited_admin,
        )
        .await;
    let error = assert_api_error(response, 403, "insufficient_scope").await;
    assert_eq!(error["error"]["details"]["required_scope"], "write");
}

#[actix_rt::test]
async fn last_used_is_recorded_at_most_once_a_minute() {
    let clock = Arc::new(ManualClock::new(Utc::now()));
    let app = TestApp::spawn_with_clock(|_| {}, clock.clone()).await;
    let TestKey { id, key } = app.api_key("read").await;
    let last_used = || async {
        let shown: serde_json::Value = app
            .get_json(&format!("/v1/api-keys/{id}"), &app.admin_key)
            .await;
        shown["last_used_at"].clone()
    };
    assert!(last_used().await.is_null());
    app.me(&[("X-API-Key", &key)]).await;
    let first = last_used().await;
    assert!(first.is_string());
    clock.advance(chrono::Duration::seconds(30));
    app.me(&[("X-API-Key", &key)]).await;
    assert_eq!(last_used().await, first, "coalesced");
    clock.advance(chrono::Duration::seconds(31));
    app.me(&[("X-API-Key", &key)]).await;
    assert_ne!(last_used().await, first);
}

#[actix_rt::test]
async fn another_organizations_keys_do_not_exist_for_the_caller() {
    let app = TestApp::spawn().await;
    let TestKey { id, key } = app.api_key("read").await;
    let other_admin = app.other_org_admin().key;
    for (method, path) in [
        (Method::GET, format!("/v1/api-keys/{id}")),
        (Method::PATCH, format!("/v1/api-keys/{id}")),
        (Method::DELETE, format!("/v1/api-keys/{id}")),
        (Method::POST, format!("/v1/api-keys/{id}/rotate")),
    ] {
        let mut request = app.with_key(method.clone(), &path, &other_admin);
        if method == Method::PATCH {
            request = request.json(&json!({"name": "mine now"}));
        }
        let response = request.send().await.unwrap();
        assert_api_error(response, 404, "not_found").await;
    }
    let listed = app.get_text("/v1/api-keys", &other_admin).await;
    assert!(!listed.contains(&id), "{listed}");
    assert_eq!(
        app.me(&[("X-API-Key", &key)]).await.status(),
        200,
        "untouched"
    );
    for path in [
        "/v1/api-keys/nope",
        "/v1/api-keys/key_00000000000000000000000000000000",
    ] {
        let response = app.get(path, &app.admin_key).await;
        assert_api_error(response, 404, "not_found").await;
    }
}

#[actix_rt::test]
async fn revoking_is_idempotent_and_unknown_methods_are_refused() {
    let app = TestApp::spawn().await;
    let id = app.api_key("read").await.id;
    for _ in 0..2 {
        let response = app
            .send(
                Method::DELETE,
                &format!("/v1/api-keys/{id}"),
                &app.admin_key,
            )
            .await;
        assert_eq!(response.status(), 200);
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["state"], "revoked");
    }
    let response = app.send(Method::PUT, "/v1/api-keys", &app.admin_key).await;
    assert_api_error(response, 405, "method_not_allowed").await;
}

#[actix_rt::test]
async fn expiry_is_given_in_seconds_as_a_duration_or_as_a_time() {
    let app = TestApp::spawn().await;
    let expiry = |body: serde_json::Value| {
        let app = &app;
        async move {
            let response = app.create_key_as(&app.admin_key, body).await;
            assert_eq!(response.status(), 201);
            let created: serde_json::Value = response.json().await.unwrap();
            chrono::DateTime::parse_from_rfc3339(created["expires_at"].as_str().unwrap())
                .unwrap()
                .timestamp()
        }
    };
    let now = chrono::Utc::now().timestamp();
    let in_seconds = expiry(json!({"name": "s", "scopes": ["read"], "expires_in": 3600})).await;
    let as_text = expiry(json!({"name": "t", "scopes": ["read"], "expires_in": "1h"})).await;
    assert!((in_seconds - now - 3600).abs() <= 5, "{in_seconds}");
    assert!((as_text - in_seconds).abs() <= 5);
    let at = chrono::Utc::now() + chrono::Duration::days(30);
    let absolute = expiry(json!({"name": "a", "scopes": ["read"], "expires_at": at})).await;
    assert_eq!(absolute, at.timestamp());
}
