//! RFC 7591 dynamic registration and RFC 7592 management over HTTP.

use reqwest::Method;
use serde_json::json;

use crate::helpers::{assert_oauth_error, header, Registered, TestApp};

fn path_of(uri: &str) -> String {
    url::Url::parse(uri).unwrap().path().to_owned()
}

async fn manage(
    app: &TestApp,
    method: Method,
    uri: &str,
    token: Option<&str>,
    body: Option<serde_json::Value>,
) -> reqwest::Response {
    let mut request = app.http.request(method, app.url(&path_of(uri)));
    if let Some(token) = token {
        request = request.header("Authorization", format!("Bearer {token}"));
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    request.send().await.unwrap()
}

#[actix_rt::test]
async fn an_admin_key_registers_a_client_that_gets_tokens() {
    let app = TestApp::spawn().await;
    let Registered {
        client,
        registration_token: token,
        uri,
        body,
        ..
    } = app.registered(
        json!({"client_name": "partner", "scope": "read write",
               "grant_types": ["client_credentials"], "token_endpoint_auth_method": "client_secret_post",
               "logo_uri": "https://ignored.example/logo.png", "software_id": "ignored"}),
    )
    .await;
    assert_eq!(body["client_name"], "partner");
    assert_eq!(body["scope"], "read write");
    assert_eq!(body["grant_types"], json!(["client_credentials"]));
    assert_eq!(body["token_endpoint_auth_method"], "client_secret_post");
    assert_eq!(body["client_secret_expires_at"], 0);
    assert!(body["client_id_issued_at"].as_i64().unwrap() > 0);
    assert!(token.starts_with("kgrat_"));
    assert_eq!(
        uri,
        format!("{}/oauth/register/{}", crate::helpers::ISSUER, client.id)
    );
    assert!(
        body.get("logo_uri").is_none(),
        "unknown metadata is ignored"
    );
    let issued = app
        .token_post(&client, &[("grant_type", "client_credentials")])
        .await;
    assert_eq!(issued.status(), 200);

    let metadata: serde_json::Value = app
        .public_json("/.well-known/oauth-authorization-server")
        .await;
    assert_eq!(
        metadata["registration_endpoint"],
        format!("{}/oauth/register", crate::helpers::ISSUER)
    );
}

#[actix_rt::test]
async fn without_an_admin_credential_registration_is_refused() {
    let app = TestApp::spawn().await;
    let body = json!({"client_name": "x", "scope": "read"});
    let response = app.register_as(None, &body).await;
    assert_eq!(
        header(&response, "www-authenticate"),
        "Bearer realm=\"keygate\""
    );
    assert_oauth_error(response, 401, "invalid_token").await;
    let response = app.register_as(Some("kg_live_garbage"), &body).await;
    assert!(header(&response, "www-authenticate").contains("error=\"invalid_token\""));
    assert_oauth_error(response, 401, "invalid_token").await;
    let reader = app.api_key("read").await.key;
    let response = app.register_as(Some(&reader), &body).await;
    assert!(header(&response, "www-authenticate").contains("scope=\"admin\""));
    assert_oauth_error(response, 403, "insufficient_scope").await;
    // A registration access token is no initial access token.
    let registration_token = app.registered(body.clone()).await.registration_token;
    let response = app.register_as(Some(&registration_token), &body).await;
    assert_oauth_error(response, 401, "invalid_token").await;
}

#[actix_rt::test]
async fn invalid_metadata_gets_rfc_7591_errors() {
    let app = TestApp::spawn().await;
    let limited_admin = app.api_key("read admin").await.key;
    for (body, code) in [
        (json!({"client_name": "x"}), "invalid_client_metadata"),
        (
            json!({"client_name": "x", "scope": "billing"}),
            "invalid_client_metadata",
        ),
        (
            json!({"client_name": "x", "scope": "read", "grant_types": ["authorization_code"]}),
            "invalid_redirect_uri",
        ),
        (
            json!({"client_name": "x", "scope": "read", "grant_types": ["authorization_code"], "redirect_uris": ["http://app.example/cb"]}),
            "invalid_redirect_uri",
        ),
        (
            json!({"client_name": "x", "scope": "read", "grant_types": ["authorization_code"], "redirect_uris": ["https://app.example/cb#frag"]}),
            "invalid_redirect_uri",
        ),
        (
            json!({"client_name": "x", "scope": "read", "grant_types": ["authorization_code"], "redirect_uris": "https://app.example/cb"}),
            "invalid_client_metadata",
        ),
        (
            json!({"client_name": "x", "scope": "read", "token_endpoint_auth_method": "none", "grant_types": ["client_credentials"]}),
            "invalid_client_metadata",
        ),
        (
            json!({"client_name": "x", "scope": "read", "grant_types": ["authorization_code"], "redirect_uris": ["https://app.example/cb"], "response_types": ["token"]}),
            "invalid_client_metadata",
        ),
        (
            json!({"client_name": "x", "scope": "read", "grant_types": "client_credentials"}),
            "invalid_client_metadata",
        ),
        (
            json!({"client_name": "x", "scope": "read", "token_endpoint_auth_method": "none"}),
            "invalid_redirect_uri",
        ),
        (
            json!({"client_name": "x", "scope": "read", "token_endpoint_auth_method": "private_key_jwt"}),
            "invalid_client_metadata",
        ),
        (
            json!({"client_name": "x", "scope": "read", "response_types": ["code"]}),
            "invalid_client_metadata",
        ),
        (
            json!({"client_name": "x", "scope": "read", "grant_types": ["client_credentials"], "redirect_uris": ["https://app.example/cb"]}),
            "invalid_redirect_uri",
        ),
        (
            json!({"client_name": "\u{0}", "scope": "read"}),
            "invalid_client_metadata",
        ),
        (json!(["not", "an", "object"]), "invalid_client_metadata"),
    ] {
        let response = app.register_as(Some(&app.admin_key), &body).await;
        assert_oauth_error(response, 400, code).await;
    }
    let response = app
        .register_as(
            Some(&limited_admin),
            &json!({"client_name": "x", "scope": "write"}),
        )
        .await;
    assert_oauth_error(response, 400, "invalid_client_metadata").await;
    let response = app
        .http
        .post(app.url("/oauth/register"))
        .header("Authorization", format!("Bearer {}", app.admin_key))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body("client_name=x&scope=read")
        .send()
        .await
        .unwrap();
    assert_oauth_error(response, 400, "invalid_client_metadata").await;
    let response = app
        .http
        .post(app.url("/oauth/register"))
        .header("Authorization", format!("Bearer {}", app.admin_key))
        .header("Content-Type", "application/json")
        .body(vec![b' '; 64 * 1024])
        .send()
        .await
        .unwrap();
    assert_oauth_error(response, 413, "invalid_request").await;
    let response = app
        .http
        .get(app.url("/oauth/register"))
        .send()
        .await
        .unwrap();
    assert_eq!(header(&response, "allow"), "POST");
    assert_oauth_error(response, 405, "invalid_request").await;
}

#[actix_rt::test]
async fn the_registration_access_token_reads_updates_and_deletes() {
    let app = TestApp::spawn().await;
    let Registered {
        client,
        registration_token: first_token,
        uri,
        ..
    } = app
        .registered(json!({"client_name": "partner", "scope": "read write",
               "grant_types": ["client_credentials", "refresh_token"]}))
        .await;
    // Every response carries a new registration access token (RFC 7592 §3); the one
    // presented stops working.
    let next_token = |body: &serde_json::Value| {
        body["registration_access_token"]
            .as_str()
            .expect("a registration access token in every response")
            .to_owned()
    };
    let read = manage(&app, Method::GET, &uri, Some(&first_token), None).await;
    assert_eq!(read.status(), 200);
    let read: serde_json::Value = read.json().await.unwrap();
    assert_eq!(read["client_id"], client.id.as_str());
    assert_eq!(read["scope"], "read write");
    assert_eq!(read["registration_client_uri"], uri.as_str());
    assert!(read.get("client_secret").is_none(), "never shown again");
    let mut token = next_token(&read);
    assert_ne!(token, first_token);
    let stale = manage(&app, Method::GET, &uri, Some(&first_token), None).await;
    assert_oauth_error(stale, 401, "invalid_token").await;

    // Update: narrowing is allowed, widening is not; the client_id must match.
    let updated = manage(
        &app,
        Method::PUT,
        &uri,
        Some(&token),
        Some(
            json!({"client_id": client.id, "client_name": "partner v2", "scope": "read",
                    "grant_types": ["client_credentials"]}),
        ),
    )
    .await;
    assert_eq!(updated.status(), 200);
    let updated: serde_json::Value = updated.json().await.unwrap();
    assert_eq!(updated["client_name"], "partner v2");
    assert_eq!(updated["scope"], "read");
    token = next_token(&updated);
    assert_eq!(app.token_json(&client).await["scope"], "read");
    for (body, status, code) in [
        (
            json!({"client_id": client.id, "scope": "read admin"}),
            400,
            "invalid_client_metadata",
        ),
        (
            json!({"client_id": "kgc_other", "scope": "read"}),
            400,
            "invalid_request",
        ),
        (json!({"scope": "read"}), 400, "invalid_request"),
        (
            json!({"client_id": client.id, "scope": "read", "client_secret": "kgs_wrong"}),
            400,
            "invalid_client_metadata",
        ),
    ] {
        // A refused update changes nothing, the token included.
        let response = manage(&app, Method::PUT, &uri, Some(&token), Some(body)).await;
        assert_oauth_error(response, status, code).await;
    }
    let with_secret = manage(
        &app,
        Method::PUT,
        &uri,
        Some(&token),
        Some(json!({"client_id": client.id, "client_secret": client.secret, "scope": "read"})),
    )
    .await;
    assert_eq!(with_secret.status(), 200);
    token = next_token(&with_secret.json().await.unwrap());

    // Wrong, missing or another client's token: 401, whatever the client.
    let Registered {
        registration_token: other_token,
        uri: other_uri,
        ..
    } = app.registered(json!({"scope": "read"})).await;
    for (target, bearer) in [
        (&uri, Some(other_token.as_str())),
        (&uri, Some("kgrat_wrong")),
        (&uri, Some(app.admin_key.as_str())),
        (&uri, None),
        (&other_uri, Some(token.as_str())),
    ] {
        let response = manage(&app, Method::GET, target, bearer, None).await;
        assert_oauth_error(response, 401, "invalid_token").await;
    }

    // HEAD checks the token and replaces nothing: it has no body to carry a new one.
    let head = manage(&app, Method::HEAD, &uri, Some(&token), None).await;
    assert_eq!(head.status(), 200);
    assert!(head.bytes().await.unwrap().is_empty());
    let head = manage(&app, Method::HEAD, &uri, Some("kgrat_wrong"), None).await;
    assert_eq!(head.status(), 401);

    let deleted = manage(&app, Method::DELETE, &uri, Some(&token), None).await;
    assert_eq!(deleted.status(), 204);
    let response = app
        .token_basic(&client, &[("grant_type", "client_credentials")])
        .await;
    assert_eq!(response.status(), 401, "the client is gone");
    let response = manage(&app, Method::GET, &uri, Some(&token), None).await;
    assert_oauth_error(response, 401, "invalid_token").await;
    let response = manage(&app, Method::POST, &uri, Some(&token), None).await;
    assert_eq!(header(&response, "allow"), "GET, HEAD, PUT, DELETE");
}

#[actix_rt::test]
async fn a_public_client_of_the_code_grant_registers_with_its_redirect_uris() {
    let app = TestApp::spawn().await;
    let response = app
        .http
        .post(app.url("/oauth/register"))
        .bearer_auth(&app.admin_key)
        .json(&json!({
            "client_name": "MCP client", "scope": "read",
            "redirect_uris": ["http://127.0.0.1/callback", "com.example.app:/cb"],
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "token_endpoint_auth_method": "none",
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let body: serde_json::Value = response.json().await.unwrap();
    assert!(body.get("client_secret").is_none(), "{body}");
    assert_eq!(body["token_endpoint_auth_method"], "none");
    assert_eq!(body["response_types"], json!(["code"]));
    assert_eq!(
        body["redirect_uris"],
        json!(["http://127.0.0.1/callback", "com.example.app:/cb"])
    );
    assert!(body["registration_access_token"].is_string());
    // RFC 7591's defaults: redirect_uris without grant_types mean authorization_code.
    let defaulted = app
        .http
        .post(app.url("/oauth/register"))
        .bearer_auth(&app.admin_key)
        .json(&json!({"scope": "read", "redirect_uris": ["https://app.example/cb"]}))
        .send()
        .await
        .unwrap();
    let body: serde_json::Value = defaulted.json().await.unwrap();
    assert_eq!(body["grant_types"], json!(["authorization_code"]));
    assert!(
        body["client_secret"].is_string(),
        "a confidential client by default"
    );
}

#[actix_rt::test]
async fn open_registration_is_off_by_default_and_for_public_clients_only() {
    let public = json!({
        "client_name": "MCP client",
        "redirect_uris": ["http://127.0.0.1/callback"],
        "grant_types": ["authorization_code", "refresh_token"],
        "token_endpoint_auth_method": "none",
    });
    let closed = TestApp::spawn().await;
    let refused = closed
        .http
        .post(closed.url("/oauth/register"))
        .json(&public)
        .send()
        .await
        .unwrap();
    assert_oauth_error(refused, 401, "invalid_token").await;

    let app = TestApp::spawn_with(|s| {
        s.open_registration = true;
        s.open_registrations_per_minute_per_source = 4;
    })
    .await;
    let register = |body: serde_json::Value| {
        let app = &app;
        async move {
            app.http
                .post(app.url("/oauth/register"))
                .json(&body)
                .send()
                .await
                .unwrap()
        }
    };
    let opened = register(public.clone()).await;
    assert_eq!(opened.status(), 201);
    let body: serde_json::Value = opened.json().await.unwrap();
    assert_eq!(body["scope"], "read", "the least scope when none is named");
    assert!(body.get("client_secret").is_none());
    let wide = register(json!({
        "scope": "read admin", "token_endpoint_auth_method": "none",
        "redirect_uris": ["http://127.0.0.1/callback"],
    }))
    .await;
    let said = assert_oauth_error(wide, 400, "invalid_client_metadata").await;
    assert!(said.contains("at most the scope 'read'"), "{said}");
    let confidential =
        register(json!({"scope": "read", "grant_types": ["client_credentials"]})).await;
    assert_oauth_error(confidential, 400, "invalid_client_metadata").await;
    // Malformed and hostile bodies are refused with RFC 7591 errors, and counted.
    let bad_uri = register(
        json!({"token_endpoint_auth_method": "none", "redirect_uris": ["javascript:alert(1)"]}),
    )
    .await;
    assert_oauth_error(bad_uri, 400, "invalid_redirect_uri").await;
    let limited = register(public.clone()).await;
    assert_eq!(limited.status(), 429);
    assert!(limited.headers().get("retry-after").is_some());
    // With an initial access token, the admin path is unchanged.
    let admin = app
        .http
        .post(app.url("/oauth/register"))
        .bearer_auth(&app.admin_key)
        .json(&json!({"scope": "read write", "grant_types": ["client_credentials"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(admin.status(), 201);
}
