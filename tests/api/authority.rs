//! A credential never mints one stronger than itself: every key, client and client
//! secret made or rotated through the API lives no longer, holds no scope and no rate
//! allowance beyond the credential that made it — through every route.

use std::sync::Arc;

use chrono::Utc;
use keygate::clock::ManualClock;
use serde_json::{json, Value};

use crate::helpers::{
    assert_api_error, assert_oauth_error, created, TestApp, TestClient, TestKey, ISSUER,
};

fn timestamp(value: &Value) -> i64 {
    chrono::DateTime::parse_from_rfc3339(value.as_str().unwrap())
        .unwrap()
        .timestamp()
}

#[actix_rt::test]
async fn a_short_lived_key_mints_nothing_that_outlives_it() {
    let clock = Arc::new(ManualClock::new(Utc::now()));
    let app = TestApp::spawn_with_clock(|_| {}, clock.clone()).await;
    let short = created(
        app.post_json(
            "/v1/api-keys",
            &app.admin_key,
            &json!({"name": "short", "scopes": ["read", "write", "admin"], "expires_in": "2m"}),
        )
        .await,
    )
    .await;
    let (short_key, short_expiry) = (
        short["key"].as_str().unwrap().to_owned(),
        timestamp(&short["expires_at"]),
    );

    // 1. Rotating a permanent key would mint a permanent successor: refused.
    let permanent = app.api_key("read").await.id;
    let response = app
        .post_json(
            &format!("/v1/api-keys/{permanent}/rotate"),
            &short_key,
            &json!({}),
        )
        .await;
    assert_api_error(response, 403, "exceeds_authority").await;

    // 2. A management client it registers has a secret that dies with the key, and
    //    the keys that client's tokens mint die then too.
    let client = created(
        app.post_json("/v1/clients", &short_key, &json!({"name": "escape", "scopes": ["read", "admin"], "audience": format!("{ISSUER}/v1")}))
        .await,
    )
    .await;
    assert_eq!(timestamp(&client["secret_expires_at"]), short_expiry);
    let escape = TestClient::from_created(&client);
    let token = app.access_token(&escape).await;
    let minted = created(
        app.http
            .post(app.url("/v1/api-keys"))
            .header("Authorization", format!("Bearer {token}"))
            .json(&json!({"name": "forever?", "scopes": ["read"]}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(timestamp(&minted["expires_at"]), short_expiry);

    // 3. A permanent client's secret cannot be rotated by it.
    let permanent_client = app.client_with_scope("read");
    let response = app
        .post_json(
            &format!("/v1/clients/{}/rotate-secret", permanent_client.id),
            &short_key,
            &json!({}),
        )
        .await;
    assert_api_error(response, 403, "exceeds_authority").await;

    // 4. RFC 7591: the registered client's secret expires with the key.
    let response = app
        .register_as(
            Some(&short_key),
            &json!({"client_name": "dynamic", "scope": "read"}),
        )
        .await;
    let registered = created(response).await;
    assert_eq!(registered["client_secret_expires_at"], short_expiry);
    let dynamic = TestClient::from_created(&registered);

    // Once the key has expired, so has everything it made.
    clock.advance(chrono::Duration::minutes(3));
    let grant = [("grant_type", "client_credentials")];
    for client in [&escape, &dynamic] {
        let response = app.token_basic(client, &grant).await;
        assert_oauth_error(response, 401, "invalid_client").await;
    }
    let response = app
        .me(&[("X-API-Key", minted["key"].as_str().unwrap())])
        .await;
    assert_api_error(response, 401, "expired_api_key").await;
}

#[actix_rt::test]
async fn a_rate_limited_key_mints_nothing_looser() {
    let app = TestApp::spawn().await;
    let limited = app.operator_key("default", "read admin", Some(30)).key;

    // RFC 7591: the registered client gets the caller's limit.
    let response = app
        .register_as(
            Some(&limited),
            &json!({"client_name": "dynamic", "scope": "read"}),
        )
        .await;
    let registered = created(response).await;
    let client: Value = app
        .get_json(
            &format!("/v1/clients/{}", registered["client_id"].as_str().unwrap()),
            &app.admin_key,
        )
        .await;
    assert_eq!(client["rate_limit_per_minute"], 30, "{client}");

    // Rotating an unlimited key or an unlimited client's secret: refused.
    let unlimited = app.api_key("read").await.id;
    let response = app
        .post_json(
            &format!("/v1/api-keys/{unlimited}/rotate"),
            &limited,
            &json!({}),
        )
        .await;
    assert_api_error(response, 403, "exceeds_authority").await;
    let unlimited_client = app.client_with_scope("read");
    let response = app
        .post_json(
            &format!("/v1/clients/{}/rotate-secret", unlimited_client.id),
            &limited,
            &json!({}),
        )
        .await;
    assert_api_error(response, 403, "exceeds_authority").await;
    // The old secret still works: nothing was rotated.
    let grant = [("grant_type", "client_credentials")];
    assert_eq!(
        app.token_basic(&unlimited_client, &grant).await.status(),
        200
    );
    // What it could have made itself, it may rotate: its own successor inherits its limit.
    let TestKey {
        id: own,
        key: own_key,
    } = app.operator_key("default", "read admin", Some(30));
    let rotated = created(
        app.post_json(&format!("/v1/api-keys/{own}/rotate"), &own_key, &json!({}))
            .await,
    )
    .await;
    assert_eq!(rotated["rate_limit_per_minute"], 30);
}
