//! `TestApp`: the real application on an ephemeral port with its own database and
//! keys directory, and what every test file shares: who calls it ([`actors`]), the
//! requests a client of keygate would write ([`http`]), JWTs taken apart and forged
//! ([`jwt`]), the databases and the invariants only they can show ([`db`]), and the
//! real binary as an operator runs it ([`process`]), the dashboard as a browser
//! drives it ([`web`]), and a mail relay that keeps what keygate sends ([`smtp`]).

pub mod actors;
pub mod db;
pub mod http;
pub mod jwt;
pub mod process;
pub mod smtp;
pub mod web;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use keygate::clock::{Clock, SystemClock};
use keygate::config::Settings;
use keygate::startup::Application;
use keygate::store::Store;
use tempfile::TempDir;

pub use actors::{created, Registered, TestClient, TestKey};
pub use db::{DatabaseSwitch, TestDatabase};
pub use http::{assert_api_error, assert_oauth_error, basic_auth, header, rotated};
pub use process::running_as_root;

pub const ISSUER: &str = "http://keygate.test";

pub struct TestApp {
    pub address: String,
    pub http: reqwest::Client,
    pub settings: Settings,
    pub store: Store,
    /// The bootstrap admin key `serve` would print (every configured scope).
    pub admin_key: String,
    /// The app's clock: the refresh-family check at the end of the test reads "now"
    /// from it.
    clock: Arc<dyn Clock>,
    // Held for their Drop: the database and the temp dir live as long as the app.
    _db: TestDatabase,
    _dir: TempDir,
}

pub fn test_settings(dir: &TempDir, db: &TestDatabase) -> Settings {
    Settings {
        database_url: keygate::store::DatabaseUrl::parse(&db.url).unwrap(),
        database_max_connections: 4,
        bind: "127.0.0.1:0".into(),
        issuer: ISSUER.parse().unwrap(),
        keys_dir: dir.path().join("keys"),
        workers: 1,
        ..Settings::default()
    }
}

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_with(|_| {}).await
    }

    pub async fn spawn_with(configure: impl FnOnce(&mut Settings)) -> Self {
        Self::spawn_with_clock(configure, Arc::new(SystemClock)).await
    }

    /// With a clock the test moves (e.g. `ManualClock`), for expiry without sleeping.
    pub async fn spawn_with_clock(
        configure: impl FnOnce(&mut Settings),
        clock: Arc<dyn Clock>,
    ) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let db = TestDatabase::create(&dir);
        let mut settings = test_settings(&dir, &db);
        configure(&mut settings);
        let mut app = Application::build_with_clock(settings.clone(), clock.clone())
            .await
            .unwrap();
        let admin_key = app
            .take_bootstrap_key()
            .expect("a fresh database gets a bootstrap key")
            .expose()
            .to_owned();
        let address = format!("http://127.0.0.1:{}", app.port());
        actix_web::rt::spawn(app.run_until_stopped());
        let store = Store::open(&settings.database_url, 2).unwrap();
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap();
        Self {
            address,
            http,
            settings,
            store,
            admin_key,
            clock,
            _db: db,
            _dir: dir,
        }
    }

    /// An app whose issuer is its own address, as a browser sees it: the dashboard's
    /// forms are checked against the issuer's origin.
    pub async fn spawn_on_own_origin() -> Self {
        Self::spawn_on_own_origin_with(|_| {}).await
    }

    /// `spawn_on_own_origin`, with more settings.
    pub async fn spawn_on_own_origin_with(configure: impl FnOnce(&mut Settings)) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        Self::spawn_with(|s| {
            s.bind = format!("127.0.0.1:{port}");
            s.issuer = format!("http://127.0.0.1:{port}").parse().unwrap();
            // Usage reaches the dashboard's charts within a second.
            s.usage_flush_interval = std::time::Duration::from_secs(1);
            configure(s);
        })
        .await
    }

    /// A second keygate instance on the same database and keys (and the same
    /// settings otherwise); returns its base URL.
    pub async fn spawn_sibling(&self, clock: Arc<dyn Clock>) -> String {
        let app = Application::build_with_clock(self.settings.clone(), clock)
            .await
            .unwrap();
        let address = format!("http://127.0.0.1:{}", app.port());
        actix_web::rt::spawn(app.run_until_stopped());
        address
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }
}

/// The refresh-family invariant, checked when every test ends: whatever the test did
/// with refresh tokens, no family has two live tokens. A test that failed already is
/// left with its own failure.
impl Drop for TestApp {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            db::assert_no_forked_family(&self.store, self.clock.now().naive_utc());
        }
    }
}

/// Polls every 100 ms, up to 10 s, until `check` holds (`true`) or gives a value
/// (`Some`): a flush written, a key reloaded. `what` names it when it never comes.
pub async fn eventually<O, F, Fut>(what: &str, check: F) -> O::Value
where
    O: Outcome,
    F: Fn() -> Fut,
    Fut: Future<Output = O>,
{
    for _ in 0..100 {
        if let Some(value) = check().await.value() {
            return value;
        }
        actix_rt::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("never happened: {what}");
}

/// What an `eventually` check answers: whether it holds, or the value once it does.
pub trait Outcome {
    type Value;
    fn value(self) -> Option<Self::Value>;
}

impl Outcome for bool {
    type Value = ();
    fn value(self) -> Option<()> {
        self.then_some(())
    }
}

impl<T> Outcome for Option<T> {
    type Value = T;
    fn value(self) -> Option<T> {
        self
    }
}

/// Tests that need more than the embedded SQLite default — a PostgreSQL server, Redis,
/// nginx, root for private mounts — are `#[ignore]`d with their reason, so a plain
/// `cargo test` reports them as ignored rather than passed; `cargo test --
/// --include-ignored` runs them. Inside such a test, `available` decides: with
/// `KEYGATE_TEST_REQUIRE_ALL` set (`.ci/run`, which installs and starts every
/// service) a missing one fails the test; elsewhere the test says NOT RUN and returns.
pub fn available(what: &str, is_there: bool) -> bool {
    if is_there {
        return true;
    }
    assert!(
        std::env::var_os("KEYGATE_TEST_REQUIRE_ALL").is_none(),
        "{what} is missing, and KEYGATE_TEST_REQUIRE_ALL says every test must run"
    );
    eprintln!("NOT RUN: {what} is missing");
    false
}

/// The PostgreSQL server's admin URL in the PostgreSQL pass (`KEYGATE_TEST_DATABASE_URL`).
/// A PostgreSQL-only test returns in the SQLite pass, saying so: `.ci/run` runs it in
/// the PostgreSQL pass.
pub fn postgres_pass(why: &str) -> Option<String> {
    match std::env::var("KEYGATE_TEST_DATABASE_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            eprintln!("NOT RUN in the SQLite pass (PostgreSQL only: {why})");
            None
        }
    }
}
