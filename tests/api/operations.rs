//! The real binary as an operator runs it, where the outside review found it wanting:
//! made-up requests against metrics and logs, database passwords in every form,
//! file modes at rest, a start that fails and the one after it, a read-only keys
//! directory, a key file changed under a running server, and output into a closed
//! pipe. The process helpers are `helpers::process`'s.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::helpers::basic_auth;
use crate::helpers::jwt::kid_of;
use crate::helpers::process::{
    keygate_on_small_disk, private_mounts_work, refused_start, run, Installation, Server,
};

/// Resident memory of a process, in KiB.
fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap()
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kib| kib.parse().ok())
        .unwrap()
}

/// Any caller can send any token as an HTTP method, to any path. Each made-up method
/// and path must share one label (`other`, `unmatched`), so that thousands of them
/// leave `/metrics` and the process's memory as they were, and the debug request
/// line carries a bounded, escaped form of them.
#[test]
fn made_up_methods_and_paths_leave_metrics_memory_and_log_lines_bounded() {
    let kg = Installation::new();
    let server = kg.serve(&[
        ("KEYGATE_LOG", "debug"),
        ("KEYGATE_RATE_LIMITS", "false"),
        ("KEYGATE_USAGE_METERING", "false"),
    ]);
    let junk = |i: usize| {
        let method = format!("M{i}{}", "X".repeat(10_000));
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        for path in [format!("/junk/{i}/{}", "p".repeat(500)), "/v1/me".into()] {
            let status = server
                .request(method.clone(), &path)
                .send()
                .unwrap()
                .status();
            assert!(status.is_client_error(), "{status}");
        }
    };
    let metrics_size = || {
        let (status, body) = server.get("/metrics", &[]);
        assert_eq!(status, 200);
        body.len()
    };
    // The labels junk shares, and the server's buffers, exist before measuring.
    (0..200).for_each(junk);
    metrics_size();
    let (size_before, rss_before) = (metrics_size(), rss_kib(server.child.id()));
    (200..2200).for_each(junk);
    let (size_after, rss_after) = (metrics_size(), rss_kib(server.child.id()));
    let (log, _) = server.stop();

    // 4,000 requests with 10 KB methods: 40 MB of label text if each were kept.
    assert!(
        size_after < size_before + 1024,
        "/metrics grew from {size_before} to {size_after} bytes"
    );
    assert!(
        rss_after < rss_before + 8 * 1024,
        "resident memory grew from {rss_before} to {rss_after} KiB"
    );
    let longest = log.lines().map(str::len).max().unwrap_or(0);
    assert!(longest < 2048, "a log line of {longest} bytes");
    assert!(
        log.contains("method=M2199XXXXXXXXXX"),
        "methods are still logged"
    );
}

/// A client's malformed request — a NUL byte in a header — is that client's mistake:
/// answered 400, and never an ERROR line in the operator's log.
#[test]
fn a_malformed_request_is_a_400_and_no_error_in_the_log() {
    use std::io::{Read, Write};
    let kg = Installation::new();
    let server = kg.serve(&[]);
    for request in [
        &b"GET /v1/me HTTP/1.1\r\nHost: x\r\nX-API-Key: kg_live_\0x\r\n\r\n"[..],
        &b"GET /healthz HTTP/1.1\r\nHo\0st: x\r\n\r\n"[..],
        &b"G\0T / HTTP/1.1\r\n\r\n"[..],
    ] {
        let address = server.address.trim_start_matches("http://");
        let mut stream = std::net::TcpStream::connect(address).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        stream.write_all(request).unwrap();
        let mut answer = Vec::new();
        let _ = stream.read_to_end(&mut answer);
        let answer = String::from_utf8_lossy(&answer);
        assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    }
    let (log, _) = server.stop();
    assert!(!log.contains("ERROR"), "{log}");
}

/// A database password may be in the URL's userinfo or in a `password` or
/// `sslpassword` parameter (libpq reads both), percent-encoded or not. None of them
/// may reach an error, the `listening` log line or `keygate migrate`'s output; a
/// libpq `key=value` string is refused without being shown.
#[test]
fn database_passwords_in_every_form_stay_out_of_errors_logs_and_output() {
    let kg = Installation::new();
    for url in [
        "postgres://keygate:hunter2@127.0.0.1:1/keygate",
        "postgres://keygate:hun%74er2@127.0.0.1:1/keygate",
        "postgres://keygate@127.0.0.1:1/keygate?password=hunter2",
        "postgres://keygate@127.0.0.1:1/keygate?sslmode=disable&pass%77ord=hun%74er2",
        "postgresql://keygate@127.0.0.1:1/keygate?sslpassword=hunter2",
        "postgres://keygate@127.0.0.1:1/keygate?password=hun#ter2",
        "host=127.0.0.1 port=1 user=keygate password=hunter2",
    ] {
        for command in [&["migrate"][..], &["serve"], &["api-key", "list"]] {
            let out = run(kg.keygate().env("KEYGATE_DATABASE_URL", url).args(command));
            assert!(!out.ok, "{url} {command:?}");
            for secret in ["hunter2", "hun%74er2", "ter2"] {
                assert!(
                    !out.stderr.contains(secret),
                    "{url} {command:?}: {}",
                    out.stderr
                );
            }
            // Still says which database it could not use.
            assert!(
                out.stderr.contains("127.0.0.1:1") || out.stderr.contains("database_url"),
                "{url} {command:?}: {}",
                out.stderr
            );
        }
    }

    // A server that takes the password from the query string.
    if !kg.db.url.starts_with("postgres") {
        return;
    }
    let mut url = url::Url::parse(&kg.db.url).unwrap();
    let password = url
        .password()
        .unwrap_or("unused-by-a-trusting-server")
        .to_owned();
    url.set_password(None).unwrap();
    url.query_pairs_mut().append_pair("password", &password);
    let url = url.to_string();
    let migrated = run(kg
        .keygate()
        .env("KEYGATE_DATABASE_URL", &url)
        .arg("migrate"));
    assert!(migrated.ok, "{}", migrated.stderr);
    let shown = migrated.json["database"].as_str().unwrap();
    assert!(shown.contains("password=***"), "{shown}");
    let mut serve = kg.keygate();
    serve.env("KEYGATE_DATABASE_URL", &url);
    let (log, stdout) = Server::start(serve).stop();
    assert!(log.contains("keygate listening"), "{log}");
    assert!(log.contains("password=***"), "{log}");
    for output in [&log, &stdout, &migrated.stderr, shown] {
        assert!(!output.contains(&password), "{output}");
    }
}

/// `cmd` run under `umask 022`, the usual default (which made SQLite's files
/// world-readable), whatever the test runner's umask.
fn under_umask_022(cmd: &Command) -> Command {
    let mut wrapped = Command::new("sh");
    wrapped
        .args(["-c", "umask 022 && exec \"$@\"", "sh"])
        .arg(cmd.get_program())
        .args(cmd.get_args());
    for (var, value) in cmd.get_envs() {
        match value {
            Some(value) => wrapped.env(var, value),
            None => wrapped.env_remove(var),
        };
    }
    if let Some(dir) = cmd.get_current_dir() {
        wrapped.current_dir(dir);
    }
    wrapped
}

fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// The one PEM file in `keys`.
fn pem_in(keys: &Path) -> PathBuf {
    std::fs::read_dir(keys)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "pem"))
        .unwrap()
}

/// The SQLite database and the -wal and -shm files SQLite adds are created for their
/// owner only; a private key or a keys directory others may read stops the start
/// with the file and the `chmod` that fixes it, unless `allow_loose_key_permissions`.
#[test]
fn database_and_key_files_are_private_and_loose_keys_stop_the_start() {
    let kg = Installation::new();
    let server = Server::start(under_umask_022(&kg.keygate()));
    if let Some(file) = kg.db.url.strip_prefix("sqlite://") {
        for suffix in ["", "-wal", "-shm"] {
            let path = PathBuf::from(format!("{file}{suffix}"));
            assert_eq!(mode(&path), 0o600, "{}", path.display());
        }
    }
    server.stop();
    let keys = kg.dir.path().join("keys");
    assert_eq!(mode(&keys), 0o700);
    let pem = pem_in(&keys);
    assert_eq!(mode(&pem), 0o600);

    set_mode(&pem, 0o644);
    let (ok, stderr) = refused_start(kg.keygate().arg("serve"));
    assert!(!ok);
    assert!(
        stderr.contains(&pem.display().to_string())
            && stderr.contains(&format!("chmod 600 {}", pem.display())),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    let mut allowed = kg.keygate();
    allowed.env("KEYGATE_ALLOW_LOOSE_KEY_PERMISSIONS", "true");
    let (log, _) = Server::start(allowed).stop();
    assert!(log.contains("allow_loose_key_permissions"), "{log}");

    set_mode(&pem, 0o600);
    set_mode(&keys, 0o755);
    let (ok, stderr) = refused_start(kg.keygate().arg("serve"));
    assert!(!ok);
    assert!(
        stderr.contains(&format!("chmod 700 {}", keys.display())),
        "{stderr}"
    );
    set_mode(&keys, 0o700);
    kg.serve(&[]).stop();
}

/// The bootstrap admin key is made only by a start that gets to serve: a start that
/// fails later (the port taken, a broken key file) must leave it to the next start,
/// which prints it — else the database has a key nobody was shown, and no start
/// offers another.
#[test]
fn starts_that_fail_leave_the_bootstrap_key_to_the_start_that_serves() {
    let kg = Installation::new();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let (ok, stderr) = refused_start(
        kg.keygate()
            .env("KEYGATE_BIND", taken.local_addr().unwrap().to_string())
            .arg("serve"),
    );
    assert!(!ok && stderr.contains("cannot listen"), "{stderr}");
    drop(taken);

    // A key file that does not parse.
    let generated = kg.run(&["signing-key", "generate"]);
    assert!(generated.ok, "{}", generated.stderr);
    let kid = generated.json["kid"].as_str().unwrap().to_owned();
    let pem = kg.dir.path().join("keys").join(format!("{kid}.pem"));
    std::fs::write(
        &pem,
        "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
    )
    .unwrap();
    let (ok, stderr) = refused_start(kg.keygate().arg("serve"));
    assert!(!ok && stderr.contains(&kid), "{stderr}");
    for ext in ["pem", "json"] {
        std::fs::remove_file(kg.dir.path().join("keys").join(format!("{kid}.{ext}"))).unwrap();
    }

    let (server, admin) = kg.serve_with_admin(&[]);
    let (status, me) = server.get("/v1/me", &[("X-API-Key", &admin)]);
    assert_eq!(status, 200, "{me}");
    server.stop();
}

/// Several instances may share a keys directory on a read-only mount (the README's
/// layout; the CLI writes it from elsewhere): with an active key in it, `serve` only
/// reads it, and takes no lock it could not create.
#[test]
#[ignore = "needs root or user namespaces (private mounts): cargo test -- --include-ignored"]
fn serve_starts_on_a_read_only_keys_directory_that_has_an_active_key() {
    if !private_mounts_work() {
        return;
    }
    let kg = Installation::new();
    let seed = kg.dir.path().join("seed");
    let generated = run(kg
        .keygate()
        .env("KEYGATE_KEYS_DIR", seed.join("keys"))
        .args(["signing-key", "generate"]));
    assert!(generated.ok, "{}", generated.stderr);
    let kid = generated.json["kid"].as_str().unwrap().to_owned();

    // The seed (keys/ and its .lock) copied onto a tmpfs, remounted read-only; the
    // database stays where it was.
    let mut serve = keygate_on_small_disk(&kg.dir, 1024, Some(&seed), true);
    serve
        .env("KEYGATE_KEYS_DIR", kg.dir.path().join("data").join("keys"))
        .env("KEYGATE_DATABASE_URL", &kg.db.url);
    let server = Server::start(serve);
    let (status, jwks) = server.get("/.well-known/jwks.json", &[]);
    assert_eq!(status, 200);
    assert!(jwks.contains(&kid), "{jwks}");
    let (ok, log) = server.terminate();
    assert!(ok, "{log}");
    assert!(!log.contains("generated one"), "{log}");
    // No key to seal second factors could be made there: it serves, and says so.
    assert!(log.contains("second factors cannot be set up"), "{log}");
}

/// A PEM file rewritten under a running server — with another key, as a slip of a
/// deployment might — is noticed at the next reload: refused with an error naming
/// it (the next start would fail on it), once, while the server goes on signing with
/// the key it loaded.
#[test]
fn a_key_file_rewritten_under_a_running_server_is_refused_loudly_and_the_ring_kept() {
    let kg = Installation::new();
    let client = kg.client(&["--name", "pem", "--scope", "read"]);
    let auth = basic_auth(&client.id, &client.secret);
    let server = kg.serve(&[("KEYGATE_KEYS_RELOAD_INTERVAL", "1s")]);
    let token = || server.access_token(&auth);
    let kid = kid_of(&token());

    let other = tempfile::tempdir().unwrap();
    let other_key = keygate::tokens::signing_keys::generate(
        other.path(),
        keygate::tokens::KeyAlg::ES256,
        chrono::Utc::now(),
    )
    .unwrap();
    let pem = kg.dir.path().join("keys").join(format!("{kid}.pem"));
    let other_pem = other.path().join(format!("{}.pem", other_key.kid));
    // Replaced whole (a new file renamed over it), so no reload sees it half written.
    let replacement = pem.with_extension("new");
    std::fs::write(&replacement, std::fs::read(other_pem).unwrap()).unwrap();
    set_mode(&replacement, 0o600);
    std::fs::rename(&replacement, &pem).unwrap();

    let refused = "do not load";
    server.wait_for_log(refused, "the rewritten key went unnoticed");
    // Several reloads later: still signing with the key it had, said once.
    std::thread::sleep(Duration::from_millis(2500));
    assert_eq!(kid_of(&token()), kid);
    let (status, jwks) = server.get("/.well-known/jwks.json", &[]);
    assert_eq!(status, 200);
    assert!(
        jwks.contains(&kid) && !jwks.contains(&other_key.kid),
        "{jwks}"
    );
    let (log, _) = server.stop();
    let lines: Vec<&str> = log.lines().filter(|l| l.contains(refused)).collect();
    assert_eq!(lines.len(), 1, "{log}");
    assert!(
        lines[0].contains("ERROR") && lines[0].contains(&pem.display().to_string()),
        "{}",
        lines[0]
    );
}

/// `keygate api-key list | head` closes the pipe before keygate writes: the command
/// has done its work, and ends quietly — exit 0, no panic — as `println!` would not.
#[test]
fn output_into_a_closed_pipe_ends_quietly() {
    let kg = Installation::new();
    let created = kg.run(&["api-key", "create", "--name", "p", "--scope", "read"]);
    assert!(created.ok, "{}", created.stderr);
    for args in [
        &["api-key", "list"][..],
        &["signing-key", "list"],
        &["api-key", "create", "--name", "q", "--scope", "read"],
    ] {
        let mut child = kg
            .keygate()
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // The reader is gone before the first byte, as with `| head -0`.
        drop(child.stdout.take());
        let output = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            output.status.success(),
            "{args:?}: {:?} {stderr}",
            output.status
        );
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
}

/// `keygate completions SHELL` prints a script naming the commands, needs no settings
/// (a broken configuration does not stop it), and refuses an unknown shell clearly.
#[test]
fn completions_need_no_settings_and_name_the_commands() {
    let kg = Installation::new();
    for shell in ["bash", "zsh", "fish"] {
        let output = kg
            .keygate()
            .args(["completions", shell])
            .env("KEYGATE_BIND", "not an address")
            .env("KEYGATE_NO_SUCH_SETTING", "x")
            .output()
            .unwrap();
        assert!(output.status.success(), "{shell}: {output:?}");
        let script = String::from_utf8(output.stdout).unwrap();
        for command in ["api-key", "signing-key", "client", "serve"] {
            assert!(script.contains(command), "{shell}: {command} missing");
        }
    }
    let output = kg
        .keygate()
        .args(["completions", "cmd.exe"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(stderr.contains("invalid value"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}
