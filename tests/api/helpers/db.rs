//! The databases under the tests: one per test (a SQLite file, or a fresh PostgreSQL
//! database), a switch that makes PostgreSQL refuse or hang, and direct SQL for what
//! only the database can say — above all the refresh-family invariant (at most one
//! live token per family), which every `TestApp` checks when its test ends.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::NaiveDateTime;
use diesel::r2d2::ManageConnection;
use diesel::sql_types::{BigInt, Bool, Nullable, Text, Timestamp};
use diesel::{Connection, RunQueryDsl};
use keygate::store::{ConnectionManager, DbConn, Store, StoreError};
use sha2::Digest;
use tempfile::TempDir;

use super::TestApp;

/// A database for one test: a SQLite file in a temp dir, or a fresh PostgreSQL
/// database named after a UUID, dropped when the test ends.
pub struct TestDatabase {
    pub url: String,
    postgres_admin: Option<(String, String)>,
}

impl TestDatabase {
    pub fn create(dir: &TempDir) -> Self {
        match std::env::var("KEYGATE_TEST_DATABASE_URL") {
            Ok(admin_url) if !admin_url.is_empty() => {
                let name = format!("kg_test_{}", uuid::Uuid::new_v4().simple());
                let mut admin = diesel::PgConnection::establish(&admin_url)
                    .unwrap_or_else(|e| panic!("KEYGATE_TEST_DATABASE_URL unreachable: {e}"));
                diesel::sql_query(format!("CREATE DATABASE {name}"))
                    .execute(&mut admin)
                    .unwrap();
                let mut url = url::Url::parse(&admin_url).unwrap();
                url.set_path(&name);
                // No TLS to a loopback server: libpq's OpenSSL exit handlers crashed
                // the test process (SIGSEGV) when an r2d2 thread was still connecting
                // — retrying a database a test had blocked — as the process exited.
                if !url.query_pairs().any(|(k, _)| k == "sslmode") {
                    url.query_pairs_mut().append_pair("sslmode", "disable");
                }
                Self {
                    url: url.to_string(),
                    postgres_admin: Some((admin_url, name)),
                }
            }
            _ => Self {
                url: format!("sqlite://{}", dir.path().join("keygate.db").display()),
                postgres_admin: None,
            },
        }
    }

    /// A store of two connections on this database, for the checks below.
    pub fn store(&self) -> Store {
        open_store(&self.url)
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let Some((admin_url, name)) = &self.postgres_admin {
            if let Ok(mut admin) = diesel::PgConnection::establish(admin_url) {
                let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(&mut admin);
            }
        }
    }
}

/// A test's own way into the database behind a `Store`, for set-up and checks the
/// API does not offer: a connection of its own, outside the server's pool (the
/// store's doors are for the server).
pub trait TestConnection {
    fn with_conn<T>(&self, f: impl FnOnce(&mut DbConn) -> T) -> T;
}

impl TestConnection for Store {
    fn with_conn<T>(&self, f: impl FnOnce(&mut DbConn) -> T) -> T {
        let mut conn = ConnectionManager::new(self.url().clone())
            .connect()
            .unwrap();
        f(&mut conn)
    }
}

pub fn open_store(url: &str) -> Store {
    Store::open(&keygate::store::DatabaseUrl::parse(url).unwrap(), 2).unwrap()
}

/// The text of a PostgreSQL URL (a PostgreSQL test's database).
pub fn postgres_url(url: &keygate::store::DatabaseUrl) -> &str {
    let keygate::store::DatabaseUrl::Postgres(url) = url else {
        panic!("a PostgreSQL test")
    };
    url.expose()
}

/// The name of the PostgreSQL database at `url`.
pub fn database_name(url: &str) -> String {
    url::Url::parse(url)
        .unwrap()
        .path()
        .trim_start_matches('/')
        .to_owned()
}

/// PostgreSQL only: makes the app's database refuse keygate — every connection killed,
/// new ones refused — and accept it again; what a stopped server looks like to
/// keygate, without stopping the server the other tests share.
pub struct DatabaseSwitch {
    admin: diesel::PgConnection,
    name: String,
}

impl DatabaseSwitch {
    pub fn new(admin_url: &str, app: &TestApp) -> Self {
        Self {
            admin: diesel::PgConnection::establish(admin_url).unwrap(),
            name: database_name(postgres_url(&app.settings.database_url)),
        }
    }

    pub fn refuse(&mut self) {
        let name = self.name.clone();
        self.sql(format!("ALTER DATABASE {name} ALLOW_CONNECTIONS false"));
        self.sql(format!(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"
        ));
    }

    pub fn accept(&mut self) {
        self.sql(format!(
            "ALTER DATABASE {} ALLOW_CONNECTIONS true",
            self.name
        ));
    }

    /// Stops (SIGSTOP) every server process of the app's database: a hung backend.
    /// Its connections stay open and nothing answers on them — not even the
    /// statement timeout, which the backend would have to fire itself. New
    /// connections still get fresh backends. They go on (SIGCONT) when the returned
    /// guard is dropped, a failed assertion included. Needs root: the backends are
    /// `postgres`'s processes.
    pub fn stop_backends(&mut self) -> StoppedBackends {
        #[derive(diesel::QueryableByName)]
        struct Backend {
            #[diesel(sql_type = diesel::sql_types::Integer)]
            pid: i32,
        }
        let pids: Vec<String> = diesel::sql_query(format!(
            "SELECT pid FROM pg_stat_activity WHERE datname = '{}'",
            self.name
        ))
        .load::<Backend>(&mut self.admin)
        .unwrap()
        .into_iter()
        .map(|b| b.pid.to_string())
        .collect();
        assert!(!pids.is_empty(), "no backend of {} to stop", self.name);
        signal("-STOP", &pids);
        StoppedBackends(pids)
    }

    fn sql(&mut self, query: String) {
        diesel::sql_query(query).execute(&mut self.admin).unwrap();
    }
}

/// Backends stopped by `DatabaseSwitch::stop_backends`, continued on drop.
pub struct StoppedBackends(Vec<String>);

impl Drop for StoppedBackends {
    fn drop(&mut self) {
        signal("-CONT", &self.0);
    }
}

fn signal(signal: &str, pids: &[String]) {
    let status = std::process::Command::new("kill")
        .arg(signal)
        .args(pids)
        .status()
        .unwrap();
    assert!(
        status.success() || std::thread::panicking(),
        "kill {signal} {pids:?}"
    );
}

/// What keygate stores for a high-entropy token: base64url(SHA-256(token)).
pub fn token_hash(token: &str) -> String {
    URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(token.as_bytes()))
}

#[derive(diesel::QueryableByName, Debug)]
struct FamilyCount {
    #[diesel(sql_type = Text)]
    family_id: String,
    #[diesel(sql_type = BigInt)]
    live: i64,
}

/// Every family live at `now` (neither revoked nor expired) with its number of live
/// tokens (unspent, within their idle lifetime).
fn live_tokens_per_family(store: &Store, now: NaiveDateTime) -> Vec<FamilyCount> {
    store
        .with_conn(|c| {
            diesel::sql_query(
                "SELECT f.id AS family_id, \
                        (SELECT COUNT(*) FROM refresh_tokens t \
                         WHERE t.family_id = f.id AND t.spent_at IS NULL \
                           AND t.idle_expires_at > $1) AS live \
                 FROM refresh_families f \
                 WHERE f.revoked_at IS NULL AND f.expires_at > $1",
            )
            .bind::<Timestamp, _>(now)
            .load::<FamilyCount>(c)
            .map_err(StoreError::from)
        })
        .unwrap()
}

/// The refresh-family invariant: no family has more than one live token at `now`
/// (two would be a fork). `TestApp` asserts it when its test ends.
pub fn assert_no_forked_family(store: &Store, now: NaiveDateTime) {
    let forked: Vec<FamilyCount> = live_tokens_per_family(store, now)
        .into_iter()
        .filter(|f| f.live > 1)
        .collect();
    assert!(
        forked.is_empty(),
        "refresh families with more than one live token: {forked:?}"
    );
}

/// Families that are neither revoked nor expired but do not have exactly one live
/// token: two would be a fork, none a half-rotated family (a token spent without its
/// successor). Always zero once every rotation has finished.
pub fn families_without_exactly_one_live_token(store: &Store, now: NaiveDateTime) -> usize {
    live_tokens_per_family(store, now)
        .iter()
        .filter(|f| f.live != 1)
        .count()
}

/// Whether the database would accept the refresh token now (a live token of a live
/// family); `None` for a token it never stored.
pub fn refresh_token_is_live(store: &Store, token: &str, now: NaiveDateTime) -> Option<bool> {
    #[derive(diesel::QueryableByName)]
    struct Live {
        #[diesel(sql_type = Bool)]
        live: bool,
    }
    store
        .with_conn(|c| {
            diesel::sql_query(
                "SELECT (t.spent_at IS NULL AND t.idle_expires_at > $1 \
                         AND f.revoked_at IS NULL AND f.expires_at > $1) AS live \
                 FROM refresh_tokens t JOIN refresh_families f ON f.id = t.family_id \
                 WHERE t.token_hash = $2",
            )
            .bind::<Timestamp, _>(now)
            .bind::<Text, _>(token_hash(token))
            .get_results::<Live>(c)
            .map_err(StoreError::from)
        })
        .unwrap()
        .first()
        .map(|l| l.live)
}

/// How many of `tokens` the database would accept now.
pub fn live_refresh_tokens(store: &Store, tokens: &[String], now: NaiveDateTime) -> usize {
    tokens
        .iter()
        .filter(|t| refresh_token_is_live(store, t, now) == Some(true))
        .count()
}

/// The family of a stored refresh token, as its row says.
#[derive(diesel::QueryableByName, Debug)]
pub struct FamilyRow {
    #[diesel(sql_type = Text)]
    pub id: String,
    #[diesel(sql_type = Nullable<Timestamp>)]
    pub revoked_at: Option<NaiveDateTime>,
    #[diesel(sql_type = Nullable<Text>)]
    pub revoked_reason: Option<String>,
}

pub fn family_of(store: &Store, token: &str) -> FamilyRow {
    store
        .with_conn(|c| {
            diesel::sql_query(
                "SELECT f.id, f.revoked_at, f.revoked_reason \
                 FROM refresh_tokens t JOIN refresh_families f ON f.id = t.family_id \
                 WHERE t.token_hash = $1",
            )
            .bind::<Text, _>(token_hash(token))
            .get_result::<FamilyRow>(c)
            .map_err(StoreError::from)
        })
        .unwrap()
}

/// Live tokens of the family `family_id` at `now`.
pub fn live_tokens_of_family(store: &Store, family_id: &str, now: NaiveDateTime) -> i64 {
    live_tokens_per_family(store, now)
        .iter()
        .find(|f| f.family_id == family_id)
        .map_or(0, |f| f.live)
}

/// Sets a client's `grant_types` column as stored (space-separated), for states the
/// API cannot make.
pub fn set_grant_types(store: &Store, client_id: &str, grant_types: &str) {
    store
        .with_conn(|c| {
            diesel::sql_query("UPDATE clients SET grant_types = $1 WHERE id = $2")
                .bind::<Text, _>(grant_types)
                .bind::<Text, _>(client_id)
                .execute(c)
                .map_err(StoreError::from)
        })
        .unwrap();
}

/// The audit log of the organization `org_slug`, oldest first, as
/// `"<event_type> <actor>"`.
pub fn audit_trail(store: &Store, org_slug: &str) -> Vec<String> {
    #[derive(diesel::QueryableByName)]
    struct Event {
        #[diesel(sql_type = Text)]
        event_type: String,
        #[diesel(sql_type = Text)]
        actor: String,
    }
    store
        .with_conn(|c| {
            diesel::sql_query(
                "SELECT e.event_type, e.actor FROM audit_events e \
                 JOIN organizations o ON o.id = e.org_id \
                 WHERE o.slug = $1 ORDER BY e.created_at, e.id",
            )
            .bind::<Text, _>(org_slug)
            .load::<Event>(c)
            .map_err(StoreError::from)
        })
        .unwrap()
        .into_iter()
        .map(|e| format!("{} {}", e.event_type, e.actor))
        .collect()
}

/// Requests counted for `subject_id` (an API key's or a client's id), all minutes.
pub fn requests_counted(store: &Store, subject_id: &str) -> i64 {
    #[derive(diesel::QueryableByName)]
    struct Total {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    store
        .with_conn(|c| {
            diesel::sql_query(
                "SELECT CAST(COALESCE(SUM(requests), 0) AS BIGINT) AS n \
                 FROM usage_counters WHERE subject_id = $1",
            )
            .bind::<Text, _>(subject_id)
            .get_result::<Total>(c)
            .map_err(StoreError::from)
        })
        .unwrap()
        .n
}

/// SQLite's `PRAGMA integrity_check`: "ok" for an undamaged file.
pub fn sqlite_integrity(store: &Store) -> Vec<String> {
    #[derive(diesel::QueryableByName)]
    struct IntegrityCheck {
        #[diesel(sql_type = Text)]
        integrity_check: String,
    }
    store
        .with_conn(|c| {
            diesel::sql_query("PRAGMA integrity_check")
                .load::<IntegrityCheck>(c)
                .map_err(StoreError::from)
        })
        .unwrap()
        .into_iter()
        .map(|r| r.integrity_check)
        .collect()
}
