//! `/v1/clients` over HTTP: register, list, get, update, disable, rotate the secret
//! with an overlap; bad input; another organization's clients invisible.

use std::sync::Arc;

use chrono::Utc;
use keygate::clock::ManualClock;
use reqwest::Method;
use serde_json::json;

use crate::helpers::{assert_api_error, db, TestApp, TestClient};

#[actix_rt::test]
async fn a_registered_client_gets_tokens_and_its_secret_is_shown_once() {
    let app = TestApp::spawn().await;
    let (client, created) = app
        .registered_client(
            json!({"name": "billing", "scopes": ["read", "write"], "default_scopes": ["read"],
               "grant_types": ["client_credentials", "refresh_token"], "access_token_ttl": "10m"}),
        )
        .await;
    assert!(client.id.starts_with("kgc_") && client.secret.starts_with("kgs_"));
    // One vocabulary: the view answers in the shape create and update take.
    assert_eq!(created["scopes"], json!(["read", "write"]));
    assert_eq!(created["default_scopes"], json!(["read"]));
    assert!(created.get("scope").is_none() && created.get("default_scope").is_none());
    assert_eq!(created["access_token_ttl_secs"], 600);
    let token = app.token_json(&client).await;
    assert_eq!(token["scope"], "read");
    assert_eq!(token["expires_in"], 600);
    assert!(token["refresh_token"].is_string());

    let shown = app
        .get_text(&format!("/v1/clients/{}", client.id), &app.admin_key)
        .await;
    let listed = app.get_text("/v1/clients", &app.admin_key).await;
    for text in [&shown, &listed] {
        assert!(text.contains(&client.id), "{text}");
        assert!(
            !text.contains(&client.secret) && !text.contains("argon2"),
            "{text}"
        );
    }
}

#[actix_rt::test]
async fn bad_registrations_name_the_field_and_create_nothing() {
    let app = TestApp::spawn().await;
    let reader_admin = app.api_key("read admin").await.key;
    for (body, field) in [
        (json!({"name": "", "scopes": ["read"]}), Some("name")),
        (json!({"name": "x", "scopes": []}), Some("scopes")),
        (json!({"name": "x", "scopes": ["billing"]}), Some("scopes")),
        (
            json!({"name": "x", "scopes": ["read"], "default_scopes": ["write"]}),
            Some("default_scopes"),
        ),
        (
            json!({"name": "x", "scopes": ["read"], "grant_types": ["password"]}),
            Some("grant_types"),
        ),
        (
            json!({"name": "x", "scopes": ["read"], "grant_types": ["refresh_token"]}),
            Some("grant_types"),
        ),
        (
            json!({"name": "x", "scopes": ["read"], "audience": "not a uri"}),
            Some("audience"),
        ),
        (
            json!({"name": "x", "scopes": ["read"], "access_token_ttl": "2d"}),
            Some("access_token_ttl"),
        ),
        (
            json!({"name": "x", "scopes": ["read"], "access_token_ttl": "soon"}),
            Some("access_token_ttl"),
        ),
        (
            json!({"name": "x", "scopes": ["read"], "refresh_reuse_grace": "1h"}),
            Some("refresh_reuse_grace"),
        ),
        (
            json!({"name": "x", "scopes": ["read"], "client_secret": "mine"}),
            None,
        ),
        (json!({"scopes": ["read"]}), None),
    ] {
        let response = app.post_json("/v1/clients", &app.admin_key, &body).await;
        let error = assert_api_error(response, 400, "invalid_request").await;
        if let Some(field) = field {
            assert_eq!(error["error"]["details"]["field"], field, "{body}");
        }
    }
    let response = app
        .post_json(
            "/v1/clients",
            &reader_admin,
            &json!({"name": "x", "scopes": ["write"]}),
        )
        .await;
    let error = assert_api_error(response, 400, "invalid_request").await;
    assert_eq!(error["error"]["details"]["field"], "scopes");
    let reader = app.api_key("read").await.key;
    let response = app
        .post_json(
            "/v1/clients",
            &reader,
            &json!({"name": "x", "scopes": ["read"]}),
        )
        .await;
    assert_api_error(response, 403, "insufficient_scope").await;
    let response = app
        .http
        .post(app.url("/v1/clients"))
        .json(&json!({"name": "x", "scopes": ["read"]}))
        .send()
        .await
        .unwrap();
    assert_api_error(response, 401, "missing_credentials").await;
    let response = app
        .with_key(Method::POST, "/v1/clients", &app.admin_key)
        .header("Content-Type", "application/json")
        .body(vec![b' '; 64 * 1024])
        .send()
        .await
        .unwrap();
    assert_api_error(response, 413, "payload_too_large").await;

    let listed: serde_json::Value = app.get_json("/v1/clients", &app.admin_key).await;
    assert_eq!(listed["data"], json!([]), "nothing was created");
}

#[actix_rt::test]
async fn updates_are_validated_as_a_whole_and_apply_to_the_next_token() {
    let app = TestApp::spawn().await;
    let (client, _) = app
        .registered_client(json!({"name": "svc", "scopes": ["read", "write"]}))
        .await;
    let patch = |body: serde_json::Value| {
        app.with_key(
            Method::PATCH,
            &format!("/v1/clients/{}", client.id),
            &app.admin_key,
        )
        .json(&body)
        .send()
    };
    let response = patch(
        json!({"name": "renamed", "scopes": ["read"], "default_scopes": ["read"],
                                "audience": "https://api.example.com"}),
    )
    .await
    .unwrap();
    assert_eq!(response.status(), 200);
    let updated: serde_json::Value = response.json().await.unwrap();
    assert_eq!(updated["name"], "renamed");
    assert_eq!(updated["scopes"], json!(["read"]));
    assert_eq!(updated["audience"], "https://api.example.com");
    let token = app.token_json(&client).await;
    assert_eq!(token["scope"], "read");
    let response = patch(json!({"audience": null})).await.unwrap();
    let updated: serde_json::Value = response.json().await.unwrap();
    assert!(updated["audience"].is_null(), "{updated}");
    // The default scope must stay within the scopes: checked on the merged result.
    let response = patch(json!({"default_scopes": ["write"]})).await.unwrap();
    let error = assert_api_error(response, 400, "invalid_request").await;
    assert_eq!(error["error"]["details"]["field"], "default_scopes");
    let response = patch(json!({"secret_hash": "x"})).await.unwrap();
    assert_api_error(response, 400, "invalid_request").await;
}

#[actix_rt::test]
async fn a_rotated_secret_overlaps_then_the_old_one_dies() {
    let clock = Arc::new(ManualClock::new(Utc::now()));
    let app = TestApp::spawn_with_clock(|_| {}, clock.clone()).await;
    let (old, _) = app
        .registered_client(json!({"name": "svc", "scopes": ["read"]}))
        .await;
    let rotate = |body: serde_json::Value| {
        app.with_key(
            Method::POST,
            &format!("/v1/clients/{}/rotate-secret", old.id),
            &app.admin_key,
        )
        .json(&body)
        .send()
    };
    for bad in [
        json!({"overlap": "forever"}),
        json!({"overlap": "31d"}),
        json!({"x": 1}),
    ] {
        assert_api_error(rotate(bad).await.unwrap(), 400, "invalid_request").await;
    }
    // The old secret is in the verified cache: the overlap must still end it.
    assert_eq!(
        app.token_basic(&old, &[("grant_type", "client_credentials")])
            .await
            .status(),
        200
    );
    let response = rotate(json!({"overlap": "1h"})).await.unwrap();
    assert_eq!(response.status(), 200);
    let rotated: serde_json::Value = response.json().await.unwrap();
    let new = old.with_secret(rotated["client_secret"].as_str().unwrap());
    assert_ne!(new.secret, old.secret);
    assert!(rotated["previous_secret_expires_at"].is_string());
    let status = |client: TestClient| {
        let app = &app;
        async move {
            app.token_basic(&client, &[("grant_type", "client_credentials")])
                .await
                .status()
                .as_u16()
        }
    };
    clock.advance(chrono::Duration::minutes(59));
    assert_eq!(status(old.clone()).await, 200, "within the overlap");
    assert_eq!(status(new.clone()).await, 200);
    clock.advance(chrono::Duration::minutes(2));
    assert_eq!(status(old.clone()).await, 401, "after the overlap");
    assert_eq!(status(new.clone()).await, 200);

    // Without an overlap the old secret stops at once.
    let response = rotate(json!({})).await.unwrap();
    let newest: serde_json::Value = response.json().await.unwrap();
    assert_eq!(status(new).await, 401);
    let newest = old.with_secret(newest["client_secret"].as_str().unwrap());
    assert_eq!(status(newest).await, 200);
}

#[actix_rt::test]
async fn a_disabled_client_stops_at_once_and_cannot_be_changed() {
    let app = TestApp::spawn().await;
    let (client, _) = app.registered_client(json!({"name": "svc", "scopes": ["read"], "grant_types": ["client_credentials", "refresh_token"]}),
    )
    .await;
    let (_, refresh_token) = app.first_tokens(&client).await;
    for _ in 0..2 {
        let response = app
            .send(
                Method::POST,
                &format!("/v1/clients/{}/disable", client.id),
                &app.admin_key,
            )
            .await;
        assert_eq!(response.status(), 200);
        let body: serde_json::Value = response.json().await.unwrap();
        assert!(body["disabled_at"].is_string());
    }
    let response = app
        .token_basic(&client, &[("grant_type", "client_credentials")])
        .await;
    assert_eq!(response.status(), 401);
    let response = app
        .patch_json(
            &format!("/v1/clients/{}", client.id),
            &app.admin_key,
            &json!({"name": "back"}),
        )
        .await;
    assert_api_error(response, 409, "conflict").await;
    let response = app
        .send(
            Method::POST,
            &format!("/v1/clients/{}/rotate-secret", client.id),
            &app.admin_key,
        )
        .await;
    assert_api_error(response, 409, "conflict").await;
    // Its refresh families were revoked with it (introspection would need the
    // disabled client itself; the family row says so).
    assert!(db::family_of(&app.store, &refresh_token)
        .revoked_at
        .is_some());
}

#[actix_rt::test]
async fn another_organizations_clients_do_not_exist_for_the_caller() {
    let app = TestApp::spawn().await;
    let (client, _) = app
        .registered_client(json!({"name": "svc", "scopes": ["read"]}))
        .await;
    let other_admin = app.other_org_admin().key;
    for (method, path) in [
        (Method::GET, format!("/v1/clients/{}", client.id)),
        (Method::PATCH, format!("/v1/clients/{}", client.id)),
        (Method::POST, format!("/v1/clients/{}/disable", client.id)),
        (
            Method::POST,
            format!("/v1/clients/{}/rotate-secret", client.id),
        ),
    ] {
        let mut request = app.with_key(method.clone(), &path, &other_admin);
        if method == Method::PATCH {
            request = request.json(&json!({"name": "mine"}));
        }
        assert_api_error(request.send().await.unwrap(), 404, "not_found").await;
    }
    let listed = app.get_text("/v1/clients", &other_admin).await;
    assert!(!listed.contains(&client.id), "{listed}");
    assert_eq!(
        app.token_basic(&client, &[("grant_type", "client_credentials")])
            .await
            .status(),
        200,
        "untouched"
    );
}

#[actix_rt::test]
async fn client_lists_are_paginated() {
    let app = TestApp::spawn().await;
    for i in 0..3 {
        app.registered_client(json!({"name": format!("svc {i}"), "scopes": ["read"]}))
            .await;
    }
    let first: serde_json::Value = app.get_json("/v1/clients?limit=2", &app.admin_key).await;
    assert_eq!(first["data"].as_array().unwrap().len(), 2);
    let cursor = first["next_cursor"].as_str().unwrap();
    let second: serde_json::Value = app
        .get_json(
            &format!("/v1/clients?limit=2&after={cursor}"),
            &app.admin_key,
        )
        .await;
    assert_eq!(second["data"].as_array().unwrap().len(), 1);
    assert!(second["next_cursor"].is_null());
    assert_eq!(second["data"][0]["name"], "svc 2", "creation order");
    for bad in ["limit=0", "after=x", "limit=-1"] {
        let response = app.get(&format!("/v1/clients?{bad}"), &app.admin_key).await;
        assert_api_error(response, 400, "invalid_request").await;
    }
}

#[actix_rt::test]
async fn a_narrower_admin_cannot_take_over_a_wider_client() {
    let app = TestApp::spawn().await;
    let (client, _) = app
        .registered_client(json!({"name": "svc", "scopes": ["read", "write", "admin"]}))
        .await;
    let narrow_admin = app.api_key("read admin").await.key;
    let response = app
        .send(
            Method::POST,
            &format!("/v1/clients/{}/rotate-secret", client.id),
            &narrow_admin,
        )
        .await;
    let error = assert_api_error(response, 403, "insufficient_scope").await;
    assert_eq!(error["error"]["details"]["required_scope"], "write");
    assert_eq!(
        app.token_basic(&client, &[("grant_type", "client_credentials")])
            .await
            .status(),
        200,
        "the secret was not replaced"
    );
}

#[actix_rt::test]
async fn narrowing_the_scopes_narrows_the_default_with_them() {
    let app = TestApp::spawn().await;
    let (client, _) = app
        .registered_client(json!({"name": "svc", "scopes": ["read", "write"]}))
        .await;
    let response = app
        .patch_json(
            &format!("/v1/clients/{}", client.id),
            &app.admin_key,
            &json!({"scopes": ["read"]}),
        )
        .await;
    assert_eq!(response.status(), 200);
    let updated: serde_json::Value = response.json().await.unwrap();
    assert_eq!(updated["scopes"], json!(["read"]));
    assert_eq!(updated["default_scopes"], json!(["read"]));
    assert_eq!(app.token_json(&client).await["scope"], "read");
    // What the view answers, sent back as an update, is taken as it is.
    let round_trip = json!({
        "name": updated["name"],
        "scopes": updated["scopes"],
        "default_scopes": updated["default_scopes"],
        "grant_types": updated["grant_types"],
        "audiences": updated["audiences"],
        "token_endpoint_auth_method": updated["token_endpoint_auth_method"],
    });
    let response = app
        .with_key(
            Method::PATCH,
            &format!("/v1/clients/{}", client.id),
            &app.admin_key,
        )
        .json(&round_trip)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let again: serde_json::Value = response.json().await.unwrap();
    assert_eq!(again["scopes"], updated["scopes"]);
    assert_eq!(again["default_scopes"], updated["default_scopes"]);
}
