//! The identity resolver over HTTP (`GET /v1/me`): every credential form, every error
//! code with its status and challenge, and API keys in introspection.

use std::sync::Arc;

use chrono::Utc;
use keygate::api_keys::format::{generate, Environment};
use keygate::clock::ManualClock;
use reqwest::Method;

use crate::helpers::jwt::{encode_segment, segment, with_claims};
use crate::helpers::{assert_api_error, TestApp, TestKey};

#[actix_rt::test]
async fn an_api_key_resolves_in_either_header() {
    let app = TestApp::spawn().await;
    let TestKey { id, key } = app.api_key("read webhook").await;
    for headers in [
        vec![("X-API-Key", key.clone())],
        vec![("Authorization", format!("Bearer {key}"))],
        vec![("Authorization", format!("bearer {key}"))],
        // The same key in both headers is one credential.
        vec![
            ("Authorization", format!("Bearer {key}")),
            ("X-API-Key", key.clone()),
        ],
    ] {
        let headers: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
        let response = app.me(&headers).await;
        assert_eq!(response.status(), 200);
        let me: serde_json::Value = response.json().await.unwrap();
        assert_eq!(me["credential_kind"], "api_key");
        assert_eq!(me["key_id"], id.as_str());
        assert_eq!(me["subject"], id.as_str());
        assert_eq!(me["scopes"], serde_json::json!(["read", "webhook"]));
        assert!(me["org_id"].as_str().unwrap().starts_with("org_"));
        assert!(me["expires_at"].is_null());
        assert!(me.get("client_id").is_none());
    }
}

#[actix_rt::test]
async fn an_access_token_resolves_to_its_client() {
    let app = TestApp::spawn().await;
    let client = app.management_client("read write");
    let token = app.access_token(&client).await;
    let response = app
        .me(&[("Authorization", &format!("Bearer {token}"))])
        .await;
    assert_eq!(response.status(), 200);
    let me: serde_json::Value = response.json().await.unwrap();
    assert_eq!(me["credential_kind"], "access_token");
    assert_eq!(me["client_id"], client.id.as_str());
    assert_eq!(me["subject"], client.id.as_str());
    assert_eq!(me["scopes"], serde_json::json!(["read", "write"]));
    assert!(me["expires_at"].is_string());
    // An access token is not an API key.
    let response = app.me(&[("X-API-Key", &token)]).await;
    assert_api_error(response, 401, "invalid_format").await;
}

#[actix_rt::test]
async fn missing_and_malformed_credentials_are_told_apart() {
    let app = TestApp::spawn().await;
    assert_api_error(app.me(&[]).await, 401, "missing_credentials").await;
    // Another scheme carries no credential the API takes: a bare Bearer challenge.
    let basic = app.me(&[("Authorization", "Basic Zm9vOmJhcg==")]).await;
    assert_api_error(basic, 401, "missing_credentials").await;
    let key = generate(Environment::Live).unwrap().expose().to_owned();
    let mut typo = key.clone().into_bytes();
    typo[20] = if typo[20] == b'A' { b'B' } else { b'A' };
    let typo = String::from_utf8(typo).unwrap();
    let oversize = format!("Bearer {}.b.c", "a".repeat(10_000));
    let truncated = key[..key.len() - 1].to_owned();
    for headers in [
        vec![("X-API-Key", typo.as_str())],
        vec![("X-API-Key", truncated.as_str())],
        vec![("X-API-Key", "kg_live_")],
        vec![("Authorization", "Bearer")],
        vec![("Authorization", "Bearer not a token")],
        vec![("Authorization", "Bearer opaque-garbage")],
        vec![("Authorization", oversize.as_str())],
    ] {
        let body = assert_api_error(app.me(&headers).await, 401, "invalid_format").await;
        assert!(
            !body.to_string().contains(&typo),
            "the credential is not echoed"
        );
    }
    // Non-ASCII bytes in the header.
    let response = app
        .http
        .get(app.url("/v1/me"))
        .header(
            "X-API-Key",
            reqwest::header::HeaderValue::from_bytes(b"kg_live_\xff\xfe").unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert_api_error(response, 401, "invalid_format").await;
}

#[actix_rt::test]
async fn conflicting_or_repeated_credentials_are_a_bad_request() {
    let app = TestApp::spawn().await;
    let a = app.api_key("read").await.key;
    let b = app.api_key("read").await.key;
    let response = app
        .me(&[("Authorization", &format!("Bearer {a}")), ("X-API-Key", &b)])
        .await;
    assert_api_error(response, 400, "invalid_request").await;
    let response = app.me(&[("X-API-Key", &a), ("X-API-Key", &a)]).await;
    assert_api_error(response, 400, "invalid_request").await;
}

#[actix_rt::test]
async fn an_unknown_well_formed_key_is_invalid_and_says_nothing_more() {
    let app = TestApp::spawn().await;
    let stranger = generate(Environment::Test).unwrap().expose().to_owned();
    let body = assert_api_error(
        app.me(&[("X-API-Key", &stranger)]).await,
        401,
        "invalid_api_key",
    )
    .await;
    assert_eq!(body["error"]["details"], serde_json::json!({}));
}

#[actix_rt::test]
async fn a_revoked_key_stops_working_on_the_next_request() {
    let app = TestApp::spawn().await;
    let TestKey { id, key } = app.api_key("read").await;
    assert_eq!(app.me(&[("X-API-Key", &key)]).await.status(), 200);
    let response = app
        .send(
            Method::DELETE,
            &format!("/v1/api-keys/{id}"),
            &app.admin_key,
        )
        .await;
    assert_eq!(response.status(), 200);
    assert_api_error(app.me(&[("X-API-Key", &key)]).await, 401, "revoked_api_key").await;
}

#[actix_rt::test]
async fn an_expired_key_says_when() {
    let clock = Arc::new(ManualClock::new(Utc::now()));
    let app = TestApp::spawn_with_clock(|_| {}, clock.clone()).await;
    let response = app
        .create_key_as(
            &app.admin_key,
            serde_json::json!({"name": "short", "scopes": ["read"], "expires_in": "1h"}),
        )
        .await;
    assert_eq!(response.status(), 201);
    let created: serde_json::Value = response.json().await.unwrap();
    let key = created["key"].as_str().unwrap();
    clock.advance(chrono::Duration::minutes(59));
    assert_eq!(app.me(&[("X-API-Key", key)]).await.status(), 200);
    clock.advance(chrono::Duration::minutes(2));
    let body = assert_api_error(app.me(&[("X-API-Key", key)]).await, 401, "expired_api_key").await;
    assert_eq!(
        body["error"]["details"]["expired_at"],
        created["expires_at"]
    );
}

#[actix_rt::test]
async fn forged_foreign_and_expired_tokens_are_refused() {
    let clock = Arc::new(ManualClock::new(Utc::now()));
    let app = TestApp::spawn_with_clock(|_| {}, clock.clone()).await;
    let client = app.management_client("read admin");
    let token = app.access_token(&client).await;
    let parts: Vec<&str> = token.split('.').collect();
    let (header, mut claims) = (segment(&token, 0), segment(&token, 1));

    let mut none_header = header.clone();
    none_header["alg"] = "none".into();
    // HMAC keyed with the published public key (the classic algorithm confusion).
    let jwks = app.public_text("/.well-known/jwks.json").await;
    let mut hmac_header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    hmac_header.kid = header["kid"].as_str().map(str::to_owned);
    hmac_header.typ = Some("at+jwt".into());
    let hmac = jsonwebtoken::encode(
        &hmac_header,
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(jwks.as_bytes()),
    )
    .unwrap();
    let mut escalated = claims.clone();
    escalated["scope"] = "read admin write webhook".into();
    let forged = [
        format!("{}.{}.", encode_segment(&none_header), parts[1]),
        hmac,
        with_claims(&token, &escalated),
        format!("{}.{}.{}", parts[0], parts[1], "AAAA"),
    ];
    for forged in &forged {
        let response = app
            .me(&[("Authorization", &format!("Bearer {forged}"))])
            .await;
        assert_api_error(response, 401, "invalid_token").await;
    }
    // Revoked through RFC 7009: refused at once.
    app.revoke(&client, &token, None).await;
    let response = app
        .me(&[("Authorization", &format!("Bearer {token}"))])
        .await;
    let body = assert_api_error(response, 401, "invalid_token").await;
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("revoked"));

    // Expired — said only because the signature verified.
    let fresh = app.access_token(&client).await;
    clock.advance(chrono::Duration::hours(2));
    let response = app
        .me(&[("Authorization", &format!("Bearer {fresh}"))])
        .await;
    assert_api_error(response, 401, "expired_token").await;
    // An expired forgery is invalid, not expired.
    claims["exp"] = 1.into();
    let forged = with_claims(&token, &claims);
    let response = app
        .me(&[("Authorization", &format!("Bearer {forged}"))])
        .await;
    assert_api_error(response, 401, "invalid_token").await;
}

#[actix_rt::test]
async fn me_describes_a_token_of_any_audience_but_only_management_tokens_manage_keygate() {
    let app = TestApp::spawn().await;
    let billing = app.client(keygate::clients::ClientRegistration {
        name: "billing api client".into(),
        scope: "read admin".into(),
        audience: Some("https://billing.example".into()),
        ..Default::default()
    });
    // Default audience (the platform's API) and another resource's: /v1/me describes
    // both — the quick start's first call — but neither manages keygate, admin or not.
    for client in [app.client_with_scope("read admin"), billing] {
        let token = app.access_token(&client).await;
        let bearer = format!("Bearer {token}");
        let me = app.me(&[("Authorization", &bearer)]).await;
        assert_eq!(me.status(), 200);
        let me: serde_json::Value = me.json().await.unwrap();
        assert_eq!(me["client_id"], client.id.as_str());
        assert_eq!(me["credential_kind"], "access_token");
        let response = app
            .http
            .get(app.url("/v1/api-keys"))
            .header("Authorization", &bearer)
            .send()
            .await
            .unwrap();
        let body = assert_api_error(response, 401, "invalid_token").await;
        assert!(body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("audience"));
    }
    let manager = app.management_client("read admin");
    let token = app.access_token(&manager).await;
    let listed = app
        .http
        .get(app.url("/v1/api-keys"))
        .header("Authorization", format!("Bearer {token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(listed.status(), 200);
}

#[actix_rt::test]
async fn a_disabled_clients_tokens_stop_at_once() {
    let app = TestApp::spawn().await;
    let client = app.management_client("read admin");
    let token = app.access_token(&client).await;
    let bearer = format!("Bearer {token}");
    assert_eq!(app.me(&[("Authorization", &bearer)]).await.status(), 200);
    app.disable(&client);
    let body = assert_api_error(
        app.me(&[("Authorization", &bearer)]).await,
        401,
        "invalid_token",
    )
    .await;
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("disabled"));
}

#[actix_rt::test]
async fn a_missing_scope_is_403_with_the_scope_named() {
    let app = TestApp::spawn().await;
    let reader = app.api_key("read").await.key;
    let response = app
        .create_key_as(
            &reader,
            serde_json::json!({"name": "x", "scopes": ["read"]}),
        )
        .await;
    let www = crate::helpers::header(&response, "www-authenticate");
    assert!(www.contains("scope=\"admin\""), "{www}");
    let body = assert_api_error(response, 403, "insufficient_scope").await;
    assert_eq!(body["error"]["details"]["required_scope"], "admin");
}

#[actix_rt::test]
async fn introspection_describes_api_keys_of_the_callers_organization() {
    let app = TestApp::spawn().await;
    let client = app.client_with_scope("read");
    let TestKey { id, key } = app.api_key("read write").await;
    let described = app.introspect(&client, &key, None).await;
    assert_eq!(described["active"], true, "{described}");
    assert_eq!(described["token_type"], "Bearer");
    assert_eq!(described["credential_kind"], "api_key");
    assert!(
        described["iat"].as_i64().unwrap() > 1_700_000_000,
        "{described}"
    );
    assert_eq!(described["key_id"], id.as_str());
    assert_eq!(described["scope"], "read write");
    assert!(described["org"].as_str().unwrap().starts_with("org_"));
    assert!(described.get("exp").is_none(), "no expiry");

    let mut typo = key.clone().into_bytes();
    typo[30] = if typo[30] == b'x' { b'y' } else { b'x' };
    let stranger = generate(Environment::Live).unwrap().expose().to_owned();
    let other_org_key = app.other_org_admin().key;
    for token in [String::from_utf8(typo).unwrap(), stranger, other_org_key] {
        assert_eq!(
            app.introspect(&client, &token, None).await,
            serde_json::json!({"active": false})
        );
    }
    app.send(
        Method::DELETE,
        &format!("/v1/api-keys/{id}"),
        &app.admin_key,
    )
    .await;
    assert_eq!(
        app.introspect(&client, &key, None).await,
        serde_json::json!({"active": false})
    );
}
