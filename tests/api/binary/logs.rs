//! A first `keygate serve` and what its logs may say: the signing key it generates,
//! the bootstrap admin key it prints once, request ids on every line (text and JSON)
//! — and no secret it handled, whether client secret, API key, token or a guess.

use crate::helpers::process::Installation;
use crate::helpers::{basic_auth, TestClient, TestKey};

#[test]
fn first_serve_generates_a_key_and_logs_carry_no_secret() {
    let kg = Installation::new();
    let created = kg.run(&["client", "create", "--name", "logged", "--scope", "read"]);
    assert!(created.ok, "{}", created.stderr);
    let TestClient { id, secret } = TestClient::from_created(&created.json);

    let server = kg.serve(&[("KEYGATE_LOG", "debug")]);
    let mut tokens = Vec::new();
    let grant = ("grant_type", "client_credentials");
    for (status, body) in [
        server.post_form("/oauth/token", Some(&basic_auth(&id, &secret)), &[grant]),
        server.post_form(
            "/oauth/token",
            None,
            &[grant, ("client_id", &id), ("client_secret", &secret)],
        ),
    ] {
        assert_eq!(status, 200, "{body}");
        let body: serde_json::Value = serde_json::from_str(&body).unwrap();
        tokens.push(body["access_token"].as_str().unwrap().to_owned());
    }
    // Credentials in the URL are refused (RFC 6749 §2.3.1), and not logged either.
    let (status, _) = server.post_form(
        "/oauth/token?client_secret=in-the-query",
        Some(&basic_auth(&id, &secret)),
        &[grant],
    );
    assert_eq!(status, 400);
    let wrong_secret = format!("{secret}WRONG");
    let (status, _) = server.post_form(
        "/oauth/token",
        Some(&basic_auth(&id, &wrong_secret)),
        &[grant],
    );
    assert_eq!(status, 401);
    let (log, _) = server.stop();

    assert!(log.contains("no signing key found: generated one"), "{log}");
    assert!(
        log.contains("access token issued"),
        "debug logging was on:\n{log}"
    );
    assert!(
        log.contains("request_id="),
        "log lines name their request:\n{log}"
    );
    assert!(
        log.contains(&id),
        "client ids are logged, secrets not:\n{log}"
    );
    for secret_value in [secret.as_str(), wrong_secret.as_str(), "in-the-query"] {
        assert!(!log.contains(secret_value), "secret in log:\n{log}");
    }
    for token in &tokens {
        let signature = token.rsplit('.').next().unwrap();
        assert!(!log.contains(signature), "token in log");
    }
    let created_log = created.stderr;
    assert!(!created_log.contains(&secret));
    // The key was generated in keys/ with owner-only permissions.
    use std::os::unix::fs::PermissionsExt;
    let pem = std::fs::read_dir(kg.dir.path().join("keys"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "pem"))
        .unwrap();
    assert_eq!(
        std::fs::metadata(pem).unwrap().permissions().mode() & 0o777,
        0o600
    );
}

#[test]
fn first_serve_prints_a_bootstrap_key_once_and_logs_carry_no_api_key() {
    let kg = Installation::new();
    let (server, bootstrap) = kg.serve_with_admin(&[("KEYGATE_LOG", "debug")]);
    let (status, me) = server.get("/v1/me", &[("X-API-Key", &bootstrap)]);
    assert_eq!(status, 200, "{me}");
    let me: serde_json::Value = serde_json::from_str(&me).unwrap();
    assert_eq!(
        me["scopes"],
        serde_json::json!(["admin", "read", "webhook", "write"])
    );

    let bearer = format!("Bearer {bootstrap}");
    let created = server.create(
        "/v1/api-keys",
        &[("Authorization", &bearer)],
        r#"{"name": "logged", "scopes": ["read"]}"#,
    );
    let TestKey { key, .. } = TestKey::from_created(&created);
    let (status, _) = server.get("/v1/me", &[("Authorization", &format!("Bearer {key}"))]);
    assert_eq!(status, 200);
    let mut typo = key.clone();
    typo.replace_range(30..31, if &key[30..31] == "Q" { "R" } else { "Q" });
    let (status, _) = server.get("/v1/me", &[("X-API-Key", &typo)]);
    assert_eq!(status, 401);
    // Client secrets and registration access tokens made through the API.
    let client = server.create(
        "/v1/clients",
        &[("X-API-Key", &bootstrap)],
        r#"{"name": "logged client", "scopes": ["read"]}"#,
    );
    let registered = server.create(
        "/oauth/register",
        &[("Authorization", &bearer)],
        r#"{"client_name": "logged registration", "scope": "read"}"#,
    );
    let (log, _) = server.stop();
    assert!(log.contains("created the bootstrap admin API key"), "{log}");
    for secret in [&bootstrap, &key, &typo] {
        assert!(!log.contains(secret.as_str()), "API key in the log:\n{log}");
        assert!(
            !log.contains(&secret[8..40]),
            "part of an API key in the log:\n{log}"
        );
    }
    for secret in [
        &client["client_secret"],
        &registered["client_secret"],
        &registered["registration_access_token"],
    ] {
        let secret = secret.as_str().unwrap();
        assert!(!log.contains(secret), "secret in the log:\n{log}");
    }

    // Never again: the database has had a key.
    let (_, stdout) = kg.serve(&[]).stop();
    assert!(!stdout.contains("kg_live_"), "{stdout}");
}

#[test]
fn json_logs_carry_request_ids_and_no_secret() {
    let kg = Installation::new();
    let client = kg.client(&["--name", "json", "--scope", "read"]);
    let TestKey { key, .. } = kg.api_key(&["--name", "j", "--scope", "read"]);
    let server = kg.serve(&[("KEYGATE_LOG", "debug"), ("KEYGATE_LOG_FORMAT", "json")]);
    let token = server.access_token(&basic_auth(&client.id, &client.secret));
    let (status, _) = server.get(
        "/v1/me",
        &[("X-API-Key", &key), ("X-Request-Id", "trace-me-42")],
    );
    assert_eq!(status, 200);
    let (log, _) = server.stop();

    let lines: Vec<serde_json::Value> = log
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    assert!(lines.len() >= 3, "{log}");
    let traced = lines
        .iter()
        .any(|l| l["fields"]["message"] == "request" && l["span"]["request_id"] == "trace-me-42");
    assert!(traced, "the request line names its request id:\n{log}");
    assert!(log.contains("trace-me-42"));
    for secret in [
        client.secret.as_str(),
        key.as_str(),
        token.rsplit('.').next().unwrap(),
    ] {
        assert!(!log.contains(secret), "a secret in the JSON log:\n{log}");
    }
}
