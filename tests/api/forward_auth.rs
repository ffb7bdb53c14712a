//! `/v1/forward-auth` for gateways: over HTTP, and behind a real nginx
//! (`auth_request`) in front of a small upstream.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};

use crate::helpers::process::free_port;
use crate::helpers::{assert_api_error, header, TestApp, TestKey, ISSUER};

async fn forward(app: &TestApp, query: &str, headers: &[(&str, &str)]) -> reqwest::Response {
    let mut request = app.http.get(app.url(&format!("/v1/forward-auth{query}")));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.send().await.unwrap()
}

#[actix_rt::test]
async fn a_credential_becomes_identity_headers_for_the_upstream() {
    let app = TestApp::spawn().await;
    let TestKey { id, key } = app.operator_key("default", "read write", None);
    let response = forward(&app, "", &[("X-API-Key", &key)]).await;
    assert_eq!(response.status(), 200);
    assert_eq!(header(&response, "x-keygate-subject"), id);
    assert_eq!(header(&response, "x-keygate-key-id"), id);
    assert_eq!(header(&response, "x-keygate-credential"), "api_key");
    assert_eq!(header(&response, "x-keygate-scopes"), "read write");
    assert!(header(&response, "x-keygate-org").starts_with("org_"));
    assert!(!header(&response, "ratelimit-limit").is_empty());

    // Envoy appends the original path to the prefix.
    let envoy = forward(&app, "/orders/42?scope=read", &[("X-API-Key", &key)]).await;
    assert_eq!(envoy.status(), 200);

    // A route's required scope, from the query or a header.
    assert_eq!(
        forward(&app, "?scope=write", &[("X-API-Key", &key)])
            .await
            .status(),
        200
    );
    let response = forward(&app, "?scope=admin", &[("X-API-Key", &key)]).await;
    let body = assert_api_error(response, 403, "insufficient_scope").await;
    assert_eq!(body["error"]["details"]["required_scope"], "admin");
    let response = forward(
        &app,
        "",
        &[("X-API-Key", &key), ("X-Keygate-Required-Scope", "webhook")],
    )
    .await;
    assert_api_error(response, 403, "insufficient_scope").await;
    for bad in ["?scope=", "?scope=%22", "?audience="] {
        let response = forward(&app, bad, &[("X-API-Key", &key)]).await;
        assert_api_error(response, 400, "invalid_request").await;
    }
    assert_api_error(forward(&app, "", &[]).await, 401, "missing_credentials").await;
    let response = forward(&app, "", &[("Authorization", "Bearer a.b.c")]).await;
    assert_api_error(response, 401, "invalid_token").await;
}

/// The `resource_metadata` parameter of a `WWW-Authenticate: Bearer …` challenge
/// (RFC 9728 §5.1), its quoted-string unescaped; `None` when it has none.
fn resource_metadata(challenge: &str) -> Option<String> {
    let (_, rest) = challenge.split_once("resource_metadata=\"")?;
    let mut value = String::new();
    let mut chars = rest.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => value.push(chars.next()?),
            '"' => return Some(value),
            c => value.push(c),
        }
    }
    None
}

#[actix_rt::test]
async fn a_401_names_the_metadata_of_the_resource_the_route_checks() {
    let app = TestApp::spawn().await;
    let bare = format!("{ISSUER}/.well-known/oauth-protected-resource");
    let management = format!("{ISSUER}/v1");
    let platform = app.token_json(&app.client_with_scope("read")).await;
    let platform = format!("Bearer {}", platform["access_token"].as_str().unwrap());
    for (query, headers, url, resource) in [
        // No credential, and an invalid one: the default audience's document.
        ("", vec![], &bare, ISSUER.to_owned()),
        (
            "",
            vec![("Authorization", "Bearer a.b.c")],
            &bare,
            ISSUER.to_owned(),
        ),
        (
            "",
            vec![("X-API-Key", "kg_live_not-a-key")],
            &bare,
            ISSUER.to_owned(),
        ),
        // The gateway names keygate's management audience: its own document, and a
        // token for the platform's API is refused there.
        (
            "?audience=http%3A%2F%2Fkeygate.test%2Fv1",
            vec![("Authorization", platform.as_str())],
            &format!("{bare}/v1"),
            management.clone(),
        ),
        (
            "",
            vec![("X-Keygate-Required-Audience", management.as_str())],
            &format!("{bare}/v1"),
            management.clone(),
        ),
        // An audience keygate does not describe: the default document.
        (
            "?audience=https%3A%2F%2Felsewhere.example",
            vec![],
            &bare,
            ISSUER.to_owned(),
        ),
    ] {
        let response = forward(&app, query, &headers).await;
        assert_eq!(response.status(), 401, "{query} {headers:?}");
        let challenge = header(&response, "www-authenticate");
        assert!(
            challenge.starts_with("Bearer realm=\"keygate\""),
            "{challenge}"
        );
        let named = resource_metadata(&challenge).unwrap_or_else(|| panic!("{challenge}"));
        assert_eq!(&named, url, "{query} {headers:?}");
        // The URL serves the document of that resource.
        let path = named.strip_prefix(ISSUER).unwrap();
        let doc = app.public_json(path).await;
        assert_eq!(doc["resource"], resource, "{path}");
        assert_eq!(doc["authorization_servers"], serde_json::json!([ISSUER]));
    }

    // Only a 401 names it: not a 403, and a 200 has no challenge at all.
    let reader = app.operator_key("default", "read", None).key;
    let response = forward(&app, "?scope=admin", &[("X-API-Key", &reader)]).await;
    assert_eq!(response.status(), 403);
    assert_eq!(
        resource_metadata(&header(&response, "www-authenticate")),
        None
    );
    let response = forward(&app, "", &[("X-API-Key", &reader)]).await;
    assert_eq!(response.status(), 200);
    assert_eq!(header(&response, "www-authenticate"), "");
    // keygate's own API does not (yet) name one.
    let me = app.me(&[]).await;
    assert_eq!(header(&me, "www-authenticate"), "Bearer realm=\"keygate\"");
}

#[actix_rt::test]
async fn requirements_from_the_gateway_cannot_be_weakened_by_the_client() {
    let app = TestApp::spawn().await;
    let reader = app.operator_key("default", "read", None).key;
    let admin = app.operator_key("default", "read admin", None).key;
    let key = |k: &str| ("X-API-Key", k.to_owned());
    let status = |query: &'static str, headers: Vec<(&'static str, String)>| {
        let app = &app;
        async move {
            let pairs: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
            forward(app, query, &pairs).await
        }
    };
    // The gateway asks for admin in its header; the client's own ?scope=read (Envoy
    // appends the client's query) adds a requirement, it replaces nothing.
    let gateway_admin = ("X-Keygate-Required-Scope", "admin".to_owned());
    let response = status("?scope=read", vec![key(&reader), gateway_admin.clone()]).await;
    let body = assert_api_error(response, 403, "insufficient_scope").await;
    assert_eq!(body["error"]["details"]["required_scope"], "admin");
    let response = status("?scope=read", vec![key(&admin), gateway_admin.clone()]).await;
    assert_eq!(response.status(), 200);
    // Several requirements all apply, in any position.
    for query in [
        "?scope=read&scope=admin",
        "?scope=admin&scope=read",
        "?scope=read%20admin",
    ] {
        let response = status(query, vec![key(&reader)]).await;
        assert_api_error(response, 403, "insufficient_scope").await;
    }
    let two_headers = vec![
        key(&reader),
        ("X-Keygate-Required-Scope", "read".to_owned()),
        gateway_admin.clone(),
    ];
    assert_api_error(status("", two_headers).await, 403, "insufficient_scope").await;
    // A requirement that cannot be read is refused, never read as none.
    let mut request = app
        .http
        .get(app.url("/v1/forward-auth"))
        .header("X-API-Key", &admin);
    request = request.header(
        "X-Keygate-Required-Scope",
        reqwest::header::HeaderValue::from_bytes("admin\u{e9}".as_bytes()).unwrap(),
    );
    assert_api_error(request.send().await.unwrap(), 400, "invalid_request").await;
    // A refusal carries its own body for gateways that drop it (nginx).
    let response = status("?scope=admin", vec![key(&reader)]).await;
    let carried: serde_json::Value =
        serde_json::from_str(&header(&response, "x-keygate-error")).unwrap();
    let body = assert_api_error(response, 403, "insufficient_scope").await;
    assert_eq!(carried, body);
}

#[actix_rt::test]
async fn forward_auth_checks_the_audience_the_gateway_names() {
    let app = TestApp::spawn().await;
    let token_of = |client: crate::helpers::TestClient| {
        let app = &app;
        async move {
            let body = app.token_json(&client).await;
            format!("Bearer {}", body["access_token"].as_str().unwrap())
        }
    };
    let platform = token_of(app.client_with_scope("read")).await;
    let manager = token_of(app.management_client("read admin")).await;
    let billing = token_of(app.client(keygate::clients::ClientRegistration {
        name: "billing".into(),
        scope: "read".into(),
        audience: Some("https://billing.example".into()),
        ..Default::default()
    }))
    .await;
    fn auth(bearer: &str) -> Vec<(&'static str, &str)> {
        vec![("Authorization", bearer)]
    }
    // A token for the platform's API (default audience) passes, by default.
    assert_eq!(forward(&app, "", &auth(&platform)).await.status(), 200);
    // ... and describes itself on /v1/me, but does not manage keygate.
    assert_eq!(app.me(&auth(&platform)).await.status(), 200);
    let response = app
        .http
        .get(app.url("/v1/api-keys"))
        .header("Authorization", &platform)
        .send()
        .await
        .unwrap();
    assert_api_error(response, 401, "invalid_token").await;
    // A management token is not for the platform's API.
    let response = forward(&app, "", &auth(&manager)).await;
    assert_api_error(response, 401, "invalid_token").await;
    // A route of another resource names its audience; only its tokens pass.
    let billing_route = [("X-Keygate-Required-Audience", "https://billing.example")];
    for (bearer, expected) in [(&billing, 200), (&platform, 401), (&manager, 401)] {
        let mut headers = auth(bearer);
        headers.extend(billing_route);
        assert_eq!(
            forward(&app, "", &headers).await.status(),
            expected,
            "{bearer}"
        );
    }
    // Two different audiences named: no token can carry both.
    let response = forward(
        &app,
        "?audience=https%3A%2F%2Fbilling.example",
        &[
            ("Authorization", &billing),
            ("X-Keygate-Required-Audience", ISSUER),
        ],
    )
    .await;
    assert_api_error(response, 401, "invalid_token").await;
    // The management audience passes only where it is the one named.
    let management = format!("{ISSUER}/v1");
    let response = forward(
        &app,
        "",
        &[
            ("Authorization", &manager),
            ("X-Keygate-Required-Audience", &management),
        ],
    )
    .await;
    assert_eq!(response.status(), 200);
}

/// The upstream behind nginx: echoes the identity headers it received (absent ones
/// as `null`).
async fn echo(req: HttpRequest) -> HttpResponse {
    let get = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    HttpResponse::Ok().json(serde_json::json!({
        "subject": get("x-keygate-subject"),
        "org": get("x-keygate-org"),
        "scopes": get("x-keygate-scopes"),
        "credential": get("x-keygate-credential"),
        "key_id": get("x-keygate-key-id"),
        "client_id": get("x-keygate-client-id"),
        "path": req.path(),
    }))
}

struct Nginx(Child);

impl Drop for Nginx {
    /// SIGTERM to the master, which stops its workers (SIGKILL would orphan them).
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status();
        let _ = self.0.wait();
    }
}

/// The README's nginx `server` block, exactly as documented.
fn documented_nginx_server() -> String {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let (_, after) = readme
        .split_once("<!-- nginx-forward-auth -->\n```nginx\n")
        .expect("the README's nginx block");
    after.split_once("```").unwrap().0.to_owned()
}

#[actix_rt::test]
#[ignore = "needs nginx (KEYGATE_TEST_NGINX, default /usr/sbin/nginx): cargo test -- --include-ignored"]
async fn the_documented_nginx_configuration_passes_identity_and_refusals_faithfully() {
    let nginx = std::env::var("KEYGATE_TEST_NGINX").unwrap_or_else(|_| "/usr/sbin/nginx".into());
    if !crate::helpers::available(
        &format!("nginx at {nginx}"),
        std::path::Path::new(&nginx).exists(),
    ) {
        return;
    }
    let app = TestApp::spawn().await;
    let keygate_port = app.address.rsplit(':').next().unwrap().to_owned();
    let upstream = HttpServer::new(|| App::new().default_service(web::to(echo)))
        .workers(1)
        .bind(("127.0.0.1", 0))
        .unwrap();
    let upstream_port = upstream.addrs()[0].port();
    actix_web::rt::spawn(upstream.run());

    let dir = tempfile::tempdir().unwrap();
    let prefix = dir.path().display().to_string();
    let port = free_port();
    let server = documented_nginx_server()
        .replace("listen 80;", &format!("listen 127.0.0.1:{port};"))
        .replace("127.0.0.1:8080", &format!("127.0.0.1:{keygate_port}"))
        .replace("127.0.0.1:3000", &format!("127.0.0.1:{upstream_port}"))
        .replace("https://api.example.com", app.settings.audience());
    assert!(server.contains(&format!("127.0.0.1:{keygate_port}/v1/forward-auth")));
    let config = format!(
        r#"
worker_processes 1;
daemon off;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {prefix}/body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
{server}
}}
"#
    );
    let config_path = dir.path().join("nginx.conf");
    std::fs::write(&config_path, config).unwrap();
    let _nginx = Nginx(
        Command::new(&nginx)
            .args(["-p", &prefix, "-c"])
            .arg(&config_path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let base = format!("http://127.0.0.1:{port}");
    let mut up = false;
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            up = true;
            break;
        }
        actix_rt::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        up,
        "nginx did not start: {:?}",
        std::fs::read_to_string(dir.path().join("error.log"))
    );
    let get = |path: &str, headers: &[(&str, &str)]| {
        let mut request = app.http.get(format!("{base}{path}"));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.send()
    };
    let spoofed = [
        ("X-Keygate-Subject", "key_spoofed"),
        ("X-Keygate-Org", "org_spoofed"),
        ("X-Keygate-Scopes", "admin"),
        ("X-Keygate-Credential", "access_token"),
        ("X-Keygate-Key-Id", "key_spoofed"),
        ("X-Keygate-Client-Id", "kgc_spoofed"),
    ];

    // Every location: the upstream sees keygate's identity, never the client's.
    let TestKey { id, key: admin } = app.operator_key("default", "read admin", None);
    for path in ["/orders", "/admin/users"] {
        let mut headers = vec![("X-API-Key", admin.as_str())];
        headers.extend(spoofed);
        let through = get(path, &headers).await.unwrap();
        assert_eq!(through.status(), 200, "{path}");
        let seen: serde_json::Value = through.json().await.unwrap();
        assert_eq!(seen["subject"], id.as_str(), "{path}: {seen}");
        assert_eq!(seen["key_id"], id.as_str(), "{path}: {seen}");
        assert_eq!(seen["credential"], "api_key", "{path}: {seen}");
        assert_eq!(seen["scopes"], "admin read", "{path}: {seen}");
        assert!(seen["org"].as_str().unwrap().starts_with("org_"), "{seen}");
        assert_eq!(seen["client_id"], serde_json::Value::Null, "{path}: {seen}");
        assert_eq!(seen["path"], path);
    }

    // Refusals arrive as keygate sent them: status, JSON body, challenge.
    let refused = get("/orders", &[]).await.unwrap();
    assert_eq!(refused.status(), 401, "no credential, no upstream");
    assert_api_error(refused, 401, "missing_credentials").await;
    let refused = get("/orders", &[("X-API-Key", "kg_live_not-a-key")])
        .await
        .unwrap();
    assert_api_error(refused, 401, "invalid_format").await;
    let reader = app.operator_key("default", "read", None).key;
    let mut headers = vec![("X-API-Key", reader.as_str())];
    headers.push(("X-Keygate-Required-Scope", "read"));
    let forbidden = get("/admin/users", &headers).await.unwrap();
    let body = assert_api_error(forbidden, 403, "insufficient_scope").await;
    assert_eq!(body["error"]["details"]["required_scope"], "admin");

    // Access tokens: the route's named audience, whatever the client adds.
    let platform = app.token_json(&app.client_with_scope("read")).await;
    let platform = format!("Bearer {}", platform["access_token"].as_str().unwrap());
    let manager = app.token_json(&app.management_client("read admin")).await;
    let manager = format!("Bearer {}", manager["access_token"].as_str().unwrap());
    let management = format!("{}/v1", crate::helpers::ISSUER);
    assert_eq!(
        get("/orders", &[("Authorization", &platform)])
            .await
            .unwrap()
            .status(),
        200
    );
    for query in ["", "?audience="] {
        let path = format!(
            "/orders{query}{}",
            if query.is_empty() { "" } else { &management }
        );
        let refused = get(
            &path,
            &[
                ("Authorization", &manager),
                ("X-Keygate-Required-Audience", &management),
            ],
        )
        .await
        .unwrap();
        assert_api_error(refused, 401, "invalid_token").await;
    }

    // A 429 stays a 429, with its Retry-After (plain auth_request makes it a 500).
    let slow = app.operator_key("default", "read", Some(1)).key;
    assert_eq!(
        get("/orders", &[("X-API-Key", &slow)])
            .await
            .unwrap()
            .status(),
        200
    );
    let limited = get("/orders", &[("X-API-Key", &slow)]).await.unwrap();
    assert!(!header(&limited, "retry-after").is_empty());
    let body = assert_api_error(limited, 429, "rate_limit_exceeded").await;
    assert!(body["error"]["details"]["retry_after"].as_u64().unwrap() >= 1);
}
