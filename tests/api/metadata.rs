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
