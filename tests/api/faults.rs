//! The database going away or hanging under load: keygate answers 503 with a JSON
//! body while PostgreSQL refuses it or is stopped, within a bounded time, and recovers
//! by itself — with no refresh family left forked or half-rotated; a statement stuck
//! on a lock is cancelled after the statement timeout, and a hung backend is given up
//! on keygate's side; once the database is known to be down, no request waits for it.
//! (Process crashes, an unwritable SQLite file and a server that never answers a new
//! connection are in binary/: they need the real binary.)

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use futures_util::future::{join, join_all};

use crate::helpers::process::free_port;
use crate::helpers::{db, header, DatabaseSwitch, TestApp, TestClient};

#[derive(Default)]
struct Tally {
    ok: usize,
    unavailable: usize,
    ok_after_recovery: usize,
    slowest: Duration,
    /// Slowest answer once a checkout had failed (a 503 after the connection
    /// timeout), while the database stayed down.
    slowest_once_down: Duration,
    answers_once_down: usize,
}

/// One refresh chain, kept going until `stop`: a 503 retries the same token (the
/// client's grace interval makes a retry safe when the commit's answer was lost).
async fn chain(
    app: &TestApp,
    client: &TestClient,
    recovered: &AtomicBool,
    stop: &AtomicBool,
) -> Tally {
    let mut tally = Tally::default();
    let mut token: Option<String> = None;
    let mut known_down = false;
    while !stop.load(Ordering::SeqCst) {
        let form: Vec<(&str, &str)> = match &token {
            Some(t) => vec![("grant_type", "refresh_token"), ("refresh_token", t)],
            None => vec![("grant_type", "client_credentials")],
        };
        let after_recovery = recovered.load(Ordering::SeqCst);
        let started = Instant::now();
        let response = app.token_basic(client, &form).await;
        let elapsed = started.elapsed();
        tally.slowest = tally.slowest.max(elapsed);
        if known_down && !after_recovery {
            tally.slowest_once_down = tally.slowest_once_down.max(elapsed);
            tally.answers_once_down += 1;
        }
        let status = response.status().as_u16();
        let body: serde_json::Value = response.json().await.expect("a JSON body, always");
        match (status, body["error"].as_str()) {
            (200, None) => {
                token = Some(body["refresh_token"].as_str().unwrap().to_owned());
                tally.ok += 1;
                tally.ok_after_recovery += usize::from(after_recovery);
            }
            (503, Some("temporarily_unavailable")) => {
                tally.unavailable += 1;
                // A checkout that waited out the connection timeout: from now on
                // keygate knows the database is down.
                known_down |= elapsed > Duration::from_secs(2);
                actix_rt::time::sleep(Duration::from_millis(50)).await;
            }
            other => panic!("unexpected answer while the database came and went: {other:?}"),
        }
    }
    tally
}

/// Six refresh chains run through an outage: `go_down` after 0.8 s, `come_back` 8 s
/// later — longer than the 5 s connection timeout, so that answers come both while
/// keygate is finding out and once it knows — then 4 s more for every chain to go on.
/// Checks what must hold through any outage of the database.
async fn refresh_through_outage(app: &TestApp, go_down: impl FnOnce(), come_back: impl FnOnce()) {
    let client = app.refresh_client("read", Some(Duration::from_secs(30)));
    let (recovered, stop) = (AtomicBool::new(false), AtomicBool::new(false));
    let load = join_all((0..6).map(|_| chain(app, &client, &recovered, &stop)));
    let outage = async {
        actix_rt::time::sleep(Duration::from_millis(800)).await;
        go_down();
        actix_rt::time::sleep(Duration::from_secs(8)).await;
        come_back();
        recovered.store(true, Ordering::SeqCst);
        actix_rt::time::sleep(Duration::from_secs(4)).await;
        stop.store(true, Ordering::SeqCst);
    };
    let (tallies, ()) = join(load, outage).await;

    let unavailable: usize = tallies.iter().map(|t| t.unavailable).sum();
    assert!(unavailable > 0, "the outage was never noticed");
    let answers_once_down: usize = tallies.iter().map(|t| t.answers_once_down).sum();
    assert!(
        answers_once_down > 0,
        "no request came once the outage was known"
    );
    for tally in &tallies {
        assert!(tally.ok_after_recovery > 0, "a chain did not recover");
        // Bounded by the pool's connection timeout (5 s), not a hang...
        assert!(
            tally.slowest < Duration::from_secs(7),
            "{:?}",
            tally.slowest
        );
        // ...and once a checkout has failed, 503s come at once, not after another
        // 5 s each.
        assert!(
            tally.slowest_once_down < Duration::from_secs(1),
            "{:?}",
            tally.slowest_once_down
        );
    }
    let now = chrono::Utc::now().naive_utc();
    assert_eq!(
        db::families_without_exactly_one_live_token(&app.store, now),
        0
    );
}

/// PostgreSQL only (a SQLite file cannot go away under a running process): the test
/// database refuses keygate — every connection killed, new ones refused — which is
/// what a stopped server looks like to keygate, on the shared server.
#[actix_rt::test]
#[ignore = "needs PostgreSQL: KEYGATE_TEST_DATABASE_URL=… cargo test -- --include-ignored"]
async fn postgres_going_away_under_load_gives_503_and_recovers_by_itself() {
    let Some(admin_url) =
        crate::helpers::postgres_pass("an embedded SQLite database cannot go away")
    else {
        return;
    };
    let app = TestApp::spawn_with(|s| s.rate_limits = false).await;
    let database = std::cell::RefCell::new(DatabaseSwitch::new(&admin_url, &app));
    refresh_through_outage(
        &app,
        || database.borrow_mut().refuse(),
        || database.borrow_mut().accept(),
    )
    .await;
}

/// A PostgreSQL server of this test's own (initdb in a temporary directory, on a free
/// loopback port), really stopped (`pg_ctl stop -m fast`) and started again under
/// load: the shared server cannot be stopped without failing the other tests.
#[actix_rt::test]
#[ignore = "needs PostgreSQL: KEYGATE_TEST_DATABASE_URL=… cargo test -- --include-ignored"]
async fn a_real_postgres_restart_under_load_gives_503_and_recovers_by_itself() {
    if crate::helpers::postgres_pass("an embedded SQLite database cannot go away").is_none() {
        return;
    }
    let server = OwnPostgres::start();
    let url = server.database_url();
    let app = TestApp::spawn_with(|s| {
        s.rate_limits = false;
        s.database_url = keygate::store::DatabaseUrl::parse(&url).unwrap();
    })
    .await;
    refresh_through_outage(
        &app,
        || server.pg_ctl(&["stop", "-m", "fast"]),
        || server.start_again(),
    )
    .await;
}

/// A throwaway PostgreSQL server: the binaries next to `pg_config --bindir`, run as
/// the `postgres` user when this process is root (initdb refuses root).
struct OwnPostgres {
    dir: tempfile::TempDir,
    bin: std::path::PathBuf,
    port: u16,
    as_root: bool,
}

impl OwnPostgres {
    fn start() -> Self {
        let output = std::process::Command::new("pg_config")
            .arg("--bindir")
            .output()
            .expect("pg_config (libpq-dev) on PATH");
        let bin = std::path::PathBuf::from(String::from_utf8(output.stdout).unwrap().trim());
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let server = Self {
            dir,
            bin,
            port,
            as_root: crate::helpers::running_as_root(),
        };
        if server.as_root {
            let status = std::process::Command::new("chown")
                .args(["postgres:postgres"])
                .arg(server.dir.path())
                .status()
                .unwrap();
            assert!(status.success());
        }
        let data = server.data();
        server.run("initdb", &["-A", "trust", "-U", "postgres", "-D", &data]);
        server.start_again();
        server.run(
            "createdb",
            &[
                "-h",
                "127.0.0.1",
                "-p",
                &port.to_string(),
                "-U",
                "postgres",
                "keygate",
            ],
        );
        server
    }

    fn database_url(&self) -> String {
        format!(
            "postgres://postgres@127.0.0.1:{}/keygate?sslmode=disable",
            self.port
        )
    }

    fn data(&self) -> String {
        self.dir.path().join("data").display().to_string()
    }

    fn start_again(&self) {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1",
            self.port,
            self.dir.path().display()
        );
        let log = self.dir.path().join("log").display().to_string();
        self.pg_ctl(&["start", "-w", "-o", &options, "-l", &log]);
    }

    fn pg_ctl(&self, args: &[&str]) {
        let data = self.data();
        let mut all = vec!["-D", data.as_str()];
        all.extend_from_slice(args);
        self.run("pg_ctl", &all);
    }

    fn run(&self, program: &str, args: &[&str]) {
        let path = self.bin.join(program);
        let mut command = if self.as_root {
            let mut c = std::process::Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&path);
            c
        } else {
            std::process::Command::new(&path)
        };
        let output = command.args(args).output().unwrap();
        assert!(
            output.status.success(),
            "{program} {args:?}: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

impl Drop for OwnPostgres {
    fn drop(&mut self) {
        let data = self.data();
        let _ = std::panic::catch_unwind(|| {
            self.run("pg_ctl", &["-D", &data, "stop", "-m", "immediate"]);
        });
    }
}

/// A statement stuck behind a lock held elsewhere (an operator's open transaction, a
/// long migration by hand) is cancelled after `database_statement_timeout`: 503, not
/// a request — and a pool connection — held for as long as the lock is.
#[actix_rt::test]
#[ignore = "needs PostgreSQL: KEYGATE_TEST_DATABASE_URL=… cargo test -- --include-ignored"]
async fn a_statement_stuck_on_a_lock_gives_503_after_the_statement_timeout() {
    use diesel::connection::SimpleConnection;
    use diesel::Connection;
    if crate::helpers::postgres_pass("SQLite waits are bounded by its busy timeout").is_none() {
        return;
    }
    let app = TestApp::spawn_with(|s| {
        s.database_statement_timeout = Duration::from_secs(1);
    })
    .await;
    let client = app.client_with_scope("read");
    let token = || async {
        let started = Instant::now();
        let response = app
            .token_basic(&client, &[("grant_type", "client_credentials")])
            .await;
        let status = response.status().as_u16();
        let body: serde_json::Value = response.json().await.unwrap();
        (status, body, started.elapsed())
    };
    assert_eq!(token().await.0, 200);

    let keygate::store::DatabaseUrl::Postgres(url) = &app.settings.database_url else {
        unreachable!("PostgreSQL only")
    };
    let mut operator = diesel::PgConnection::establish(url.expose()).unwrap();
    operator
        .batch_execute("BEGIN; LOCK TABLE clients IN ACCESS EXCLUSIVE MODE;")
        .unwrap();
    let (status, body, elapsed) = token().await;
    assert_eq!(
        (status, body["error"].as_str()),
        (503, Some("temporarily_unavailable")),
        "{body}"
    );
    assert!(elapsed >= Duration::from_millis(900), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(4), "{elapsed:?}");
    operator.batch_execute("ROLLBACK;").unwrap();
    assert_eq!(token().await.0, 200);
}

/// `GET /v1/me` with `key`, bounded so that a hung request fails the test instead of
/// hanging it: (status, `Retry-After`, when the answer came).
async fn me_bounded(app: &TestApp, key: &str) -> (u16, String, Instant) {
    let response = actix_rt::time::timeout(Duration::from_secs(20), app.me(&[("X-API-Key", key)]))
        .await
        .expect("an answer within 20 s, not a hung request");
    let answered = Instant::now();
    (
        response.status().as_u16(),
        header(&response, "retry-after"),
        answered,
    )
}

/// A PostgreSQL backend that hangs (every process of the test database stopped with
/// SIGSTOP): its connections stay open and nothing answers — not even the statement
/// timeout, which the stopped backend would have to fire itself. Requests used to
/// wait for as long as it hung. keygate gives up on its side once a store turn has
/// taken longer than the connection wait (5 s) and the statement timeout together:
/// 503 with `Retry-After`, for the first request and for every other one that comes
/// meanwhile; 200 again once the backend goes on.
#[actix_rt::test]
#[ignore = "needs PostgreSQL and root: KEYGATE_TEST_DATABASE_URL=… cargo test -- --include-ignored"]
async fn a_hung_postgres_backend_gives_503_with_retry_after_instead_of_holding_requests() {
    let Some(admin_url) =
        crate::helpers::postgres_pass("a SQLite database has no server process to hang")
    else {
        return;
    };
    if !crate::helpers::available(
        "root (stopping a PostgreSQL backend: it is postgres's process)",
        crate::helpers::running_as_root(),
    ) {
        return;
    }
    let app = TestApp::spawn_with(|s| {
        s.rate_limits = false;
        s.database_statement_timeout = Duration::from_secs(1);
    })
    .await;
    let key = app.api_key("read").await.key;
    assert_eq!(me_bounded(&app, &key).await.0, 200);
    // The turn's deadline (5 s + 1 s), with room for a loaded machine.
    let bound = Duration::from_secs(8);

    let mut database = DatabaseSwitch::new(&admin_url, &app);
    let stopped = database.stop_backends();
    let started = Instant::now();
    let (status, retry_after, answered) = me_bounded(&app, &key).await;
    let waited = answered - started;
    eprintln!("hung backend: {status} after {waited:?}");
    assert_eq!(
        (status, retry_after.as_str()),
        (503, "1"),
        "after {waited:?}"
    );
    assert!(waited < bound, "{waited:?}");

    // Others meanwhile: some find a fresh backend, none waits past the bound.
    let started = Instant::now();
    for (status, retry_after, answered) in join_all((0..8).map(|_| me_bounded(&app, &key))).await {
        let waited = answered - started;
        assert!(
            status == 200 || (status == 503 && retry_after == "1"),
            "{status} {retry_after:?}"
        );
        assert!(waited < bound, "{waited:?}");
    }

    drop(stopped);
    let started = Instant::now();
    while me_bounded(&app, &key).await.0 != 200 {
        assert!(started.elapsed() < Duration::from_secs(15), "no recovery");
        actix_rt::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The 99th percentile of `samples`.
fn p99(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[(samples.len() * 99).div_ceil(100) - 1]
}

/// Once keygate knows the database is down, no request waits for it. 64 concurrent
/// requests used to queue for the pool behind each other, each turn waiting 250 ms
/// for a connection (p50 5.25 s, p99 6.75 s); now those already waiting are answered
/// when the first checkout fails, and those that come later at once.
#[actix_rt::test]
#[ignore = "needs PostgreSQL: KEYGATE_TEST_DATABASE_URL=… cargo test -- --include-ignored"]
async fn with_postgres_down_64_concurrent_requests_get_their_503s_at_once() {
    let Some(admin_url) =
        crate::helpers::postgres_pass("an embedded SQLite database cannot go away")
    else {
        return;
    };
    let app = TestApp::spawn_with(|s| s.rate_limits = false).await;
    let key = app.api_key("read").await.key;
    let wave = || join_all((0..64).map(|_| me_bounded(&app, &key)));
    assert!(wave().await.iter().all(|(status, _, _)| *status == 200));

    let mut database = DatabaseSwitch::new(&admin_url, &app);
    database.refuse();
    // keygate finds out: the first checkouts wait out the connection timeout.
    let finding_out = wave().await;
    assert!(
        finding_out
            .iter()
            .all(|(status, retry_after, _)| *status == 503 && retry_after == "1"),
        "{:?}",
        finding_out.iter().map(|a| a.0).collect::<Vec<_>>()
    );
    let first = finding_out.iter().map(|a| a.2).min().unwrap();
    let after_first = p99(finding_out.iter().map(|a| a.2 - first).collect());
    // Known down: every request of the next wave is answered at once.
    let started = Instant::now();
    let known_down = wave().await;
    assert!(known_down
        .iter()
        .all(|(status, retry_after, _)| *status == 503 && retry_after == "1"));
    let latency = p99(known_down.iter().map(|a| a.2 - started).collect());
    eprintln!("p99 after the first failure {after_first:?}; known down: p99 {latency:?}");
    assert!(after_first <= Duration::from_millis(500), "{after_first:?}");
    assert!(latency <= Duration::from_millis(500), "{latency:?}");

    database.accept();
    let started = Instant::now();
    while me_bounded(&app, &key).await.0 != 200 {
        assert!(started.elapsed() < Duration::from_secs(15), "no recovery");
        actix_rt::time::sleep(Duration::from_millis(100)).await;
    }
}
