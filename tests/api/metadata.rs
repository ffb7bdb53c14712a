//! RFC 8414 metadata, the JWKS, health and unknown routes.

use crate::helpers::{header, TestApp, ISSUER};

#[actix_web::test]
async fn metadata_describes_the_token_endpoint() {
    let app = TestApp::spawn().await;
    let response = app
        .http
        .get(app.url("/.well-known/oauth-authorization-server"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let doc: serde_json::Value = response.json().await.unwrap();
    assert_eq!(doc["issuer"], ISSUER);
    assert_eq!(doc["token_endpoint"], format!("{ISSUER}/oauth/token"));
    assert_eq!(doc["jwks_uri"], format!("{ISSUER}/.well-known/jwks.json"));
    assert_eq!(
        doc["grant_types_supported"],
        serde_json::json!(["client_credentials", "refresh_token"])
    );
    assert_eq!(
        doc["token_endpoint_auth_methods_supported"],
        serde_json::json!(["client_secret_basic", "client_secret_post"])
    );
    assert_eq!(
        doc["scopes_supported"],
        serde_json::json!(["admin", "read", "webhook", "write"])
    );
    assert_eq!(doc["response_types_supported"], serde_json::json!([]));
}

#[actix_web::test]
async fn jwks_publishes_public_keys_only_including_pending_ones() {
    let app = TestApp::spawn_with(|settings| {
        let keys = &settings.keys_dir;
        keygate::tokens::keys::generate(keys, keygate::tokens::KeyAlg::ES256, chrono::Utc::now())
            .unwrap();
        // A second key is pending: published before it signs, so caches learn it early.
        keygate::tokens::keys::generate(keys, keygate::tokens::KeyAlg::RS256, chrono::Utc::now())
            .unwrap();
    })
    .await;
    let response = app
        .http
        .get(app.url("/.well-known/jwks.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(header(&response, "content-type").starts_with("application/json"));
    let text = response.text().await.unwrap();
    let jwks: serde_json::Value = serde_json::from_str(&text).unwrap();
    let keys = jwks["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 2);
    for key in keys {
        assert_eq!(key["use"], "sig");
        assert!(key["kid"].as_str().unwrap().len() >= 43);
        for private in ["d", "p", "q", "dp", "dq", "qi"] {
            assert!(
                key.get(private).is_none(),
                "private member {private} published"
            );
        }
    }
}

#[actix_web::test]
async fn health_and_unknown_routes() {
    let app = TestApp::spawn().await;
    let health = app.http.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    let ready = app.http.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 200);
    let missing = app.http.get(app.url("/nope")).send().await.unwrap();
    assert_eq!(missing.status(), 404);
    let body: serde_json::Value = missing.json().await.unwrap();
    assert_eq!(body["success"], false);
    assert_eq!(body["error"]["code"], "not_found");
}

#[actix_rt::test]
async fn every_response_carries_a_request_id() {
    let app = TestApp::spawn().await;
    let get = |id: Option<&'static str>| {
        let mut request = app.http.get(app.url("/healthz"));
        if let Some(id) = id {
            request = request.header("X-Request-Id", id);
        }
        request.send()
    };
    let fresh = crate::helpers::header(&get(None).await.unwrap(), "x-request-id");
    assert_eq!(fresh.len(), 32, "{fresh}");
    let other = crate::helpers::header(&get(None).await.unwrap(), "x-request-id");
    assert_ne!(fresh, other);
    let kept = crate::helpers::header(&get(Some("abc-123.x_y")).await.unwrap(), "x-request-id");
    assert_eq!(kept, "abc-123.x_y", "a caller's plain id is kept");
    for hostile in ["has space", "semi;colon", "\u{7f}"] {
        let replaced = app
            .http
            .get(app.url("/healthz"))
            .header("X-Request-Id", hostile)
            .send()
            .await;
        if let Ok(response) = replaced {
            let id = crate::helpers::header(&response, "x-request-id");
            assert_ne!(id, hostile);
            assert_eq!(id.len(), 32);
        }
    }
    let long = "a".repeat(65);
    let response = app
        .http
        .get(app.url("/healthz"))
        .header("X-Request-Id", &long)
        .send()
        .await
        .unwrap();
    assert_eq!(crate::helpers::header(&response, "x-request-id").len(), 32);
}
