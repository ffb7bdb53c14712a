//! Hostile input across the endpoints, over HTTP: oversized headers, repeated
//! parameters, invalid UTF-8 and NUL bytes, deep or huge JSON, and JWTs that only the
//! checks after the signature can refuse (signed here with keygate's own key: `crit`,
//! timestamps far in the future, referenced keys). Each gets its documented error, and
//! the server keeps working afterwards. Per-endpoint cases live beside each endpoint's
//! tests (token_errors.rs, identity.rs, revocation.rs, registration.rs, api_keys.rs).

use reqwest::Method;

use crate::helpers::jwt::{assemble, segment, signed_by_keygate};
use crate::helpers::{assert_api_error, assert_oauth_error, basic_auth, TestApp};

#[actix_rt::test]
async fn signed_tokens_with_crit_or_future_times_are_invalid_tokens() {
    let app = TestApp::spawn().await;
    let client = app.management_client("read admin");
    let token = app.access_token(&client).await;
    let (header, claims) = (segment(&token, 0), segment(&token, 1));
    let bearer = |t: &str| format!("Bearer {t}");

    // The re-signed original is accepted: what follows fails for its one change only.
    let same = signed_by_keygate(&app, &header, &claims);
    assert_eq!(
        app.me(&[("Authorization", &bearer(&same))]).await.status(),
        200
    );

    let mut crit = header.clone();
    crit["crit"] = serde_json::json!(["exp"]);
    let mut far_iat = claims.clone();
    far_iat["iat"] = 32_503_680_000_i64.into(); // year 3000
    let mut far_nbf = claims.clone();
    far_nbf["nbf"] = i64::MAX.into();
    let mut not_a_number = claims.clone();
    not_a_number["exp"] = serde_json::json!(1e300);
    for (why, forged) in [
        ("crit", signed_by_keygate(&app, &crit, &claims)),
        ("iat in 3000", signed_by_keygate(&app, &header, &far_iat)),
        (
            "nbf at i64::MAX",
            signed_by_keygate(&app, &header, &far_nbf),
        ),
        ("exp 1e300", signed_by_keygate(&app, &header, &not_a_number)),
    ] {
        let response = app.me(&[("Authorization", &bearer(&forged))]).await;
        let body = assert_api_error(response, 401, "invalid_token").await;
        assert!(!body.to_string().contains(&forged), "{why}: token echoed");
        // Introspection says inactive, nothing more.
        let introspected = app.introspect(&client, &forged, None).await;
        assert_eq!(introspected, serde_json::json!({"active": false}), "{why}");
    }

    // A key referenced or embedded in the header is never fetched or trusted: signed
    // by ours, the token is ours; signed by another key, it fails whatever it points at.
    let mut referenced = header.clone();
    referenced["jku"] = "http://127.0.0.1:9/jwks.json".into();
    referenced["x5u"] = "http://127.0.0.1:9/cert.pem".into();
    referenced["jwk"] = serde_json::json!({"kty": "EC", "crv": "P-256", "x": "AA", "y": "AA"});
    let ours = signed_by_keygate(&app, &referenced, &claims);
    assert_eq!(
        app.me(&[("Authorization", &bearer(&ours))]).await.status(),
        200
    );
    let theirs = assemble(&referenced, &claims, &[7u8; 64]);
    let response = app.me(&[("Authorization", &bearer(&theirs))]).await;
    assert_api_error(response, 401, "invalid_token").await;
}

#[actix_rt::test]
async fn oversized_headers_are_refused_before_any_handler() {
    let app = TestApp::spawn().await;
    // Within actix's header buffer but beyond any credential keygate issues.
    let long = format!("Bearer {}", "a".repeat(16 * 1024));
    let response = app.me(&[("Authorization", &long)]).await;
    assert_api_error(response, 401, "invalid_format").await;
    // Beyond the header buffer: 431 from the HTTP layer, the connection survives
    // for other callers.
    let huge = "a".repeat(256 * 1024);
    let response = app
        .http
        .get(app.url("/v1/me"))
        .header("X-Padding", &huge)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 431);
    let many = (0..200).fold(app.http.get(app.url("/v1/me")), |request, i| {
        request.header(format!("x-h{i}"), "v")
    });
    // 431 as well — though actix may close the connection before the client has
    // finished writing, and the client then sees the reset instead of the answer.
    if let Ok(response) = many.send().await {
        assert_eq!(response.status(), 431);
    }
    assert_eq!(app.status_of("/healthz").await, 200);
}

#[actix_rt::test]
async fn repeated_parameters_and_raw_bytes_in_forms_are_invalid_requests() {
    let app = TestApp::spawn().await;
    let client = app.client_with_scope("read");
    let post = |body: Vec<u8>| {
        app.http
            .post(app.url("/oauth/token"))
            .header("Authorization", basic_auth(&client.id, &client.secret))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
    };
    // Within the body limit (16 KiB by default).
    let repeated = "grant_type=client_credentials&".repeat(400);
    let scope_twice = "grant_type=client_credentials&scope=read&scope=read".to_owned();
    for body in [repeated, scope_twice] {
        let response = post(body.into_bytes()).await.unwrap();
        assert_oauth_error(response, 400, "invalid_request").await;
    }
    // Invalid UTF-8 sent raw (not percent-encoded) is refused as such; a NUL is valid
    // UTF-8, so a grant type ending in one is just not a grant type keygate knows.
    for (body, expected) in [
        (
            b"grant_type=client_credentials&x=\xff\xfe".to_vec(),
            "invalid_request",
        ),
        (
            b"grant_type=client_\xc3(credentials".to_vec(),
            "invalid_request",
        ),
        (
            b"grant_type=client_credentials\x00".to_vec(),
            "unsupported_grant_type",
        ),
    ] {
        let response = post(body).await.unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        assert_eq!(status, 400, "{text}");
        let error: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(error["error"], expected, "{text}");
    }
    assert_eq!(
        post(b"grant_type=client_credentials".to_vec())
            .await
            .unwrap()
            .status(),
        200
    );
}

/// NUL cannot be stored in PostgreSQL text: an identifier carrying one must be an
/// unknown identifier (or a bad request), never a database error.
#[actix_rt::test]
async fn nul_bytes_in_identifiers_are_unknown_not_server_errors() {
    let app = TestApp::spawn().await;
    let nul_client = basic_auth("kgc_\u{0}x", "secret");
    let response = app
        .http
        .post(app.url("/oauth/token"))
        .header("Authorization", &nul_client)
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_oauth_error(response, 401, "invalid_client").await;
    let response = app
        .http
        .post(app.url("/oauth/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", "kgc_\u{0}"),
            ("client_secret", "x"),
        ])
        .send()
        .await
        .unwrap();
    // client_secret_post: 400 (RFC 6749 §5.2; see token_errors).
    assert_oauth_error(response, 400, "invalid_client").await;

    for path in [
        "/v1/api-keys/key_%00",
        "/v1/clients/kgc_%00",
        "/v1/usage?key_id=key_%00",
        "/v1/usage?client_id=kgc_%00",
        "/v1/api-keys?after=key_%00",
        "/v1/audit-events?after=evt_%00",
    ] {
        let response = app.get(path, &app.admin_key).await;
        let status = response.status().as_u16();
        let body: serde_json::Value = response.json().await.unwrap();
        assert!(status == 400 || status == 404, "{path}: {status} {body}");
        assert!(body["error"]["code"].is_string(), "{path}: {body}");
    }
    // And inside JSON bodies: control characters are refused where text is stored.
    for (path, body) in [
        (
            "/v1/api-keys",
            serde_json::json!({"name": "a\u{0}b", "scopes": ["read"]}),
        ),
        (
            "/v1/clients",
            serde_json::json!({"name": "a\u{0}b", "scope": "read"}),
        ),
        (
            "/v1/clients",
            serde_json::json!({"name": "n", "scope": "read", "audience": "https://api.example/\u{0}"}),
        ),
    ] {
        let response = app.post_json(path, &app.admin_key, &body).await;
        assert_api_error(response, 400, "invalid_request").await;
    }
    let response = app
        .register_as(
            Some(&app.admin_key),
            &serde_json::json!({"client_name": "\u{0}", "scope": "read"}),
        )
        .await;
    assert_oauth_error(response, 400, "invalid_client_metadata").await;
    let response = app
        .http
        .get(app.url("/oauth/register/kgc_%00"))
        .header("Authorization", "Bearer kgrat_x")
        .send()
        .await
        .unwrap();
    assert_oauth_error(response, 401, "invalid_token").await;
}

#[actix_rt::test]
async fn deep_or_huge_json_is_refused_with_json() {
    let app = TestApp::spawn().await;
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let deep_object = format!(
        "{{\"name\": \"n\", \"scopes\": {}\"read\"{}}}",
        "[".repeat(5_000),
        "]".repeat(5_000)
    );
    let huge_scopes = serde_json::json!({
        "name": "many",
        "scopes": (0..20_000).map(|i| format!("s{i}")).collect::<Vec<_>>(),
    })
    .to_string();
    for path in ["/v1/api-keys", "/v1/clients"] {
        for body in [&deep, &deep_object, &huge_scopes] {
            let response = app
                .with_key(Method::POST, path, &app.admin_key)
                .header("Content-Type", "application/json")
                .body(body.clone())
                .send()
                .await
                .unwrap();
            let status = response.status().as_u16();
            assert!(status == 400 || status == 413, "{path}: {status}");
            let body: serde_json::Value = response.json().await.unwrap();
            assert!(body["error"]["code"].is_string(), "{path}: {body}");
        }
    }
    for body in [&deep, &deep_object] {
        let response = app
            .http
            .post(app.url("/oauth/register"))
            .header("Authorization", format!("Bearer {}", app.admin_key))
            .header("Content-Type", "application/json")
            .body(body.clone())
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let body: serde_json::Value = response.json().await.unwrap();
        assert!(status == 400 || status == 413, "{status} {body}");
        assert!(body["error"].is_string());
    }
    // Nothing was created (the bootstrap admin key is the only key, and there is no
    // client), and the API still answers.
    for (path, count) in [("/v1/api-keys", 1), ("/v1/clients", 0)] {
        let listed: serde_json::Value = app.get_json(path, &app.admin_key).await;
        assert_eq!(listed["data"].as_array().unwrap().len(), count, "{listed}");
    }
}

#[actix_rt::test]
async fn extreme_timestamps_in_queries_are_bad_requests() {
    let app = TestApp::spawn().await;
    let id = app.api_key("read").await.id;
    for query in [
        format!("/v1/usage?key_id={id}&to=0000-01-01T00:00:00Z"),
        format!("/v1/usage?key_id={id}&from=9999-12-31T23:59:59Z"),
        format!("/v1/usage?key_id={id}&to=%2B275760-09-13T00:00:00Z"),
        format!("/v1/usage?key_id={id}&from=-262143-01-01T00:00:00Z"),
        "/v1/audit-events?from=9999-12-31T23:59:59Z&to=0000-01-01T00:00:00Z".to_owned(),
        "/v1/audit-events?from=not-a-date".to_owned(),
        format!("/v1/audit-events?limit={}", u64::MAX),
    ] {
        let response = app.get(&query, &app.admin_key).await;
        let status = response.status().as_u16();
        let body: serde_json::Value = response.json().await.unwrap();
        assert!(status == 200 || status == 400, "{query}: {status} {body}");
        if status == 400 {
            assert_eq!(body["error"]["code"], "invalid_request", "{query}");
        }
    }
    assert_eq!(app.status_of("/healthz").await, 200);
}

/// The rotate endpoints' bodies are optional, and held to what every JSON body is:
/// `max_body_bytes` at most (413, checked against Content-Length and again while
/// reading a chunked body) and `application/json` (415) — they read up to 256 KiB
/// of anything before. The limit is the setting's, for `web::Json` bodies as well.
#[actix_rt::test]
async fn rotate_bodies_are_json_within_the_body_limit() {
    let app = TestApp::spawn_with(|s| s.max_body_bytes = 4096).await;
    let key_id = app.api_key("read").await.id;
    let client = app.client_with_scope("read");
    let padded = |len: usize| format!("{{\"overlap\": \"1h\"{}}}", " ".repeat(len));
    for path in [
        format!("/v1/api-keys/{key_id}/rotate"),
        format!("/v1/clients/{}/rotate-secret", client.id),
    ] {
        let post = || app.with_key(Method::POST, &path, &app.admin_key);
        for body in [padded(5_000), " ".repeat(200 * 1024)] {
            let response = post()
                .header("Content-Type", "application/json")
                .body(body)
                .send()
                .await
                .unwrap();
            let body = assert_api_error(response, 413, "payload_too_large").await;
            assert_eq!(body["error"]["details"]["limit_bytes"], 4096, "{path}");
        }
        // Chunked, without a Content-Length to refuse it by.
        let chunks = futures_util::stream::iter(
            (0..10).map(|_| Ok::<_, std::io::Error>(" ".repeat(1000).into_bytes())),
        );
        let response = post()
            .header("Content-Type", "application/json")
            .body(reqwest::Body::wrap_stream(chunks))
            .send()
            .await
            .unwrap();
        assert_api_error(response, 413, "payload_too_large").await;
        for content_type in [
            Some("text/plain"),
            Some("application/x-www-form-urlencoded"),
            None,
        ] {
            let mut request = post().body(r#"{"overlap": "1h"}"#);
            if let Some(content_type) = content_type {
                request = request.header("Content-Type", content_type);
            }
            let response = request.send().await.unwrap();
            assert_api_error(response, 415, "unsupported_media_type").await;
        }
        // Within the limit, as JSON: rotated.
        let response = post()
            .header("Content-Type", "application/json")
            .body(padded(3_000))
            .send()
            .await
            .unwrap();
        assert!(
            response.status().is_success(),
            "{path}: {}",
            response.status()
        );
    }
    // The same limit for the other JSON bodies.
    let response = app
        .with_key(Method::POST, "/v1/api-keys", &app.admin_key)
        .header("Content-Type", "application/json")
        .body(format!(
            r#"{{"name": "n", "scopes": ["read"]{}}}"#,
            " ".repeat(5_000)
        ))
        .send()
        .await
        .unwrap();
    assert_api_error(response, 413, "payload_too_large").await;
}

/// The rotate endpoints' body is optional; JSON `null` (what the document's nullable
/// body allows) is no body, like an empty one.
#[actix_rt::test]
async fn a_null_rotate_body_is_no_body() {
    let app = TestApp::spawn().await;
    let key_id = app.api_key("read").await.id;
    let client = app.client_with_scope("read");
    for (path, status) in [
        (format!("/v1/api-keys/{key_id}/rotate"), 201),
        (format!("/v1/clients/{}/rotate-secret", client.id), 200),
    ] {
        let response = app
            .with_key(Method::POST, &path, &app.admin_key)
            .header("Content-Type", "application/json")
            .body("null")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), status, "{path}");
    }
}
