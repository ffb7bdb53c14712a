//! The real `keygate` binary: CLI commands, first start, and a full run whose logs
//! must not contain any secret it handled.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tempfile::TempDir;

use crate::helpers::{basic_auth, TestDatabase};

/// The binary with a clean environment pointing at `db` and `dir/keys`.
fn keygate(dir: &TempDir, db: &TestDatabase) -> Command {
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

struct CliOutput {
    ok: bool,
    json: serde_json::Value,
    stderr: String,
}

fn run(cmd: &mut Command) -> CliOutput {
    let output = cmd.output().unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    CliOutput {
        ok: output.status.success(),
        json: serde_json::from_str(&stdout).unwrap_or(serde_json::Value::Null),
        stderr: String::from_utf8(output.stderr).unwrap(),
    }
}

/// A running `keygate serve` whose stderr (the log) and stdout are collected apart.
struct Server {
    child: Child,
    log: Arc<Mutex<String>>,
    stdout: Arc<Mutex<String>>,
    address: String,
}

impl Server {
    fn start(mut cmd: Command) -> Self {
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
    fn terminate(mut self) -> (bool, String) {
        let pid = self.child.id().to_string();
        // It may be stopping already (then this kill finds nothing to signal).
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let exited = self.child.wait().unwrap();
        std::thread::sleep(Duration::from_millis(100));
        let log = self.log.lock().unwrap().clone();
        (exited.success(), log)
    }

    /// Stops the server; returns (log, stdout).
    fn stop(mut self) -> (String, String) {
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
        "--token-ttl",
        "10m",
    ]));
    assert!(created.ok, "{}", created.stderr);
    let id = created.json["client_id"].as_str().unwrap().to_owned();
    let secret = created.json["client_secret"].as_str().unwrap().to_owned();
    assert!(id.starts_with("kgc_"));
    assert!(
        secret.starts_with("kgs_") && secret.len() >= 4 + 43,
        "{secret}"
    );
    assert_eq!(created.json["scope"], "read write");
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
    let stdout = server.stdout.lock().unwrap().clone();
    let bootstrap = stdout
        .split_whitespace()
        .find(|word| word.starts_with("kg_live_"))
        .unwrap_or_else(|| panic!("no bootstrap key printed:\n{stdout}"))
        .to_owned();
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
mod raw_http {
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
                let host = base.trim_start_matches("http://");
                let mut stream = TcpStream::connect(host).unwrap();
                let headers: String = headers
                    .iter()
                    .map(|(name, value)| format!("{name}: {value}\r\n"))
                    .collect();
                write!(
                    stream,
                    "{method} {path} HTTP/1.1\r\nHost: {host}\r\n{headers}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                )
                .unwrap();
                let mut response = String::new();
                stream.read_to_string(&mut response).unwrap();
                let status = response.split(' ').nth(1).unwrap().parse().unwrap();
                let body = response
                    .split("\r\n\r\n")
                    .nth(1)
                    .unwrap_or_default()
                    .to_owned();
                (status, body)
            }
        }
    }
}
