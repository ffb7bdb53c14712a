//! The real `keygate` binary: CLI commands, first start, and a full run whose logs
//! must not contain any secret it handled.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use diesel::RunQueryDsl;
use tempfile::TempDir;

use crate::helpers::{basic_auth, TestDatabase};

/// The binary with a clean environment pointing at `db` and `dir/keys`.
pub(crate) fn keygate(dir: &TempDir, db: &TestDatabase) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_keygate"));
    for (var, _) in std::env::vars().filter(|(v, _)| v.starts_with("KEYGATE_")) {
        cmd.env_remove(var);
    }
    cmd.current_dir(dir.path())
        .env("KEYGATE_DATABASE_URL", &db.url)
        .env("KEYGATE_KEYS_DIR", dir.path().join("keys"))
        .env("KEYGATE_BIND", "127.0.0.1:0")
        .env("KEYGATE_WORKERS", "1");
    cmd
}

pub(crate) struct CliOutput {
    pub ok: bool,
    pub json: serde_json::Value,
    pub stderr: String,
}

pub(crate) fn run(cmd: &mut Command) -> CliOutput {
    let output = cmd.output().unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    CliOutput {
        ok: output.status.success(),
        json: serde_json::from_str(&stdout).unwrap_or(serde_json::Value::Null),
        stderr: String::from_utf8(output.stderr).unwrap(),
    }
}

/// A running `keygate serve` whose stderr (the log) and stdout are collected apart.
pub(crate) struct Server {
    pub child: Child,
    pub log: Arc<Mutex<String>>,
    pub stdout: Arc<Mutex<String>>,
    pub address: String,
}

impl Server {
    pub fn start(mut cmd: Command) -> Self {
        let mut child = cmd
            .arg("serve")
            .stderr(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let log = Arc::new(Mutex::new(String::new()));
        let stdout = Arc::new(Mutex::new(String::new()));
        for (stream, sink) in [
            (
                Box::new(child.stderr.take().unwrap()) as Box<dyn std::io::Read + Send>,
                log.clone(),
            ),
            (Box::new(child.stdout.take().unwrap()), stdout.clone()),
        ] {
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    let mut sink = sink.lock().unwrap();
                    sink.push_str(&line);
                    sink.push('\n');
                }
            });
        }
        let started = Instant::now();
        let address = loop {
            let text = log.lock().unwrap().clone();
            if let Some(rest) = text.split("address=").nth(1) {
                break format!("http://{}", rest.split_whitespace().next().unwrap());
            }
            // The same line in JSON logs.
            if let Some(rest) = text.split("\"address\":\"").nth(1) {
                break format!("http://{}", rest.split('"').next().unwrap());
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "server did not start:\n{text}"
            );
            std::thread::sleep(Duration::from_millis(50));
        };
        Self {
            child,
            log,
            stdout,
            address,
        }
    }

    /// Stops the server the way an orchestrator does (SIGTERM: a graceful stop) and
    /// waits for it to exit; returns whether it exited successfully, and its log.
    pub fn terminate(mut self) -> (bool, String) {
        let pid = self.child.id().to_string();
        // It may be stopping already (then this kill finds nothing to signal).
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let exited = self.child.wait().unwrap();
        std::thread::sleep(Duration::from_millis(100));
        let log = self.log.lock().unwrap().clone();
        (exited.success(), log)
    }

    /// The bootstrap admin key the server printed on stdout, waiting for it a while:
    /// it is made after the listener binds, so it may follow the `listening` line.
    pub fn bootstrap_key(&self) -> String {
        let started = Instant::now();
        loop {
            let stdout = self.stdout.lock().unwrap().clone();
            if let Some(key) = stdout
                .split_whitespace()
                .find(|w| w.starts_with("kg_live_"))
            {
                return key.to_owned();
            }
            assert!(
                started.elapsed() < Duration::from_secs(15),
                "no bootstrap key printed:\n{stdout}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Stops the server; returns (log, stdout).
    pub fn stop(mut self) -> (String, String) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        std::thread::sleep(Duration::from_millis(100));
        let log = self.log.lock().unwrap().clone();
        let stdout = self.stdout.lock().unwrap().clone();
        (log, stdout)
    }
}

#[test]
fn client_create_prints_the_secret_once_and_list_never_does() {
    let dir = tempfile::tempdir().unwrap();
    let db = TestDatabase::create(&dir);
    let created = run(keygate(&dir, &db).args([
        "client",
        "create",
        "--name",
        "billing",
        "--scope",
        "read write",
        "--grant-type",
        "client_credentials",
        "--audience",
        "https://api.example.com",
        "--audience",
        "https://billing.example.com",
        "--token-ttl",
        "10m",
        "--token-endpoint-auth-method",
        "client_secret_post",
    ]));
    assert!(created.ok, "{}", created.stderr);
    assert_eq!(
        created.json["token_endpoint_auth_method"],
        "client_secret_post"
    );
    // --audience repeats; the first is the default.
    assert_eq!(
        created.json["audiences"],
        serde_json::json!(["https://api.example.com", "https://billing.example.com"])
    );
    assert_eq!(created.json["audience"], "https://api.example.com");
    let id = created.json["client_id"].as_str().unwrap().to_owned();
    let secret = created.json["client_secret"].as_str().unwrap().to_owned();
    assert!(id.starts_with("kgc_"));
    assert!(
        secret.starts_with("kgs_") && secret.len() >= 4 + 43,
        "{secret}"
    );
    assert_eq!(created.json["scopes"], serde_json::json!(["read", "write"]));
    assert_eq!(created.json["access_token_ttl_secs"], 600);

    let listed = run(keygate(&dir, &db).args(["client", "list"]));
    assert!(listed.ok);
    assert_eq!(listed.json[0]["client_id"], id.as_str());
    let listing = listed.json.to_string();
    assert!(
        !listing.contains(&secret) && !listing.contains("argon2"),
        "{listing}"
    );

    let disabled = run(keygate(&dir, &db).args(["client", "disable", &id]));
    assert!(
        disabled.ok && !disabled.json["disabled_at"].is_null(),
        "{}",
        disabled.stderr
    );
}

#[test]
fn client_create_rejects_bad_input_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let db = TestDatabase::create(&dir);
    for (args, expected) in [
        (
            vec!["--name", "x", "--scope", "read superpowers"],
            "superpowers",
        ),
        (
            vec!["--name", "x", "--scope", "read", "--grant-type", "password"],
            "password",
        ),
        (
            vec!["--name", "x", "--scope", "read", "--org", "nope"],
            "organization 'nope' does not exist",
        ),
        (
            vec!["--name", "x", "--scope", "read", "--token-ttl", "2d"],
            "lifetime",
        ),
        (
            vec!["--name", "x", "--scope", "read", "--token-ttl", "soon"],
            "duration",
        ),
        (vec!["--name", "", "--scope", "read"], "name"),
        (
            vec![
                "--name",
                "x",
                "--scope",
                "read",
                "--token-endpoint-auth-method",
                "none",
            ],
            "token_endpoint_auth_method",
        ),
        (
            vec!["--name", "x", "--scope", "read", "--audience", "billing"],
            "audience",
        ),
    ] {
        let out = run(keygate(&dir, &db).args(["client", "create"]).args(&args));
        assert!(!out.ok, "{args:?} succeeded");
        assert!(out.stderr.contains(expected), "{args:?}: {}", out.stderr);
    }
}

#[test]
fn migrate_is_idempotent_and_an_unreachable_database_is_named_without_password() {
    let dir = tempfile::tempdir().unwrap();
    let db = TestDatabase::create(&dir);
    let first = run(keygate(&dir, &db).arg("migrate"));
    assert!(first.ok, "{}", first.stderr);
    assert!(first.json["applied"].as_u64().unwrap() >= 1);
    let again = run(keygate(&dir, &db).arg("migrate"));
    assert_eq!(again.json["applied"], 0);

    let out = run(keygate(&dir, &db)
        .env(
            "KEYGATE_DATABASE_URL",
            "postgres://keygate:hunter2@127.0.0.1:1/keygate",
        )
        .arg("migrate"));
    assert!(!out.ok);
    assert!(
        out.stderr
            .contains("postgres://keygate:***@127.0.0.1:1/keygate"),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("hunter2"), "{}", out.stderr);

    let out = run(keygate(&dir, &db)
        .env("KEYGATE_DATABASE_URL", "mysql://x")
        .arg("migrate"));
    assert!(!out.ok);
    assert!(out.stderr.contains("database_url"), "{}", out.stderr);
}

#[test]
fn signing_key_commands_walk_the_lifecycle() {
    let dir = tempfile::tempdir().unwrap();
    let db = TestDatabase::create(&dir);
    let first = run(keygate(&dir, &db).args(["signing-key", "generate"]));
    assert!(first.ok, "{}", first.stderr);
    assert_eq!(first.json["alg"], "ES256");
    assert_eq!(first.json["state"], "active");
    let second = run(keygate(&dir, &db).args(["signing-key", "generate", "--alg", "EdDSA"]));
    assert_eq!(second.json["state"], "pending", "{}", second.stderr);
    let kid1 = first.json["kid"].as_str().unwrap();
    let kid2 = second.json["kid"].as_str().unwrap();

    let refused = run(keygate(&dir, &db).args(["signing-key", "retire", kid1]));
    assert!(
        !refused.ok && refused.stderr.contains("activate another key first"),
        "{}",
        refused.stderr
    );
    let activated = run(keygate(&dir, &db).args(["signing-key", "activate", kid2]));
    assert_eq!(activated.json["state"], "active", "{}", activated.stderr);
    let listed = run(keygate(&dir, &db).args(["signing-key", "list"]));
    let states: Vec<_> = listed
        .json
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["state"].clone())
        .collect();
    assert_eq!(states, vec!["retired", "active"]);
    let too_soon = run(keygate(&dir, &db).args(["signing-key", "remove", kid1]));
    assert!(
        !too_soon.ok && too_soon.stderr.contains("may be valid until"),
        "{}",
        too_soon.stderr
    );
    let bad_alg = run(keygate(&dir, &db).args(["signing-key", "generate", "--alg", "HS256"]));
    assert!(!bad_alg.ok);
    let unknown = run(keygate(&dir, &db).args(["signing-key", "retire", "nope"]));
    assert!(!unknown.ok && unknown.stderr.contains("no signing key with kid 'nope'"));
    assert!(!listed.json.to_string().contains("PRIVATE KEY"));

    // A pending key that will never sign is retired at once.
    let third = run(keygate(&dir, &db).args(["signing-key", "generate"]));
    let kid3 = third.json["kid"].as_str().unwrap();
    let retired = run(keygate(&dir, &db).args(["signing-key", "retire", kid3]));
    assert_eq!(retired.json["state"], "retired", "{}", retired.stderr);
    // Once every token it could have signed has expired it may be removed: move its
    // retirement back in time on disk rather than wait for access_token_ttl_max.
    let meta_path = dir.path().join("keys").join(format!("{kid3}.json"));
    let mut meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&meta_path).unwrap()).unwrap();
    meta["retired_at"] =
        serde_json::json!((chrono::Utc::now() - chrono::Duration::days(2)).to_rfc3339());
    std::fs::write(&meta_path, meta.to_string()).unwrap();
    let removed = run(keygate(&dir, &db).args(["signing-key", "remove", kid3]));
    assert!(removed.ok, "{}", removed.stderr);

    // Each step is in the default organization's audit log.
    let store =
        keygate::store::Store::open(&keygate::store::DatabaseUrl::parse(&db.url).unwrap(), 1)
            .unwrap();
    let recorded: Vec<String> = store
        .with_conn(|c| {
            let org = keygate::orgs::repo::find_by_slug(c, "default")?.unwrap();
            let filter = keygate::audit::repo::EventFilter {
                org_id: org.id,
                event_type: None,
                from: None,
                to: None,
                after: None,
                limit: 100,
            };
            keygate::audit::repo::list(c, &filter).map_err(keygate::store::StoreError::from)
        })
        .unwrap()
        .into_iter()
        .map(|e| format!("{} {}", e.event_type, e.actor))
        .collect();
    for expected in [
        "signing_key.generated cli",
        "signing_key.activated cli",
        "signing_key.retired cli",
        "signing_key.removed cli",
    ] {
        assert!(
            recorded.iter().any(|r| r == expected),
            "{expected}: {recorded:?}"
        );
    }
}

#[test]
fn first_serve_generates_a_key_and_logs_carry_no_secret() {
    let dir = tempfile::tempdir().unwrap();
    let db = TestDatabase::create(&dir);
    let created =
        run(keygate(&dir, &db).args(["client", "create", "--name", "logged", "--scope", "read"]));
    assert!(created.ok, "{}", created.stderr);
    let id = created.json["client_id"].as_str().unwrap().to_owned();
    let secret = created.json["client_secret"].as_str().unwrap().to_owned();

    let mut cmd = keygate(&dir, &db);
    cmd.env("KEYGATE_LOG", "debug");
    let server = Server::start(cmd);
    let http = raw_http::Client;
    let mut tokens = Vec::new();
    for request in [
        http.post(
            &server.address,
            "/oauth/token",
            Some(&basic_auth(&id, &secret)),
            "grant_type=client_credentials".into(),
        ),
        http.post(
            &server.address,
            "/oauth/token",
            None,
            format!("grant_type=client_credentials&client_id={id}&client_secret={secret}"),
        ),
    ] {
        let (status, body) = request;
        assert_eq!(status, 200, "{body}");
        let body: serde_json::Value = serde_json::from_str(&body).unwrap();
        tokens.push(body["access_token"].as_str().unwrap().to_owned());
    }
    // Credentials in the URL are refused (RFC 6749 §2.3.1), and not logged either.
    let (status, _) = http.post(
        &server.address,
        "/oauth/token?client_secret=in-the-query",
        Some(&basic_auth(&id, &secret)),
        "grant_type=client_credentials".into(),
    );
    assert_eq!(status, 400);
    let wrong_secret = format!("{secret}WRONG");
    let (status, _) = http.post(
        &server.address,
        "/oauth/token",
        Some(&basic_auth(&id, &wrong_secret)),
        "grant_type=client_credentials".into(),
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
    let pem = std::fs::read_dir(dir.path().join("keys"))
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
    let dir = tempfile::tempdir().unwrap();
    let db = TestDatabase::create(&dir);
    let mut cmd = keygate(&dir, &db);
    cmd.env("KEYGATE_LOG", "debug");
    let server = Server::start(cmd);
    let bootstrap = server.bootstrap_key();
    let http = raw_http::Client;
    let (status, me) = http.request(
        &server.address,
        "GET",
        "/v1/me",
        &[("X-API-Key", &bootstrap)],
        String::new(),
    );
    assert_eq!(status, 200, "{me}");
    let me: serde_json::Value = serde_json::from_str(&me).unwrap();
    assert_eq!(
        me["scopes"],
        serde_json::json!(["admin", "read", "webhook", "write"])
    );

    let bearer = format!("Bearer {bootstrap}");
    let (status, created) = http.request(
        &server.address,
        "POST",
        "/v1/api-keys",
        &[
            ("Authorization", &bearer),
            ("Content-Type", "application/json"),
        ],
        r#"{"name": "logged", "scopes": ["read"]}"#.into(),
    );
    assert_eq!(status, 201, "{created}");
    let created: serde_json::Value = serde_json::from_str(&created).unwrap();
    let key = created["key"].as_str().unwrap().to_owned();
    let (status, _) = http.request(
        &server.address,
        "GET",
        "/v1/me",
        &[("Authorization", &format!("Bearer {key}"))],
        String::new(),
    );
    assert_eq!(status, 200);
    let mut typo = key.clone();
    typo.replace_range(30..31, if &key[30..31] == "Q" { "R" } else { "Q" });
    let (status, _) = http.request(
        &server.address,
        "GET",
        "/v1/me",
        &[("X-API-Key", &typo)],
        String::new(),
    );
    assert_eq!(status, 401);
    // Client secrets and registration access tokens made through the API.
    let (status, client) = http.request(
        &server.address,
        "POST",
        "/v1/clients",
        &[
            ("X-API-Key", &bootstrap),
            ("Content-Type", "application/json"),
        ],
        r#"{"name": "logged client", "scopes": ["read"]}"#.into(),
    );
    assert_eq!(status, 201, "{client}");
    let client: serde_json::Value = serde_json::from_str(&client).unwrap();
    let (status, registered) = http.request(
        &server.address,
        "POST",
        "/oauth/register",
        &[
            ("Authorization", &bearer),
            ("Content-Type", "application/json"),
        ],
        r#"{"client_name": "logged registration", "scope": "read"}"#.into(),
    );
    assert_eq!(status, 201, "{registered}");
    let registered: serde_json::Value = serde_json::from_str(&registered).unwrap();
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
    let server = Server::start(keygate(&dir, &db));
    let (_, stdout) = server.stop();
    assert!(!stdout.contains("kg_live_"), "{stdout}");
}

#[test]
fn api_key_commands_create_list_and_revoke() {
    let dir = tempfile::tempdir().unwrap();
    let db = TestDatabase::create(&dir);
    let created = run(keygate(&dir, &db).args([
        "api-key",
        "create",
        "--name",
        "ci",
        "--scope",
        "read",
        "--scope",
        "write",
        "--expires-in",
        "90d",
        "--env",
        "test",
    ]));
    assert!(created.ok, "{}", created.stderr);
    let id = created.json["id"].as_str().unwrap().to_owned();
    let key = created.json["key"].as_str().unwrap().to_owned();
    assert!(
        id.starts_with("key_") && key.starts_with("kg_test_"),
        "{}",
        created.json
    );
    assert_eq!(created.json["scopes"], serde_json::json!(["read", "write"]));
    assert!(created.json["expires_at"].is_string());

    let listed = run(keygate(&dir, &db).args(["api-key", "list"]));
    assert!(listed.ok, "{}", listed.stderr);
    let listing = listed.json.to_string();
    assert!(
        listing.contains(&id) && !listing.contains(&key),
        "{listing}"
    );
    assert!(listing.contains(&format!("kg_test_…{}", &key[key.len() - 4..])));

    let revoked = run(keygate(&dir, &db).args(["api-key", "revoke", &id]));
    assert!(revoked.ok, "{}", revoked.stderr);
    assert_eq!(revoked.json["state"], "revoked");
    // The key shown once comes first, next to its id, not among a dozen fields.
    let order: Vec<&String> = created.json.as_object().unwrap().keys().take(2).collect();
    assert_eq!(order, ["id", "key"], "{}", created.json);
    let shown = run(keygate(&dir, &db).args(["api-key", "show", &id]));
    assert!(shown.ok, "{}", shown.stderr);
    assert_eq!(shown.json["state"], "revoked");
    assert!(!shown.json.to_string().contains(&key));
    let missing = run(keygate(&dir, &db).args(["api-key", "show", "key_nope"]));
    assert!(!missing.ok && missing.stderr.contains("no API key key_nope"));

    let client =
        run(keygate(&dir, &db).args(["client", "create", "--name", "svc", "--scope", "read"]));
    assert!(client.ok, "{}", client.stderr);
    let order: Vec<&String> = client.json.as_object().unwrap().keys().take(2).collect();
    assert_eq!(order, ["client_id", "client_secret"], "{}", client.json);
    let client_id = client.json["client_id"].as_str().unwrap();
    let shown = run(keygate(&dir, &db).args(["client", "show", client_id]));
    assert!(shown.ok, "{}", shown.stderr);
    assert_eq!(shown.json["client_id"], client_id);
    assert!(shown.json.get("client_secret").is_none());

    for (args, message) in [
        (
            vec!["api-key", "create", "--name", "x", "--scope", "billing"],
            "billing",
        ),
        (
            vec![
                "api-key", "create", "--name", "x", "--scope", "read", "--env", "prod",
            ],
            "live or test",
        ),
        (
            vec![
                "api-key", "create", "--name", "x", "--scope", "read", "--org", "nope",
            ],
            "nope",
        ),
        (vec!["api-key", "revoke", "key_missing"], "key_missing"),
    ] {
        let failed = run(keygate(&dir, &db).args(&args));
        assert!(!failed.ok, "{args:?}");
        assert!(
            failed.stderr.contains(message),
            "{args:?}: {}",
            failed.stderr
        );
    }
}

#[test]
fn a_graceful_stop_writes_the_usage_counted_since_the_last_flush() {
    let dir = tempfile::tempdir().unwrap();
    let db = TestDatabase::create(&dir);
    let created =
        run(keygate(&dir, &db).args(["api-key", "create", "--name", "m", "--scope", "read"]));
    assert!(created.ok, "{}", created.stderr);
    let id = created.json["id"].as_str().unwrap().to_owned();
    let key = created.json["key"].as_str().unwrap().to_owned();
    let mut cmd = keygate(&dir, &db);
    // Far longer than the test: only the stop can write the counts.
    cmd.env("KEYGATE_USAGE_FLUSH_INTERVAL", "1h");
    let server = Server::start(cmd);
    let http = raw_http::Client;
    for _ in 0..3 {
        let (status, _) = http.request(
            &server.address,
            "GET",
            "/v1/me",
            &[("X-API-Key", &key)],
            String::new(),
        );
        assert_eq!(status, 200);
    }
    // A request still arriving when the stop comes is finished, not cut off: send its
    // headers, stop the server, then send its body.
    let mut in_flight =
        std::net::TcpStream::connect(server.address.trim_start_matches("http://")).unwrap();
    let body = "grant_type=client_credentials";
    {
        use std::io::Write;
        write!(
            in_flight,
            "POST /oauth/token HTTP/1.1\r\nHost: keygate\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        )
        .unwrap();
    }
    std::thread::sleep(Duration::from_millis(200));
    let pid = server.child.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    std::thread::sleep(Duration::from_millis(300));
    {
        use std::io::{Read, Write};
        in_flight.write_all(body.as_bytes()).unwrap();
        let mut answer = String::new();
        in_flight.read_to_string(&mut answer).unwrap();
        assert!(
            answer.starts_with("HTTP/1.1 401"),
            "answered after the stop began: {answer}"
        );
    }
    let (ok, log) = server.terminate();
    assert!(ok, "a graceful stop exits 0:\n{log}");
    let store =
        keygate::store::Store::open(&keygate::store::DatabaseUrl::parse(&db.url).unwrap(), 1)
            .unwrap();
    let counted: i64 = store
        .with_conn(|c| {
            let org = keygate::orgs::repo::find_by_slug(c, "default")?.unwrap();
            let now = chrono::Utc::now().naive_utc();
            let day = chrono::Duration::days(1);
            keygate::usage::repo::minutes(c, &org.id, &id, now - day, now + day)
                .map_err(keygate::store::StoreError::from)
        })
        .unwrap()
        .iter()
        .map(|(_, _, n)| n)
        .sum();
    assert_eq!(counted, 3);
}

#[test]
fn organizations_get_tiers_from_the_configuration() {
    let dir = tempfile::tempdir().unwrap();
    let db = TestDatabase::create(&dir);
    let created = run(keygate(&dir, &db).args([
        "org", "create", "--slug", "acme", "--name", "Acme", "--tier", "pro",
    ]));
    assert!(created.ok, "{}", created.stderr);
    assert_eq!(created.json["tier"], "pro");
    let moved = run(keygate(&dir, &db).args(["org", "set-tier", "acme", "enterprise"]));
    assert_eq!(moved.json["tier"], "enterprise", "{}", moved.stderr);
    let unknown = run(keygate(&dir, &db).args(["org", "set-tier", "acme", "platinum"]));
    assert!(!unknown.ok && unknown.stderr.contains("platinum") && unknown.stderr.contains("free"));
    let missing = run(keygate(&dir, &db).args(["org", "set-tier", "nope", "pro"]));
    assert!(!missing.ok && missing.stderr.contains("nope"));
}

#[test]
fn json_logs_carry_request_ids_and_no_secret() {
    let dir = tempfile::tempdir().unwrap();
    let db = TestDatabase::create(&dir);
    let created =
        run(keygate(&dir, &db).args(["client", "create", "--name", "json", "--scope", "read"]));
    let id = created.json["client_id"].as_str().unwrap().to_owned();
    let secret = created.json["client_secret"].as_str().unwrap().to_owned();
    let key = run(keygate(&dir, &db).args(["api-key", "create", "--name", "j", "--scope", "read"]))
        .json["key"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut cmd = keygate(&dir, &db);
    cmd.env("KEYGATE_LOG", "debug")
        .env("KEYGATE_LOG_FORMAT", "json");
    let server = Server::start(cmd);
    let http = raw_http::Client;
    let (status, body) = http.post(
        &server.address,
        "/oauth/token",
        Some(&basic_auth(&id, &secret)),
        "grant_type=client_credentials".into(),
    );
    assert_eq!(status, 200, "{body}");
    let token: serde_json::Value = serde_json::from_str(&body).unwrap();
    let token = token["access_token"].as_str().unwrap().to_owned();
    let (status, _) = http.request(
        &server.address,
        "GET",
        "/v1/me",
        &[("X-API-Key", &key), ("X-Request-Id", "trace-me-42")],
        String::new(),
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
        secret.as_str(),
        key.as_str(),
        token.rsplit('.').next().unwrap(),
    ] {
        assert!(!log.contains(secret), "a secret in the JSON log:\n{log}");
    }
}

/// A minimal blocking HTTP/1.1 client over `std::net`, so these process tests need
/// no async runtime.
pub(crate) mod raw_http {
    pub use inner::Client;

    pub mod inner {
        use std::io::{Read, Write};
        use std::net::TcpStream;

        pub struct Client;

        impl Client {
            /// POSTs a form body; returns (status, body).
            pub fn post(
                &self,
                base: &str,
                path: &str,
                authorization: Option<&str>,
                body: String,
            ) -> (u16, String) {
                let mut headers = vec![("Content-Type", "application/x-www-form-urlencoded")];
                if let Some(authorization) = authorization {
                    headers.push(("Authorization", authorization));
                }
                self.request(base, "POST", path, &headers, body)
            }

            /// Any request; returns (status, body).
            pub fn request(
                &self,
                base: &str,
                method: &str,
                path: &str,
                headers: &[(&str, &str)],
                body: String,
            ) -> (u16, String) {
                self.try_request(base, method, path, headers, body).unwrap()
            }

            /// `request` for a server that may be gone: an I/O error instead of a
            /// panic.
            pub fn try_request(
                &self,
                base: &str,
                method: &str,
                path: &str,
                headers: &[(&str, &str)],
                body: String,
            ) -> std::io::Result<(u16, String)> {
                let host = base.trim_start_matches("http://");
                let mut stream = TcpStream::connect(host)?;
                let headers: String = headers
                    .iter()
                    .map(|(name, value)| format!("{name}: {value}\r\n"))
                    .collect();
                write!(
                    stream,
                    "{method} {path} HTTP/1.1\r\nHost: {host}\r\n{headers}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                )?;
                let mut response = String::new();
                stream.read_to_string(&mut response)?;
                let status = response
                    .split(' ')
                    .nth(1)
                    .and_then(|s| s.parse().ok())
                    .ok_or(std::io::ErrorKind::UnexpectedEof)?;
                let body = response
                    .split("\r\n\r\n")
                    .nth(1)
                    .unwrap_or_default()
                    .to_owned();
                Ok((status, body))
            }
        }
    }
}

/// `kill -9` in the middle of a refresh storm: the database must be consistent — every
/// family with at most one live token — and the restarted server must carry on, each
/// chain's last received token either working or (its rotation committed but the
/// answer lost with the process) refused as reuse, never a 500.
#[test]
fn kill_9_in_a_refresh_storm_leaves_every_family_consistent() {
    let dir = tempfile::tempdir().unwrap();
    let db = TestDatabase::create(&dir);
    let created = run(keygate(&dir, &db).args([
        "client",
        "create",
        "--name",
        "storm",
        "--scope",
        "read",
        "--grant-type",
        "client_credentials",
        "--grant-type",
        "refresh_token",
    ]));
    assert!(created.ok, "{}", created.stderr);
    let auth = basic_auth(
        created.json["client_id"].as_str().unwrap(),
        created.json["client_secret"].as_str().unwrap(),
    );
    let start = || {
        let mut cmd = keygate(&dir, &db);
        cmd.env("KEYGATE_RATE_LIMITS", "false")
            .env("KEYGATE_WORKERS", "2");
        Server::start(cmd)
    };

    for round in 0..3 {
        let server = start();
        let address = server.address.clone();
        let killed = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let chains: Vec<_> = (0..8)
            .map(|_| {
                let (address, auth, killed) = (address.clone(), auth.clone(), killed.clone());
                std::thread::spawn(move || {
                    let http = raw_http::Client;
                    let mut token: Option<String> = None;
                    let mut rotations = 0;
                    loop {
                        let body = match &token {
                            Some(t) => format!("grant_type=refresh_token&refresh_token={t}"),
                            None => "grant_type=client_credentials".to_owned(),
                        };
                        match http.try_request(
                            &address,
                            "POST",
                            "/oauth/token",
                            &[
                                ("Content-Type", "application/x-www-form-urlencoded"),
                                ("Authorization", &auth),
                            ],
                            body,
                        ) {
                            Ok((200, body)) => {
                                let json: serde_json::Value = serde_json::from_str(&body).unwrap();
                                token = Some(json["refresh_token"].as_str().unwrap().to_owned());
                                rotations += 1;
                            }
                            Ok((status, body)) => {
                                panic!("before the kill: {status} {body}")
                            }
                            // The process is gone.
                            Err(_) => {
                                assert!(killed.load(std::sync::atomic::Ordering::SeqCst));
                                return (token, rotations);
                            }
                        }
                    }
                })
            })
            .collect();
        std::thread::sleep(Duration::from_millis(1500));
        killed.store(true, std::sync::atomic::Ordering::SeqCst);
        let (log, _) = server.stop(); // SIGKILL
        let ends: Vec<(Option<String>, usize)> =
            chains.into_iter().map(|c| c.join().unwrap()).collect();
        assert!(
            ends.iter().all(|(_, rotations)| *rotations > 1),
            "round {round}: the storm never got going:\n{log}"
        );

        let store =
            keygate::store::Store::open(&keygate::store::DatabaseUrl::parse(&db.url).unwrap(), 1)
                .unwrap();
        // Every live family has exactly one live token: no fork, and no rotation
        // half done (a token spent without its successor).
        assert_eq!(
            crate::faults::families_without_exactly_one_live_token(&store),
            0,
            "round {round}"
        );
        if db.url.starts_with("sqlite") {
            let check: Vec<IntegrityCheck> = store
                .with_conn(|c| {
                    diesel::sql_query("PRAGMA integrity_check")
                        .load(c)
                        .map_err(keygate::store::StoreError::from)
                })
                .unwrap();
            assert_eq!(check.len(), 1);
            assert_eq!(check[0].integrity_check, "ok", "round {round}");
        }
        // What each chain's last token should get: the database says whether the
        // kill came before its rotation committed (unspent: it works) or after (the
        // answer was lost with the process: spent, so presenting it again is reuse).
        let now = chrono::Utc::now().naive_utc();
        let expected: Vec<(String, bool)> = ends
            .iter()
            .filter_map(|(t, _)| t.clone())
            .map(|token| {
                let (row, family) = store
                    .with_conn(|c| {
                        keygate::refresh::repo::find(c, &token)
                            .map_err(keygate::store::StoreError::from)
                    })
                    .unwrap()
                    .expect("every token a client received was committed");
                (token, row.is_live(&family, now))
            })
            .collect();
        drop(store);

        // Restarted on the same database, every chain's last token gets that answer.
        let server = start();
        let http = raw_http::Client;
        for (token, live) in &expected {
            let (status, body) = http.post(
                &server.address,
                "/oauth/token",
                Some(&auth),
                format!("grant_type=refresh_token&refresh_token={token}"),
            );
            if *live {
                assert_eq!(status, 200, "round {round}: {body}");
            } else {
                assert!(
                    status == 400 && body.contains("invalid_grant"),
                    "round {round}: {status} {body}"
                );
            }
        }
        let (ok, log) = server.terminate();
        assert!(ok, "{log}");
        assert!(!log.contains("panicked"), "{log}");
    }
}

#[derive(diesel::QueryableByName)]
struct IntegrityCheck {
    #[diesel(sql_type = diesel::sql_types::Text)]
    integrity_check: String,
}

/// Whether `unshare` can make a private mount namespace and mount a tmpfs in it (as
/// root, as on this project's CI machine, or in a user namespace). Where it cannot —
/// a container without CAP_SYS_ADMIN, say — the disk tests say so and do not run.
pub(crate) fn private_mounts_work() -> bool {
    let dir = tempfile::tempdir().unwrap();
    let mut probe = keygate_on_small_disk(&dir, 64, None, false);
    probe.env("KG_BIN", "true");
    let works = probe.status().is_ok_and(|s| s.success());
    crate::helpers::available(
        "private mounts (unshare as root or in a user namespace)",
        works,
    )
}

/// `keygate <args>` in a private mount namespace whose `data` directory is a tmpfs of
/// `size_kb`, made by `unshare` (as root, as on the CI machine; else in a user
/// namespace). With `seed`, everything in that directory is copied in first; with
/// `read_only`, the tmpfs is then remounted read-only. The database is
/// `data/keygate.db`.
pub(crate) fn keygate_on_small_disk(
    dir: &TempDir,
    size_kb: u32,
    seed: Option<&std::path::Path>,
    read_only: bool,
) -> Command {
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let mut cmd = Command::new("unshare");
    if !crate::helpers::running_as_root() {
        cmd.args(["--user", "--map-root-user"]);
    }
    let script = r#"set -e
mount -t tmpfs -o "size=${KG_SIZE_KB}k" tmpfs "$KG_DATA"
if [ -n "$KG_SEED" ]; then cp -a "$KG_SEED"/. "$KG_DATA"/; fi
if [ "$KG_READ_ONLY" = 1 ]; then mount -o remount,ro "$KG_DATA"; fi
exec "$KG_BIN" "$@""#;
    cmd.args([
        "--mount",
        "--propagation",
        "private",
        "sh",
        "-c",
        script,
        "sh",
    ]);
    for (var, _) in std::env::vars().filter(|(v, _)| v.starts_with("KEYGATE_")) {
        cmd.env_remove(var);
    }
    cmd.current_dir(dir.path())
        .env("KG_BIN", env!("CARGO_BIN_EXE_keygate"))
        .env("KG_DATA", &data)
        .env("KG_SIZE_KB", size_kb.to_string())
        .env("KG_SEED", seed.map(|s| s.as_os_str()).unwrap_or_default())
        .env("KG_READ_ONLY", if read_only { "1" } else { "0" })
        .env(
            "KEYGATE_DATABASE_URL",
            format!("sqlite://{}", data.join("keygate.db").display()),
        )
        .env("KEYGATE_KEYS_DIR", dir.path().join("keys"))
        .env("KEYGATE_BIND", "127.0.0.1:0")
        .env("KEYGATE_WORKERS", "1");
    cmd
}

/// A full disk under the SQLite file: writes answer 503 with the JSON envelope and
/// the log says why; reads go on; nothing panics and the process stays up.
#[test]
#[ignore = "needs root or user namespaces (private mounts): cargo test -- --include-ignored"]
fn a_full_disk_gives_503_and_a_clear_log_not_a_panic() {
    if !private_mounts_work() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(keygate_on_small_disk(&dir, 512, None, false));
    let admin = server.bootstrap_key();
    let http = raw_http::Client;
    let name = "n".repeat(200);
    let mut full = None;
    for _ in 0..20_000 {
        let (status, body) = http.request(
            &server.address,
            "POST",
            "/v1/api-keys",
            &[("X-API-Key", &admin), ("Content-Type", "application/json")],
            format!(r#"{{"name": "{name}", "scopes": ["read"]}}"#),
        );
        match status {
            201 => continue,
            503 => {
                full = Some(body);
                break;
            }
            other => panic!("{other} {body}"),
        }
    }
    let body: serde_json::Value =
        serde_json::from_str(&full.expect("the disk never filled up")).unwrap();
    assert_eq!(body["error"]["code"], "service_unavailable", "{body}");
    // Reads still work, and the process is alive.
    let (status, listed) = http.request(
        &server.address,
        "GET",
        "/v1/api-keys?limit=1",
        &[("X-API-Key", &admin)],
        String::new(),
    );
    assert_eq!(status, 200, "{listed}");
    let (status, _) = http.request(&server.address, "GET", "/healthz", &[], String::new());
    assert_eq!(status, 200);
    let (ok, log) = server.terminate();
    assert!(
        log.contains("the database cannot take writes") && log.contains("full"),
        "{log}"
    );
    assert!(!log.contains("panicked"), "{log}");
    assert!(ok, "{log}");
}

/// A database on a read-only filesystem: keygate refuses to start, exits non-zero and
/// says which directory it cannot write and why — not a panic, not a server that
/// fails every write later.
#[test]
#[ignore = "needs root or user namespaces (private mounts): cargo test -- --include-ignored"]
fn a_database_on_a_read_only_filesystem_is_refused_at_start_with_the_reason() {
    if !private_mounts_work() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let seed = dir.path().join("seed");
    std::fs::create_dir_all(&seed).unwrap();
    let mut create = keygate(&dir, &TestDatabase::create(&dir));
    create.env(
        "KEYGATE_DATABASE_URL",
        format!("sqlite://{}", seed.join("keygate.db").display()),
    );
    let created = run(create.args(["api-key", "create", "--name", "ro", "--scope", "read"]));
    assert!(created.ok, "{}", created.stderr);

    let mut serve = keygate_on_small_disk(&dir, 4096, Some(&seed), true);
    let (ok, stderr) = refused_start(serve.arg("serve"));
    assert!(!ok);
    assert!(stderr.contains("cannot open the database"), "{stderr}");
    assert!(stderr.contains("Read-only file system"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

/// A database file keygate may not write (immutable as root, mode 0444 otherwise),
/// in a writable directory: SQLite would open it read-only without a word; keygate
/// refuses to start and says why.
#[test]
fn a_read_only_database_file_is_refused_at_start_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("keygate.db");
    let mut create = keygate(&dir, &TestDatabase::create(&dir));
    create.env(
        "KEYGATE_DATABASE_URL",
        format!("sqlite://{}", file.display()),
    );
    let created = run(create.args(["api-key", "create", "--name", "ro", "--scope", "read"]));
    assert!(created.ok, "{}", created.stderr);
    let immutable = Command::new("chattr")
        .arg("+i")
        .arg(&file)
        .status()
        .is_ok_and(|s| s.success());
    if !immutable {
        let mut permissions = std::fs::metadata(&file).unwrap().permissions();
        permissions.set_readonly(true);
        std::fs::set_permissions(&file, permissions).unwrap();
    }
    let mut serve = keygate(&dir, &TestDatabase::create(&dir));
    serve.env(
        "KEYGATE_DATABASE_URL",
        format!("sqlite://{}", file.display()),
    );
    let (ok, stderr) = refused_start(serve.arg("serve"));
    if immutable {
        let _ = Command::new("chattr").arg("-i").arg(&file).status();
    }
    assert!(!ok);
    assert!(stderr.contains("not writable"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

/// A PostgreSQL address that accepts TCP connections and never answers (a wedged
/// server, a proxy whose backend is gone): `migrate` and `serve` used to wait on it
/// forever without a word. They give up after the default connect timeout (5 s) with
/// the usual message naming the URL, and a `connect_timeout` in the URL still wins.
#[test]
fn a_database_that_accepts_but_never_answers_stops_migrate_and_serve_with_a_clear_message() {
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    // Accepts every connection and holds it open, never writing a byte.
    std::thread::spawn(move || {
        let held: Vec<_> = silent.incoming().collect();
        drop(held);
    });
    let dir = tempfile::tempdir().unwrap();
    let db = TestDatabase::create(&dir);
    let url = format!("postgres://keygate:hunter2@127.0.0.1:{port}/keygate");
    let named =
        format!("cannot open the database at postgres://keygate:***@127.0.0.1:{port}/keygate");
    for (command, query, within) in [
        ("migrate", "", Duration::from_secs(10)),
        ("serve", "", Duration::from_secs(10)),
        ("migrate", "?connect_timeout=2", Duration::from_millis(4500)),
    ] {
        let started = Instant::now();
        let (ok, stderr) = refused_start(
            keygate(&dir, &db)
                .env("KEYGATE_DATABASE_URL", format!("{url}{query}"))
                .arg(command),
        );
        let elapsed = started.elapsed();
        assert!(!ok, "{command}{query}: {stderr}");
        assert!(elapsed < within, "{command}{query}: {elapsed:?}");
        assert!(stderr.contains(&named), "{command}{query}: {stderr}");
        assert!(
            stderr.contains("timeout expired"),
            "{command}{query}: {stderr}"
        );
        assert!(!stderr.contains("hunter2"), "{stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}

/// Runs a command that must stop by itself within 30 s: (success, stderr).
pub(crate) fn refused_start(cmd: &mut Command) -> (bool, String) {
    let mut child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            panic!("keygate did not stop by itself within 30 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    (status.success(), stderr)
}
