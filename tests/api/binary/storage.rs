//! The storage under the process failing it: a full disk, a read-only filesystem or
//! database file, and a PostgreSQL address that accepts connections and never
//! answers. Each gets a clear message — a 503 with the JSON envelope while serving,
//! a refused start naming the reason otherwise — never a panic or a silent hang.

use std::process::Command;
use std::time::{Duration, Instant};

use crate::helpers::process::{
    keygate_on_small_disk, private_mounts_work, refused_start, run, Installation, Server,
};

/// A full disk under the SQLite file: writes answer 503 with the JSON envelope and
/// the log says why; reads go on; nothing panics and the process stays up.
#[test]
#[ignore = "needs root or user namespaces (private mounts): cargo test -- --include-ignored"]
fn a_full_disk_gives_503_and_a_clear_log_not_a_panic() {
    if !private_mounts_work() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(keygate_on_small_disk(&dir, 1024, None, false));
    let admin = server.bootstrap_key();
    let name = "n".repeat(200);
    let mut full = None;
    for _ in 0..20_000 {
        let (status, body) = server.post_json(
            "/v1/api-keys",
            &[("X-API-Key", &admin)],
            &format!(r#"{{"name": "{name}", "scopes": ["read"]}}"#),
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
    let (status, listed) = server.get("/v1/api-keys?limit=1", &[("X-API-Key", &admin)]);
    assert_eq!(status, 200, "{listed}");
    let (status, _) = server.get("/healthz", &[]);
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
    let kg = Installation::new();
    let dir = &kg.dir;
    let seed = dir.path().join("seed");
    std::fs::create_dir_all(&seed).unwrap();
    let mut create = kg.keygate();
    create.env(
        "KEYGATE_DATABASE_URL",
        format!("sqlite://{}", seed.join("keygate.db").display()),
    );
    let created = run(create.args(["api-key", "create", "--name", "ro", "--scope", "read"]));
    assert!(created.ok, "{}", created.stderr);

    let mut serve = keygate_on_small_disk(dir, 4096, Some(&seed), true);
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
    let kg = Installation::new();
    let file = kg.dir.path().join("keygate.db");
    let mut create = kg.keygate();
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
    let mut serve = kg.keygate();
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
    let kg = Installation::new();
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
            kg.keygate()
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
