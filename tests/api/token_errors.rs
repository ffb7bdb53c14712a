//! POST /oauth/token: every failure is an RFC 6749 §5.2 JSON error with the right
//! status — malformed, missing, oversize and hostile input included.

use crate::helpers::{assert_oauth_error, basic_auth, db, TestApp, TestClient};

const FORM: (&str, &str) = ("Content-Type", "application/x-www-form-urlencoded");

async fn post_with_basic(app: &TestApp, client: &TestClient, body: &str) -> reqwest::Response {
    let auth = basic_auth(&client.id, &client.secret);
    app.token_raw(&[FORM, ("Authorization", &auth)], body.to_owned())
        .await
}

#[actix_web::test]
async fn malformed_and_missing_parameters_are_invalid_request() {
    let app = TestApp::spawn().await;
    let client = app.client_with_scope("read");
    let cases = [
        ("", "invalid_request"),
        ("scope=read", "invalid_request"),
        (
            "grant_type=client_credentials&grant_type=client_credentials",
            "invalid_request",
        ),
        (
            "grant_type=client_credentials&scope=read&scope=read",
            "invalid_request",
        ),
        ("grant_type=client_credentials&x=%FF%FE", "invalid_request"),
        (
            "grant_type=password&username=a&password=b",
            "unsupported_grant_type",
        ),
        (
            "grant_type=authorization_code&code=x",
            "invalid_request",
        ),
        (
            "grant_type=authorization_code&code=x&redirect_uri=https%3A%2F%2Fa.example%2Fcb&code_verifier=v",
            "unauthorized_client",
        ),
        ("grant_type=implicit", "unsupported_grant_type"),
        ("grant_type=refresh_token", "invalid_request"),
        (
            "grant_type=refresh_token&refresh_token=x",
            "unauthorized_client",
        ),
    ];
    for (body, code) in cases {
        let response = post_with_basic(&app, &client, body).await;
        let description = assert_oauth_error(response, 400, code).await;
        assert!(!description.contains(&client.secret));
    }
}

#[actix_web::test]
async fn the_body_must_be_form_encoded() {
    let app = TestApp::spawn().await;
    let client = app.client_with_scope("read");
    let auth = basic_auth(&client.id, &client.secret);
    // application/json is keygate's extension (see json_requests).
    for content_type in [None, Some("text/plain"), Some("multipart/form-data")] {
        let mut headers = vec![("Authorization", auth.as_str())];
        if let Some(ct) = content_type {
            headers.push(("Content-Type", ct));
        }
        let response = app
            .token_raw(&headers, "grant_type=client_credentials")
            .await;
        let description = assert_oauth_error(response, 400, "invalid_request").await;
        assert!(
            description.contains("x-www-form-urlencoded"),
            "{description}"
        );
    }
}

/// RFC 6749 §5.2: credentials sent in the Authorization header fail with 401 and a
/// Basic challenge; credentials sent in the body fail with 400 and no challenge (a 401
/// must carry one, RFC 9110 §15.5.2, and Basic is not what that client used).
#[actix_web::test]
async fn client_authentication_failures_are_invalid_client() {
    let app = TestApp::spawn().await;
    let client = app.client_with_scope("read");
    let cc = "grant_type=client_credentials";
    let wrong = client.with_secret(&format!("{}x", client.secret));
    let unknown = TestClient {
        id: "kgc_00000000000000000000000000000000".into(),
        secret: client.secret.clone(),
    };
    for who in [&wrong, &unknown] {
        let basic = post_with_basic(&app, who, cc).await;
        let basic_description = assert_oauth_error(basic, 401, "invalid_client").await;
        let post = app
            .token_post(who, &[("grant_type", "client_credentials")])
            .await;
        assert_eq!(crate::helpers::header(&post, "www-authenticate"), "");
        let post_description = assert_oauth_error(post, 400, "invalid_client").await;
        // Unknown and wrong-secret look the same from outside.
        assert_eq!(basic_description, "client authentication failed");
        assert_eq!(post_description, basic_description);
    }
    // No credentials at all, an id without a secret, other schemes, broken Basic.
    let none = app.token_raw(&[FORM], cc).await;
    assert_oauth_error(none, 401, "invalid_client").await;
    let id_only = app
        .token_raw(&[FORM], format!("{cc}&client_id={}", client.id))
        .await;
    assert_oauth_error(id_only, 401, "invalid_client").await;
    for authorization in [
        "Bearer abc",
        "Basic",
        "Basic !!!not-base64",
        "Basic bm8tY29sb24=",
        "Basic OnNlY3JldA==",
    ] {
        let response = app
            .token_raw(&[FORM, ("Authorization", authorization)], cc)
            .await;
        assert_oauth_error(response, 401, "invalid_client").await;
    }
}

#[actix_web::test]
async fn two_authentication_methods_at_once_are_invalid_request() {
    let app = TestApp::spawn().await;
    let client = app.client_with_scope("read");
    let both = format!(
        "grant_type=client_credentials&client_id={}&client_secret={}",
        client.id, client.secret
    );
    assert_oauth_error(
        post_with_basic(&app, &client, &both).await,
        400,
        "invalid_request",
    )
    .await;
    // A body client_id naming another client than the Basic header.
    let mismatch = "grant_type=client_credentials&client_id=kgc_other";
    assert_oauth_error(
        post_with_basic(&app, &client, mismatch).await,
        400,
        "invalid_request",
    )
    .await;
    // The same client_id in both places is allowed (RFC 6749 §3.2.1 clients do this).
    let same = format!("grant_type=client_credentials&client_id={}", client.id);
    assert_eq!(post_with_basic(&app, &client, &same).await.status(), 200);
    let secret_only = format!(
        "grant_type=client_credentials&client_secret={}",
        client.secret
    );
    assert_oauth_error(
        app.token_raw(&[FORM], secret_only).await,
        400,
        "invalid_request",
    )
    .await;
}

#[actix_web::test]
async fn a_client_without_the_grant_is_unauthorized_client() {
    let app = TestApp::spawn().await;
    let client = app.client_with_scope("read");
    // Registration always includes client_credentials today; simulate a client whose
    // grants were changed to exclude it.
    db::set_grant_types(&app.store, &client.id, "refresh_token");
    let response = post_with_basic(&app, &client, "grant_type=client_credentials").await;
    assert_oauth_error(response, 400, "unauthorized_client").await;
}

#[actix_web::test]
async fn oversize_bodies_are_refused_with_json() {
    let app = TestApp::spawn().await;
    let client = app.client_with_scope("read");
    let limit = app.settings.max_body_bytes;
    let padding = "a".repeat(limit);
    let body = format!("grant_type=client_credentials&pad={padding}");
    let response = post_with_basic(&app, &client, &body).await;
    assert_oauth_error(response, 413, "invalid_request").await;
    // Without a Content-Length (chunked), the limit holds while reading.
    let chunks: Vec<Result<String, std::io::Error>> =
        vec![Ok("grant_type=client_credentials&pad=".into()), Ok(padding)];
    let stream = futures_util::stream::iter(chunks);
    let auth = basic_auth(&client.id, &client.secret);
    let response = app
        .token_raw(
            &[FORM, ("Authorization", &auth)],
            reqwest::Body::wrap_stream(stream),
        )
        .await;
    assert_oauth_error(response, 413, "invalid_request").await;
}

#[actix_web::test]
async fn hostile_input_gets_a_clear_error_not_a_crash() {
    let app = TestApp::spawn().await;
    let client = app.client_with_scope("read");
    let cc = "grant_type=client_credentials";
    // A huge scope list within the body limit.
    let many_scopes = (0..2000)
        .map(|i| format!("s{i}"))
        .collect::<Vec<_>>()
        .join("+");
    let response = post_with_basic(&app, &client, &format!("{cc}&scope={many_scopes}")).await;
    assert_oauth_error(response, 400, "invalid_scope").await;
    // NUL and control bytes in the scope.
    let response = post_with_basic(&app, &client, &format!("{cc}&scope=read%00admin")).await;
    assert_oauth_error(response, 400, "invalid_scope").await;
    // Very long and odd client ids are just unknown clients.
    for id in [
        "x".repeat(8000),
        "kgc_'; DROP TABLE clients; --".into(),
        "\u{202e}kgc_rtl".into(),
    ] {
        let who = TestClient {
            id,
            secret: client.secret.clone(),
        };
        assert_oauth_error(post_with_basic(&app, &who, cc).await, 401, "invalid_client").await;
    }
    // Hundreds of distinct parameters.
    let flood: String = (0..500).map(|i| format!("&p{i}=v")).collect();
    assert_oauth_error(
        post_with_basic(&app, &client, &format!("{cc}{flood}")).await,
        400,
        "invalid_request",
    )
    .await;
    // The client still works afterwards.
    assert_eq!(post_with_basic(&app, &client, cc).await.status(), 200);
}

#[actix_web::test]
async fn other_methods_are_405_not_200() {
    let app = TestApp::spawn().await;
    for method in [
        reqwest::Method::GET,
        reqwest::Method::PUT,
        reqwest::Method::DELETE,
        reqwest::Method::PATCH,
    ] {
        let response = app
            .http
            .request(method.clone(), app.url("/oauth/token"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 405, "{method}");
        assert_eq!(crate::helpers::header(&response, "allow"), "POST");
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["error"], "invalid_request");
    }
}
