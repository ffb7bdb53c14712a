//! RFC 8414 and RFC 9728 metadata, the JWKS, health and unknown routes.

use std::io::{Read, Write};

use crate::helpers::{assert_api_error, header, DatabaseSwitch, TestApp, ISSUER};

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
        serde_json::json!(["authorization_code", "client_credentials", "refresh_token"])
    );
    assert_eq!(
        doc["token_endpoint_auth_methods_supported"],
        serde_json::json!(["client_secret_basic", "client_secret_post", "none"])
    );
    assert_eq!(
        doc["introspection_endpoint_auth_methods_supported"],
        serde_json::json!(["client_secret_basic", "client_secret_post"])
    );
    assert_eq!(
        doc["scopes_supported"],
        serde_json::json!(["admin", "read", "webhook", "write"])
    );
    assert_eq!(
        doc["authorization_endpoint"],
        format!("{ISSUER}/oauth/authorize")
    );
    assert_eq!(doc["response_types_supported"], serde_json::json!(["code"]));
    assert_eq!(
        doc["code_challenge_methods_supported"],
        serde_json::json!(["S256"])
    );
    assert_eq!(doc["authorization_response_iss_parameter_supported"], true);
    // Only members of the IANA OAuth Authorization Server Metadata registry: nothing
    // claims RFC 8707 support by an unregistered name, and no RFC 9728
    // `protected_resources` list (each client's audiences are its own, not public).
    let registered = [
        "issuer",
        "token_endpoint",
        "jwks_uri",
        "grant_types_supported",
        "token_endpoint_auth_methods_supported",
        "revocation_endpoint",
        "revocation_endpoint_auth_methods_supported",
        "introspection_endpoint",
        "introspection_endpoint_auth_methods_supported",
        "registration_endpoint",
        "scopes_supported",
        "authorization_endpoint",
        "response_types_supported",
        "code_challenge_methods_supported",
        "authorization_response_iss_parameter_supported",
    ];
    for member in doc.as_object().unwrap().keys() {
        assert!(
            registered.contains(&member.as_str()),
            "unexpected member {member}"
        );
    }
}

const PROTECTED_RESOURCE: &str = "/.well-known/oauth-protected-resource";

/// The RFC 9728 document keygate serves at `path`, checked for what every one holds.
async fn resource_document(app: &TestApp, path: &str) -> serde_json::Value {
    let response = app.public_get(path).await;
    assert_eq!(response.status(), 200, "{path}");
    assert!(header(&response, "content-type").starts_with("application/json"));
    assert_eq!(header(&response, "cache-control"), "public, max-age=3600");
    let doc: serde_json::Value = response.json().await.unwrap();
    assert_eq!(doc["authorization_servers"], serde_json::json!([ISSUER]));
    assert_eq!(
        doc["scopes_supported"],
        serde_json::json!(["admin", "read", "webhook", "write"])
    );
    assert_eq!(
        doc["bearer_methods_supported"],
        serde_json::json!(["header"])
    );
    // RFC 9728 §2 members only; the key set is the authorization server's (RFC 8414).
    for member in doc.as_object().unwrap().keys() {
        assert!(
            [
                "resource",
                "authorization_servers",
                "scopes_supported",
                "bearer_methods_supported"
            ]
            .contains(&member.as_str()),
            "unexpected member {member}"
        );
    }
    doc
}

#[actix_web::test]
async fn protected_resource_metadata_describes_the_default_and_management_resources() {
    let app = TestApp::spawn().await;
    // default_audience defaults to the issuer, management_audience to <issuer>/v1.
    let default = resource_document(&app, PROTECTED_RESOURCE).await;
    assert_eq!(default["resource"], ISSUER);
    let management = resource_document(&app, &format!("{PROTECTED_RESOURCE}/v1")).await;
    assert_eq!(management["resource"], format!("{ISSUER}/v1"));

    // A default audience on another host: the bare URL serves it, and so does its
    // path after the well-known name (RFC 9728 §3.1).
    let app = TestApp::spawn_with(|s| {
        s.default_audience = Some("https://api.example.com/orders".into());
        s.management_audience = Some("https://manage.example.com/admin/v2".into());
    })
    .await;
    for path in ["", "/orders"] {
        let doc = resource_document(&app, &format!("{PROTECTED_RESOURCE}{path}")).await;
        assert_eq!(doc["resource"], "https://api.example.com/orders", "{path}");
    }
    let doc = resource_document(&app, &format!("{PROTECTED_RESOURCE}/admin/v2")).await;
    assert_eq!(doc["resource"], "https://manage.example.com/admin/v2");
    // HEAD as GET.
    let head = app
        .http
        .head(app.url(PROTECTED_RESOURCE))
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), 200);
}

#[actix_web::test]
async fn unknown_protected_resources_are_404_in_the_envelope() {
    let app = TestApp::spawn().await;
    for rest in [
        "/", "/nope", "/v1/", "/V1", "/v2", "/v1/me", "/%76%31", "/v1%00", "/%ZZ",
    ] {
        let response = app.public_get(&format!("{PROTECTED_RESOURCE}{rest}")).await;
        let body = assert_api_error(response, 404, "not_found").await;
        assert_eq!(body["error"]["details"], serde_json::json!({}), "{rest}");
    }
    let response = app
        .http
        .post(app.url(PROTECTED_RESOURCE))
        .send()
        .await
        .unwrap();
    assert_api_error(response, 405, "method_not_allowed").await;
}

/// A GET sent as raw bytes, so that nothing normalizes the path on the way (a URL
/// library resolves `..`, even percent-encoded); returns the status and the body.
fn raw_get(address: &str, path: &str) -> (u16, String) {
    let mut stream = std::net::TcpStream::connect(address.trim_start_matches("http://")).unwrap();
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: keygate.test\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = Vec::new();
    // The server may answer and close before reading all of a huge request.
    let _ = stream.read_to_end(&mut answer);
    let text = String::from_utf8_lossy(&answer).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line for {:.80}: {text:?}", path));
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_owned())
        .unwrap_or_default();
    (status, body)
}

#[actix_web::test]
async fn hostile_protected_resource_paths_are_404_never_500() {
    let app = TestApp::spawn().await;
    // Serving before the blocking raw requests below hold this thread.
    assert_eq!(app.status_of("/healthz").await, 200);
    let long = "a/".repeat(2000);
    for rest in [
        "/..",
        "/../v1",
        "/v1/..",
        "/./v1",
        "/%2e%2e/v1",
        "/%2E%2E%2Fv1",
        "/v1%2F",
        "/%00",
        "/%C0%AF",
        "/%FF%FE",
        "/%",
        "/%%",
        "//v1",
        "/v1;x",
        "/../../v1/me",
        &long,
    ] {
        let path = format!("{PROTECTED_RESOURCE}{rest}");
        let (status, body) = raw_get(&app.address, &path);
        assert_eq!(status, 404, "{path:.80}: {body}");
        let body: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(body["error"]["code"], "not_found", "{path:.80}");
    }
    // Beyond the HTTP layer's limits: refused there, clearly.
    let huge = format!("{PROTECTED_RESOURCE}/{}", "a".repeat(64 * 1024));
    let (status, _) = raw_get(&app.address, &huge);
    assert!((400..500).contains(&status), "{status}");
    assert_eq!(app.status_of("/healthz").await, 200);
}

#[actix_web::test]
async fn jwks_publishes_public_keys_only_including_pending_ones() {
    let app = TestApp::spawn_with(|settings| {
        let keys = &settings.keys_dir;
        keygate::tokens::signing_keys::generate(
            keys,
            keygate::tokens::KeyAlg::ES256,
            chrono::Utc::now(),
        )
        .unwrap();
        // A second key is pending: published before it signs, so caches learn it early.
        keygate::tokens::signing_keys::generate(
            keys,
            keygate::tokens::KeyAlg::RS256,
            chrono::Utc::now(),
        )
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

#[actix_rt::test]
async fn metrics_count_requests_tokens_and_resolver_outcomes() {
    let app = TestApp::spawn().await;
    let client = app.client_with_scope("read");
    app.token_json(&client).await;
    let wrong = client.with_secret("kgs_wrong");
    app.token_basic(&wrong, &[("grant_type", "client_credentials")])
        .await;
    let key = app.operator_key("default", "read", None).key;
    assert_eq!(app.me(&[("X-API-Key", &key)]).await.status(), 200);
    assert_eq!(app.me(&[]).await.status(), 401);
    let id = app.operator_key("default", "read", None).id;
    app.get(&format!("/v1/api-keys/{id}"), &app.admin_key).await;

    let response = app.http.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(header(&response, "content-type").starts_with("application/openmetrics-text"));
    let text = response.text().await.unwrap();
    for expected in [
        r#"keygate_http_requests_total{route="/v1/me",method="GET",status="200"} 1"#,
        r#"keygate_http_requests_total{route="/v1/me",method="GET",status="401"} 1"#,
        // Route patterns, not paths: no ids in labels.
        r#"keygate_http_requests_total{route="/v1/api-keys/{id}",method="GET",status="200"} 1"#,
        r#"keygate_tokens_total{grant="client_credentials",outcome="issued"} 1"#,
        r#"keygate_tokens_total{grant="client_credentials",outcome="invalid_client"} 1"#,
        r#"keygate_resolver_outcomes_total{credential="api_key",outcome="ok"}"#,
        r#"keygate_resolver_outcomes_total{credential="none",outcome="missing_credentials"} 1"#,
        "keygate_http_request_duration_seconds_bucket",
        "keygate_argon2_waiting 0",
        "keygate_db_pool_connections",
    ] {
        assert!(text.contains(expected), "{expected} missing from:\n{text}");
    }
    for secret in [&key, &client.secret, &id] {
        assert!(
            !text.contains(secret.as_str()),
            "an id or secret in the metrics"
        );
    }
}

/// Every route keygate serves, as (method, path): the document must describe
/// exactly these (forward-auth, which takes any method, is described by its GET).
const ROUTES: &[(&str, &str)] = &[
    ("post", "/oauth/token"),
    ("post", "/oauth/revoke"),
    ("post", "/oauth/introspect"),
    ("post", "/oauth/register"),
    ("get", "/oauth/register/{client_id}"),
    ("put", "/oauth/register/{client_id}"),
    ("delete", "/oauth/register/{client_id}"),
    ("get", "/.well-known/oauth-authorization-server"),
    ("get", "/.well-known/oauth-protected-resource"),
    (
        "get",
        "/.well-known/oauth-protected-resource/{resource_path}",
    ),
    ("get", "/.well-known/jwks.json"),
    ("get", "/v1/me"),
    ("get", "/v1/forward-auth"),
    ("post", "/v1/api-keys"),
    ("get", "/v1/api-keys"),
    ("get", "/v1/api-keys/{id}"),
    ("patch", "/v1/api-keys/{id}"),
    ("delete", "/v1/api-keys/{id}"),
    ("post", "/v1/api-keys/{id}/rotate"),
    ("get", "/v1/api-key-policy"),
    ("put", "/v1/api-key-policy"),
    ("post", "/v1/clients"),
    ("get", "/v1/clients"),
    ("get", "/v1/clients/{id}"),
    ("patch", "/v1/clients/{id}"),
    ("post", "/v1/clients/{id}/disable"),
    ("post", "/v1/clients/{id}/rotate-secret"),
    ("get", "/v1/members"),
    ("post", "/v1/members"),
    ("patch", "/v1/members/{user_id}"),
    ("delete", "/v1/members/{user_id}"),
    ("get", "/v1/organization"),
    ("patch", "/v1/organization"),
    ("get", "/v1/usage"),
    ("get", "/v1/audit-events"),
    ("get", "/healthz"),
    ("get", "/readyz"),
    ("get", "/metrics"),
    ("get", "/openapi.json"),
];

async fn openapi_document(app: &TestApp) -> serde_json::Value {
    app.public_json("/openapi.json").await
}

#[actix_rt::test]
async fn every_documented_operation_is_served() {
    let app = TestApp::spawn().await;
    let document = openapi_document(&app).await;
    assert_eq!(document["openapi"], "3.1.0");
    let paths = document["paths"].as_object().unwrap();
    let mut documented: Vec<(String, String)> = paths
        .iter()
        .flat_map(|(path, operations)| {
            operations
                .as_object()
                .unwrap()
                .keys()
                .map(|method| (method.clone(), path.clone()))
        })
        .collect();
    documented.sort();
    let mut routes: Vec<(String, String)> = ROUTES
        .iter()
        .map(|(m, p)| ((*m).to_owned(), (*p).to_owned()))
        .collect();
    routes.sort();
    assert_eq!(
        documented, routes,
        "the document describes every route, no more"
    );
    for (method, path) in &documented {
        // Path parameters get a placeholder; no credentials, so a served route
        // answers 2xx, 400 or 401 — never the 404 of an unknown route or a 405.
        let concrete = path
            .split('/')
            .map(|part| match part {
                // A path whose document keygate serves (the management audience's).
                "{resource_path}" => "v1",
                part if part.starts_with('{') => "x",
                part => part,
            })
            .collect::<Vec<_>>()
            .join("/");
        let method = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
        let response = app
            .http
            .request(method.clone(), app.url(&concrete))
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        assert!(
            status != 404 && status != 405,
            "{method} {path} is documented but answered {status}"
        );
        // And the status it answered is one the document lists for it.
        let responses = &paths[path][method.as_str().to_lowercase()]["responses"];
        assert!(
            responses.get(status.to_string()).is_some(),
            "{method} {path} answered {status}, not documented: {responses}"
        );
    }
    // And an undocumented path is indeed a 404 here.
    let unknown = app.http.get(app.url("/v1/nothing")).send().await.unwrap();
    assert_eq!(unknown.status(), 404);
}

#[actix_rt::test]
async fn the_document_describes_bodies_parameters_errors_and_security() {
    let app = TestApp::spawn().await;
    let document = openapi_document(&app).await;
    let schemes = &document["components"]["securitySchemes"];
    assert_eq!(schemes["bearer"]["type"], "http");
    assert_eq!(schemes["bearer"]["scheme"], "bearer");
    assert_eq!(schemes["apiKey"]["type"], "apiKey");
    assert_eq!(schemes["apiKey"]["in"], "header");
    assert_eq!(schemes["apiKey"]["name"], "X-API-Key");
    assert_eq!(schemes["clientSecretBasic"]["scheme"], "basic");
    // client_secret_post is form fields, not a security scheme.
    for scheme in schemes.as_object().unwrap().values() {
        assert_ne!(scheme["in"], "query", "{scheme}");
    }
    let paths = &document["paths"];
    let token = &paths["/oauth/token"]["post"];
    let form = &token["requestBody"]["content"]["application/x-www-form-urlencoded"];
    assert!(form["schema"]["$ref"]
        .as_str()
        .unwrap()
        .ends_with("/TokenForm"));
    // One form per grant type; refresh_token required in its own.
    let grants = document["components"]["schemas"]["TokenForm"]["oneOf"]
        .as_array()
        .unwrap();
    assert_eq!(grants.len(), 2);
    for grant in grants {
        for field in ["grant_type", "scope", "client_id", "client_secret"] {
            assert!(grant["properties"].get(field).is_some(), "{field}");
        }
    }
    let refresh = grants
        .iter()
        .find(|g| g["properties"]["grant_type"]["enum"] == serde_json::json!(["refresh_token"]))
        .unwrap();
    assert!(refresh["required"]
        .as_array()
        .unwrap()
        .contains(&serde_json::json!("refresh_token")));
    assert_eq!(
        token["security"],
        serde_json::json!([{"clientSecretBasic": []}, {}])
    );
    assert!(token["responses"]["401"]["headers"]
        .get("WWW-Authenticate")
        .is_some());
    let oauth_error = token["responses"]["400"]["content"]["application/json"]["schema"]["$ref"]
        .as_str()
        .unwrap()
        .to_owned();
    let oauth_error = &document["components"]["schemas"][oauth_error.rsplit('/').next().unwrap()];
    assert!(oauth_error["properties"].get("error").is_some());
    assert!(oauth_error["properties"].get("error_description").is_some());

    let list = &paths["/v1/api-keys"]["get"];
    let names: Vec<&str> = list["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["limit", "after"]);
    assert!(
        list["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
            .as_str()
            .unwrap()
            .contains("Page")
    );
    let create = &paths["/v1/api-keys"]["post"];
    assert!(
        create["requestBody"]["content"]["application/json"]["schema"]["$ref"]
            .as_str()
            .unwrap()
            .ends_with("/CreateApiKey")
    );
    assert_eq!(
        document["components"]["schemas"]["CreateApiKey"]["additionalProperties"], false,
        "unknown fields are refused, and the schema says so"
    );
    assert_eq!(
        create["security"],
        serde_json::json!([{"bearer": []}, {"apiKey": []}])
    );
    let envelope = create["responses"]["401"]["content"]["application/json"]["schema"]["$ref"]
        .as_str()
        .unwrap();
    assert!(envelope.ends_with("/Envelope"));
    let error = &document["components"]["schemas"]["ErrorBody"]["properties"];
    for field in ["code", "message", "details"] {
        assert!(error.get(field).is_some(), "{field}");
    }
    assert!(create["responses"]["429"]["headers"]
        .get("Retry-After")
        .is_some());
    let usage: Vec<&str> = paths["/v1/usage"]["get"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(usage, ["key_id", "client_id", "from", "to", "granularity"]);
}

/// `/readyz` follows the database and `/healthz` does not. PostgreSQL only: an
/// embedded SQLite database cannot become unreachable under a running process.
#[actix_rt::test]
#[ignore = "needs PostgreSQL: KEYGATE_TEST_DATABASE_URL=… cargo test -- --include-ignored"]
async fn readiness_follows_the_database_and_liveness_does_not() {
    let Some(admin_url) = crate::helpers::postgres_pass("readiness is liveness on SQLite") else {
        return;
    };
    let app = TestApp::spawn().await;
    let mut database = DatabaseSwitch::new(&admin_url, &app);
    assert_eq!(app.status_of("/readyz").await, 200);

    database.refuse();
    let not_ready = app.http.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(not_ready.status(), 503);
    assert_eq!(header(&not_ready, "retry-after"), "1");
    assert_eq!(app.status_of("/healthz").await, 200);

    database.accept();
    let mut ready = false;
    for _ in 0..50 {
        if app.status_of("/readyz").await == 200 {
            ready = true;
            break;
        }
        actix_rt::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(ready, "recovers by itself once the database is back");
}
