//! `/v1/forward-auth` for gateways: over HTTP, and behind a real nginx
//! (`auth_request`) in front of a small upstream.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};

use crate::helpers::{assert_api_error, header, TestApp, ISSUER};

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
    let (id, key) = app.operator_key("default", "read write", None);
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

#[actix_rt::test]
async fn requirements_from_the_gateway_cannot_be_weakened_by_the_client() {
    let app = TestApp::spawn().await;
    let (_, reader) = app.operator_key("default", "read", None);
    let (_, admin) = app.operator_key("default", "read admin", None);
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

/// The upstream behind nginx: echoes the identity headers it received.
async fn echo(req: HttpRequest) -> HttpResponse {
    let get = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    HttpResponse::Ok().json(serde_json::json!({
        "subject": get("x-keygate-subject"),
        "org": get("x-keygate-org"),
        "scopes": get("x-keygate-scopes"),
        "credential": get("x-keygate-credential"),
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

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[actix_rt::test]
async fn nginx_auth_request_lets_a_valid_key_through_with_identity_headers() {
    let nginx = std::env::var("KEYGATE_TEST_NGINX").unwrap_or_else(|_| "/usr/sbin/nginx".into());
    if !std::path::Path::new(&nginx).exists() {
        eprintln!("skipped: no nginx at {nginx} (set KEYGATE_TEST_NGINX; .ci/run installs it)");
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
    server {{
        listen 127.0.0.1:{port};
        location / {{
            auth_request /_keygate;
            auth_request_set $kg_subject $upstream_http_x_keygate_subject;
            auth_request_set $kg_org $upstream_http_x_keygate_org;
            auth_request_set $kg_scopes $upstream_http_x_keygate_scopes;
            auth_request_set $kg_credential $upstream_http_x_keygate_credential;
            proxy_set_header X-Keygate-Subject $kg_subject;
            proxy_set_header X-Keygate-Org $kg_org;
            proxy_set_header X-Keygate-Scopes $kg_scopes;
            proxy_set_header X-Keygate-Credential $kg_credential;
            proxy_pass http://127.0.0.1:{upstream_port};
        }}
        location /admin/ {{
            auth_request /_keygate_admin;
            proxy_pass http://127.0.0.1:{upstream_port};
        }}
        location = /_keygate {{
            internal;
            proxy_pass http://127.0.0.1:{keygate_port}/v1/forward-auth;
            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
        }}
        location = /_keygate_admin {{
            internal;
            proxy_pass http://127.0.0.1:{keygate_port}/v1/forward-auth?scope=admin;
            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
        }}
    }}
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

    let (id, key) = app.operator_key("default", "read", None);
    let through = app
        .http
        .get(format!("{base}/orders"))
        .header("X-API-Key", &key)
        .send()
        .await
        .unwrap();
    assert_eq!(through.status(), 200);
    let seen: serde_json::Value = through.json().await.unwrap();
    assert_eq!(seen["subject"], id.as_str());
    assert_eq!(seen["credential"], "api_key");
    assert_eq!(seen["scopes"], "read");
    assert_eq!(seen["path"], "/orders");
    assert!(seen["org"].as_str().unwrap().starts_with("org_"));

    let refused = app.http.get(format!("{base}/orders")).send().await.unwrap();
    assert_eq!(refused.status(), 401, "no credential, no upstream");
    let refused = app
        .http
        .get(format!("{base}/orders"))
        .header("X-API-Key", "kg_live_not-a-key")
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);
    let forbidden = app
        .http
        .get(format!("{base}/admin/users"))
        .header("X-API-Key", &key)
        .send()
        .await
        .unwrap();
    assert_eq!(forbidden.status(), 403, "the route needs admin");
}
