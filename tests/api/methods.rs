//! RFC 9110 methods over HTTP: HEAD on every GET route (the GET's status and
//! headers, no content), 405 with `Allow` for every method a path does not serve,
//! TRACE included. Paths and methods come from the served OpenAPI document, so a new
//! route is covered as soon as it is documented.

use std::io::{Read, Write};

use reqwest::Method;

use crate::helpers::{header, TestApp};

/// The documented paths with a placeholder for each path parameter, and the
/// documented methods of each (upper case).
async fn documented(app: &TestApp) -> Vec<(String, String, Vec<String>)> {
    let document: serde_json::Value = app.public_json("/openapi.json").await;
    document["paths"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(path, operations)| {
            let concrete = path
                .split('/')
                .map(|part| if part.starts_with('{') { "x" } else { part })
                .collect::<Vec<_>>()
                .join("/");
            let methods = operations
                .as_object()
                .unwrap()
                .keys()
                .filter(|k| !["parameters", "summary", "description"].contains(&k.as_str()))
                .map(|m| m.to_uppercase())
                .collect();
            (path.clone(), concrete, methods)
        })
        .collect()
}

/// The raw bytes of a HEAD answer, read until the server closes the connection.
fn raw_head(address: &str, path: &str, key: &str) -> Vec<u8> {
    let mut stream = std::net::TcpStream::connect(address.trim_start_matches("http://")).unwrap();
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "HEAD {path} HTTP/1.1\r\nHost: keygate.test\r\nX-API-Key: {key}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).unwrap();
    answer
}

#[actix_rt::test]
async fn head_answers_every_get_route_like_get_without_content() {
    let app = TestApp::spawn().await;
    let mut heads = 0;
    for (path, concrete, methods) in documented(&app).await {
        if !methods.iter().any(|m| m == "GET") {
            continue;
        }
        let get = app
            .http
            .get(app.url(&concrete))
            .header("X-API-Key", &app.admin_key)
            .send()
            .await
            .unwrap();
        let head = app
            .http
            .head(app.url(&concrete))
            .header("X-API-Key", &app.admin_key)
            .send()
            .await
            .unwrap();
        assert_eq!(head.status(), get.status(), "HEAD {path}");
        if !path.contains('{') {
            assert_ne!(head.status(), 404, "HEAD {path}");
        }
        assert_eq!(
            header(&head, "content-type"),
            header(&get, "content-type"),
            "HEAD {path}"
        );
        let answer = raw_head(&app.address, &concrete, &app.admin_key);
        let text = String::from_utf8_lossy(&answer);
        let end = text.find("\r\n\r\n").expect("a complete head") + 4;
        assert_eq!(&text[end..], "", "HEAD {path} sent content");
        heads += 1;
    }
    // The metadata documents, the JWKS, health, metrics, /v1 reads, RFC 7592 read…
    assert!(heads >= 12, "only {heads} GET routes documented");
    for path in [
        "/.well-known/jwks.json",
        "/.well-known/oauth-authorization-server",
        "/healthz",
        "/openapi.json",
    ] {
        let head = app.http.head(app.url(path)).send().await.unwrap();
        assert_eq!(head.status(), 200, "HEAD {path}");
        assert!(head.bytes().await.unwrap().is_empty());
    }
}

#[actix_rt::test]
async fn every_other_method_is_405_with_allow_trace_included() {
    let app = TestApp::spawn().await;
    let all = [
        "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE",
    ];
    for (path, concrete, documented) in documented(&app).await {
        if path.starts_with("/v1/forward-auth") {
            continue; // any method, by design
        }
        let mut allowed: Vec<String> = documented.clone();
        if allowed.iter().any(|m| m == "GET") {
            allowed.push("HEAD".into());
        }
        for method in all {
            if allowed.iter().any(|m| m == method) {
                continue;
            }
            let response = app
                .http
                .request(
                    Method::from_bytes(method.as_bytes()).unwrap(),
                    app.url(&concrete),
                )
                .header("X-API-Key", &app.admin_key)
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 405, "{method} {path}");
            let mut allow: Vec<String> = header(&response, "allow")
                .split(", ")
                .map(str::to_owned)
                .collect();
            allow.sort();
            allowed.sort();
            assert_eq!(allow, allowed, "Allow of {method} {path}");
            if method == "HEAD" {
                continue; // no content to check
            }
            let body: serde_json::Value = response.json().await.unwrap();
            if path.starts_with("/oauth/") {
                assert_eq!(body["error"], "invalid_request", "{method} {path}");
            } else {
                assert_eq!(
                    body["error"]["code"], "method_not_allowed",
                    "{method} {path}"
                );
            }
        }
    }
}

#[actix_rt::test]
async fn forward_auth_passes_trace_and_head_through() {
    let app = TestApp::spawn().await;
    for method in [Method::TRACE, Method::HEAD, Method::OPTIONS] {
        let response = app
            .http
            .request(method.clone(), app.url("/v1/forward-auth"))
            .header("X-API-Key", &app.admin_key)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{method}");
        assert!(!header(&response, "x-keygate-subject").is_empty());
    }
}
