//! keygate's documented extension: `/oauth/token`, `/oauth/revoke` and
//! `/oauth/introspect` also take their parameters as one JSON object of strings
//! (`Content-Type: application/json`), under the form's rules and limits; a JSON body
//! sent as form data is told what to send.

use serde_json::json;

use crate::helpers::{assert_oauth_error, basic_auth, header, TestApp, TestClient};

const JSON: (&str, &str) = ("Content-Type", "application/json");
const FORM: (&str, &str) = ("Content-Type", "application/x-www-form-urlencoded");

impl TestApp {
    async fn post_raw(
        &self,
        path: &str,
        headers: &[(&str, &str)],
        body: impl Into<reqwest::Body>,
    ) -> reqwest::Response {
        let mut request = self.http.post(self.url(path)).body(body);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.send().await.unwrap()
    }
}

fn credentials(client: &TestClient) -> serde_json::Value {
    json!({
        "grant_type": "client_credentials",
        "client_id": client.id,
        "client_secret": client.secret,
    })
}

#[actix_web::test]
async fn the_platform_example_obtains_a_token_as_json() {
    let app = TestApp::spawn().await;
    let client = app.refresh_client("read write", None);
    // `curl -X POST …/oauth/token -H 'Content-Type: application/json' -d '{…}'`
    let body = format!(
        r#"{{ "grant_type": "client_credentials", "client_id": "{}", "client_secret": "{}" }}"#,
        client.id, client.secret
    );
    let response = app.token_raw(&[JSON], body).await;
    assert_eq!(response.status(), 200);
    assert_eq!(header(&response, "cache-control"), "no-store");
    let issued: serde_json::Value = response.json().await.unwrap();
    assert_eq!(issued["token_type"], "Bearer");
    assert_eq!(issued["scope"], "read write");
    let token = issued["access_token"].as_str().unwrap();
    app.verify(token, crate::helpers::ISSUER).await;

    // The scope parameter and Basic authentication, as with the form.
    let auth = basic_auth(&client.id, &client.secret);
    let narrowed = app
        .token_raw(
            &[JSON, ("Authorization", &auth)],
            json!({"grant_type": "client_credentials", "scope": "read"}).to_string(),
        )
        .await;
    assert_eq!(narrowed.status(), 200);
    let narrowed: serde_json::Value = narrowed.json().await.unwrap();
    assert_eq!(narrowed["scope"], "read");

    // The refresh grant.
    let refresh_token = issued["refresh_token"].as_str().unwrap();
    let refreshed = app
        .token_raw(
            &[JSON, ("Authorization", &auth)],
            json!({"grant_type": "refresh_token", "refresh_token": refresh_token}).to_string(),
        )
        .await;
    assert_eq!(refreshed.status(), 200);
    let refreshed: serde_json::Value = refreshed.json().await.unwrap();
    assert!(refreshed["refresh_token"]
        .as_str()
        .unwrap()
        .starts_with("kgr_"));

    // Introspection and revocation, with client_secret_post in the JSON body.
    let action = |token: &str| {
        json!({"token": token, "client_id": client.id, "client_secret": client.secret}).to_string()
    };
    let described = app
        .post_raw("/oauth/introspect", &[JSON], action(token))
        .await;
    assert_eq!(described.status(), 200);
    let described: serde_json::Value = described.json().await.unwrap();
    assert_eq!(described["active"], true, "{described}");
    let revoked = app.post_raw("/oauth/revoke", &[JSON], action(token)).await;
    assert_eq!(revoked.status(), 200);
    let described = app
        .post_raw("/oauth/introspect", &[JSON], action(token))
        .await;
    let described: serde_json::Value = described.json().await.unwrap();
    assert_eq!(described, json!({"active": false}));
}

#[actix_web::test]
async fn a_json_body_sent_as_form_data_is_told_what_to_send() {
    let app = TestApp::spawn().await;
    let client = app.client_with_scope("read");
    // What `curl -X POST …/oauth/token -d '{ … }'` sends: form content type, JSON body.
    let body = format!(
        r#"{{ "grant_type": "client_credentials", "client_id": "{}", "client_secret": "{}" }}"#,
        client.id, client.secret
    );
    for path in ["/oauth/token", "/oauth/revoke", "/oauth/introspect"] {
        let response = app.post_raw(path, &[FORM], body.clone()).await;
        let description = assert_oauth_error(response, 400, "invalid_request").await;
        assert!(!description.contains("missing"), "{description}");
        assert!(
            description.contains("Content-Type: application/json"),
            "{description}"
        );
        assert!(
            description.contains("grant_type=client_credentials&client_id="),
            "{description}"
        );
        assert!(!description.contains(&client.secret));
    }
}

#[actix_web::test]
async fn hostile_json_bodies_get_a_clear_invalid_request() {
    let app = TestApp::spawn().await;
    let client = app.client_with_scope("read");
    let auth = basic_auth(&client.id, &client.secret);
    let secret = client.secret.as_str();
    let nested = format!(
        r#"{{"grant_type": "client_credentials", "x": {}{}}}"#,
        "[".repeat(4000),
        "]".repeat(4000)
    );
    let many: Vec<String> = (0..100).map(|i| format!(r#""p{i}": "v""#)).collect();
    let many = format!(
        r#"{{"grant_type": "client_credentials", {}}}"#,
        many.join(",")
    );
    let cases: Vec<(String, &str)> = vec![
        (
            r#"{"grant_type": "client_credentials", "grant_type": "refresh_token"}"#.into(),
            "more than once",
        ),
        (
            format!(
                r#"{{"grant_type": "client_credentials", "client_id": "{}", "client_id": "{}"}}"#,
                client.id, client.id
            ),
            "more than once",
        ),
        (r#"{"grant_type": 42}"#.into(), "must be a string"),
        (
            r#"{"grant_type": "client_credentials", "scope": ["read"]}"#.into(),
            "must be a string",
        ),
        (
            r#"{"grant_type": "client_credentials", "scope": null}"#.into(),
            "must be a string",
        ),
        (
            r#"{"grant_type": "client_credentials", "scope": false}"#.into(),
            "must be a string",
        ),
        (
            r#"{"grant_type": {"type": "client_credentials"}}"#.into(),
            "must be a string",
        ),
        (nested, "not valid JSON"),
        (many, "too many parameters"),
        (
            r#"["grant_type", "client_credentials"]"#.into(),
            "one JSON object",
        ),
        (format!(r#""{secret}""#), "one JSON object"),
        (
            r#"{"grant_type": "client_credentials""#.into(),
            "not valid JSON",
        ),
        (
            r#"{"grant_type": "client_credentials"}{"scope": "admin"}"#.into(),
            "not valid JSON",
        ),
        ("".into(), "not valid JSON"),
        (r#"{}"#.into(), "missing grant_type"),
    ];
    for (body, expected) in cases {
        let response = app
            .token_raw(&[JSON, ("Authorization", &auth)], body.clone())
            .await;
        let description = assert_oauth_error(response, 400, "invalid_request").await;
        assert!(description.contains(expected), "{body}: {description}");
        assert!(!description.contains(secret), "{description}");
    }
    // A secret in a value of the wrong type is not echoed either.
    let response = app
        .token_raw(
            &[JSON],
            json!({"grant_type": "client_credentials", "client_id": client.id, "client_secret": [secret]})
                .to_string(),
        )
        .await;
    let description = assert_oauth_error(response, 400, "invalid_request").await;
    assert!(!description.contains(secret), "{description}");

    // The body limit is the form's: 413.
    let limit = app.settings.max_body_bytes;
    let oversize = json!({"grant_type": "client_credentials", "pad": "a".repeat(limit)});
    let response = app
        .token_raw(&[JSON, ("Authorization", &auth)], oversize.to_string())
        .await;
    assert_oauth_error(response, 413, "invalid_request").await;

    // Wrong credentials in a JSON body are client_secret_post failures: 400, no challenge.
    let wrong = json!({"grant_type": "client_credentials", "client_id": client.id, "client_secret": "kgs_wrong"});
    let response = app.token_raw(&[JSON], wrong.to_string()).await;
    assert_oauth_error(response, 400, "invalid_client").await;
    // Both methods at once, as with the form.
    let response = app
        .token_raw(
            &[JSON, ("Authorization", &auth)],
            credentials(&client).to_string(),
        )
        .await;
    assert_oauth_error(response, 400, "invalid_request").await;

    // The client still works.
    let response = app
        .token_raw(&[JSON], credentials(&client).to_string())
        .await;
    assert_eq!(response.status(), 200);
}
