//! The store: one diesel connection type over SQLite and PostgreSQL, one r2d2 pool,
//! embedded migrations, and the async seam (`Store::run`, and `Store::blocking` for
//! work that holds a connection only part of the time) through which request
//! handlers reach the database without blocking the executor.
//!
//! The backend is chosen from the URL scheme here rather than by
//! `MultiConnection::establish`, which treats any string as a SQLite path and hides
//! the real connection error.
//!
//! No request waits for the database without bound: PostgreSQL connections get a
//! connect timeout and TCP keepalives unless the URL sets its own, every store turn
//! has a deadline, and while the database is known to be down nothing waits for it
//! at all (see `Store::blocking`).

mod outage;
pub mod schema;

use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::pg::PgConnection;
use diesel::r2d2::{self, ManageConnection, Pool, PooledConnection, R2D2Connection};
use diesel::sqlite::SqliteConnection;
use diesel::{Connection, RunQueryDsl};
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// Serialises concurrent `migrate` runs of several instances on one PostgreSQL database.
const MIGRATION_LOCK_ID: i64 = 0x006b_6579_6761_7465; // "keygate" in ASCII

/// One connection type for both backends.
#[derive(diesel::MultiConnection)]
pub enum DbConn {
    Postgres(PgConnection),
    Sqlite(SqliteConnection),
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// No connection: the pool could not get one in time, or the database is known
    /// to be down and the request did not wait for one.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// The server went away mid-request (stopped, restarted, connection killed) or did
    /// not answer within `statement_timeout` or the store turn's deadline: as
    /// temporary as `Unavailable`, and retried the same way.
    #[error("database connection lost: {0}")]
    ConnectionLost(String),
    /// The database refuses writes: a full disk, a read-only file or mount. Reads may
    /// still work; the operator has to act.
    #[error("the database cannot take writes: {0}")]
    Unwritable(String),
    #[error("database query failed: {0}")]
    Query(diesel::result::Error),
    #[error("blocking task was cancelled")]
    Cancelled,
    #[error("the system random number generator failed")]
    Random,
}

impl From<r2d2::PoolError> for StoreError {
    fn from(error: r2d2::PoolError) -> Self {
        Self::Unavailable(error.to_string())
    }
}

impl From<diesel::result::Error> for StoreError {
    /// Sorts out the failures that are the environment's, not the query's, so that
    /// callers answer 503 (try again) rather than 500 (a bug) for them.
    ///
    /// diesel's error kinds decide where they can (a closed connection, a read-only
    /// transaction on a standby); otherwise the message does — SQLite's are fixed
    /// English, and PostgreSQL's are matched in English (`lc_messages` other than
    /// English leaves those as 500s).
    fn from(error: diesel::result::Error) -> Self {
        use diesel::result::{DatabaseErrorKind, Error};
        const LOST: [&str; 6] = [
            "terminating connection",
            "server closed the connection",
            "no connection to the server",
            "could not receive data from server",
            "connection to server",
            // statement_timeout: as temporary, and answered the same way.
            "canceling statement due to statement timeout",
        ];
        const UNWRITABLE: [&str; 6] = [
            "database or disk is full",
            "attempt to write a readonly database",
            "disk I/O error",
            "unable to open database file",
            "No space left on device",
            "could not extend file",
        ];
        let (kind, message) = match &error {
            Error::DatabaseError(kind, info) => (kind, info.message().to_owned()),
            // A COMMIT that failed and could not be rolled back either: the
            // connection is gone, and with it the transaction.
            Error::RollbackErrorOnCommit {
                commit_error,
                rollback_error,
            } => {
                let why =
                    format!("commit failed: {commit_error}; rollback failed: {rollback_error}");
                return Self::ConnectionLost(why);
            }
            Error::BrokenTransactionManager => {
                return Self::ConnectionLost(error.to_string());
            }
            _ => return Self::Query(error),
        };
        if matches!(kind, DatabaseErrorKind::ClosedConnection)
            || LOST.iter().any(|m| message.contains(m))
        {
            Self::ConnectionLost(message)
        } else if matches!(kind, DatabaseErrorKind::ReadOnlyTransaction)
            || UNWRITABLE.iter().any(|m| message.contains(m))
        {
            Self::Unwritable(message)
        } else {
            Self::Query(error)
        }
    }
}

/// Which database a URL names, parsed once at start-up. Neither it nor the URL it
/// holds has a `Display`, and `Debug` shows only `redacted`.
#[derive(Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    Postgres(PostgresUrl),
    /// A filesystem path, or `:memory:`.
    Sqlite(String),
}

/// A PostgreSQL URL, which may carry a password (in its userinfo or a query
/// parameter). The text is reachable only through `expose`, for libpq.
#[derive(Clone, PartialEq, Eq)]
pub struct PostgresUrl(String);

impl PostgresUrl {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for PostgresUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PostgresUrl({})", redact_url(&self.0))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum UrlError {
    #[error("database URL '{0}' has an unsupported scheme; use sqlite://PATH or postgres://…")]
    UnsupportedScheme(String),
    #[error("database URL '{0}' names no SQLite file")]
    EmptySqlitePath(String),
    #[error("database URL '{0}': an in-memory SQLite database cannot be shared by a connection pool; name a file")]
    InMemory(String),
}

impl DatabaseUrl {
    pub fn parse(url: &str) -> Result<Self, UrlError> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(Self::Postgres(PostgresUrl(url.to_owned())));
        }
        let path = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
            .ok_or_else(|| UrlError::UnsupportedScheme(redact_url(url)))?;
        if path.is_empty() {
            return Err(UrlError::EmptySqlitePath(redact_url(url)));
        }
        // Every pooled connection would get its own empty in-memory database.
        if path == ":memory:" || path.contains("mode=memory") {
            return Err(UrlError::InMemory(redact_url(url)));
        }
        Ok(Self::Sqlite(path.to_owned()))
    }

    /// The URL with any password replaced, for logs and error messages.
    pub fn redacted(&self) -> String {
        match self {
            Self::Postgres(url) => redact_url(url.expose()),
            Self::Sqlite(path) => format!("sqlite://{path}"),
        }
    }

    /// `text` (an error from libpq, say, which may quote part of the URL it was
    /// given) with every password of this URL, raw or percent-decoded, replaced.
    pub fn scrub(&self, text: &str) -> String {
        let Self::Postgres(url) = self else {
            return text.to_owned();
        };
        let mut text = text.to_owned();
        for secret in url_secrets(url.expose()) {
            text = text.replace(&secret, "***");
        }
        text
    }

    /// The file of a SQLite database.
    pub fn sqlite_path(&self) -> Option<&str> {
        match self {
            Self::Postgres(_) => None,
            Self::Sqlite(path) => Some(path),
        }
    }
}

impl std::fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DatabaseUrl({})", self.redacted())
    }
}

/// libpq parameters keygate gives every PostgreSQL connection unless its URL sets
/// them itself (libpq's own defaults wait for ever).
///
/// - `connect_timeout` (seconds): a server that accepts the TCP connection and never
///   answers — wedged, or a proxy whose backend is gone — otherwise holds `serve` and
///   every CLI command without a word, and r2d2's connecting threads with them.
/// - keepalives and `tcp_user_timeout` (milliseconds): when the server's host dies or
///   drops off the network mid-statement, the kernel closes the socket after about
///   20 s instead of leaving a thread and its pool connection waiting for ever. (A
///   hung server process still acknowledges at the TCP level: the store turn's
///   deadline answers its requests, see `Store::blocking`.)
const POSTGRES_CONNECTION_DEFAULTS: [(&str, &str); 5] = [
    ("connect_timeout", "5"),
    ("keepalives_idle", "10"),
    ("keepalives_interval", "5"),
    ("keepalives_count", "2"),
    ("tcp_user_timeout", "20000"),
];

/// `url` with `POSTGRES_CONNECTION_DEFAULTS` appended to its query, each unless the
/// URL sets it. Done on the text: `url::Url` would re-encode what libpq accepts (host
/// lists, socket directories in the host part).
fn with_connection_defaults(url: &str) -> String {
    let query = url.split_once('?').map_or("", |(_, query)| query);
    let given: Vec<String> = url::form_urlencoded::parse(query.as_bytes())
        .map(|(key, _)| key.into_owned())
        .collect();
    let mut full = url.to_owned();
    let mut separator = match url.split_once('?') {
        None => "?",
        Some((_, "")) => "",
        Some((_, query)) if query.ends_with('&') => "",
        Some(_) => "&",
    };
    for (key, value) in POSTGRES_CONNECTION_DEFAULTS {
        if !given.iter().any(|k| k == key) {
            full.push_str(&format!("{separator}{key}={value}"));
            separator = "&";
        }
    }
    full
}

/// Query parameters whose value libpq takes as a password.
const SECRET_PARAMETERS: [&str; 2] = ["password", "sslpassword"];

fn is_secret_parameter(name: &str) -> bool {
    SECRET_PARAMETERS
        .iter()
        .any(|p| name.eq_ignore_ascii_case(p))
}

/// The URL with every password it carries replaced by `***`, for logs, errors and
/// output: the userinfo one (`postgres://user:secret@host/db`) and the `password` and
/// `sslpassword` parameters libpq also accepts (`postgres://user@host/db?password=…`),
/// however their names and values are percent-encoded. A fragment is replaced too:
/// libpq does not know fragments, so a `#` can be part of a parameter's value.
/// Anything that does not parse as a URL — a libpq `key=value` string, which keygate
/// refuses anyway — is not shown at all.
pub fn redact_url(url: &str) -> String {
    let Ok(mut parsed) = url::Url::parse(url) else {
        return "<unparseable database URL>".to_owned();
    };
    if parsed.password().is_some() {
        // set_password fails only for URLs that cannot carry one; this one does.
        let _ = parsed.set_password(Some("***"));
    }
    if parsed
        .query_pairs()
        .any(|(name, _)| is_secret_parameter(&name))
    {
        let pairs: Vec<(String, String)> = parsed
            .query_pairs()
            .map(|(name, value)| {
                let value = if is_secret_parameter(&name) {
                    "***".to_owned()
                } else {
                    value.into_owned()
                };
                (name.into_owned(), value)
            })
            .collect();
        parsed.query_pairs_mut().clear().extend_pairs(pairs);
    }
    if parsed.fragment().is_some() {
        parsed.set_fragment(Some("***"));
    }
    parsed.to_string()
}

/// Every password in `url` (see `redact_url`), as written and percent-decoded.
fn url_secrets(url: &str) -> Vec<String> {
    let Ok(parsed) = url::Url::parse(url) else {
        return Vec::new();
    };
    let mut raw: Vec<String> = parsed.password().map(str::to_owned).into_iter().collect();
    for pair in parsed.query().unwrap_or_default().split('&') {
        if let Some((name, value)) = pair.split_once('=') {
            let name = percent_encoding::percent_decode_str(name).decode_utf8_lossy();
            if is_secret_parameter(&name) {
                raw.push(value.to_owned());
            }
        }
    }
    raw.extend(parsed.fragment().map(str::to_owned));
    let mut secrets = Vec::new();
    for secret in raw.into_iter().filter(|s| !s.is_empty()) {
        let decoded = percent_encoding::percent_decode_str(&secret)
            .decode_utf8_lossy()
            .into_owned();
        secrets.push(secret);
        secrets.push(decoded);
    }
    // Longest first, so a password is not half-replaced through a shorter one.
    secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    secrets.dedup();
    secrets
}

/// r2d2 manager that opens the right backend and applies SQLite's per-connection pragmas.
#[derive(Clone, Debug)]
pub struct ConnectionManager {
    url: DatabaseUrl,
    /// PostgreSQL's `statement_timeout` for every statement of the session; `None`
    /// leaves the server's (for migrations, which may rightly take long).
    statement_timeout: Option<Duration>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("cannot connect to {url}: {reason}")]
    Connection { url: String, reason: String },
    #[error("cannot configure {url}: {source}")]
    Setup {
        url: String,
        source: diesel::result::Error,
    },
    #[error("connection check failed: {0}")]
    Check(#[from] diesel::result::Error),
}

/// Per-connection SQLite settings: WAL lets readers run beside the writer, the busy
/// timeout makes writers queue instead of failing, and foreign keys are off by default.
const SQLITE_PRAGMAS: &str = "PRAGMA journal_mode = WAL; \
     PRAGMA synchronous = NORMAL; \
     PRAGMA busy_timeout = 5000; \
     PRAGMA foreign_keys = ON;";

const POSTGRES_SESSION: &str =
    "SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL READ COMMITTED";

impl ManageConnection for ConnectionManager {
    type Connection = DbConn;
    type Error = ConnectError;

    fn connect(&self) -> Result<DbConn, ConnectError> {
        // libpq's message may quote the part of the URL it could not use.
        let connection_error = |source: diesel::ConnectionError| ConnectError::Connection {
            url: self.url.redacted(),
            reason: self.url.scrub(&source.to_string()),
        };
        match &self.url {
            DatabaseUrl::Postgres(url) => {
                let mut conn = PgConnection::establish(&with_connection_defaults(url.expose()))
                    .map_err(connection_error)?;
                // keygate's conditional updates pick one winner by their affected-row
                // count, which holds under READ COMMITTED (a blocked UPDATE re-reads
                // the row); a stricter server default would turn the losers into
                // serialization failures. Set once per connection, not per transaction.
                //
                // A statement that waits longer than `statement_timeout` — on a lock
                // an open transaction elsewhere holds, on a hung server — is cancelled
                // by the server, and the request gets 503 instead of hanging with its
                // connection (and, as requests pile up, the whole pool).
                let timeout = self
                    .statement_timeout
                    .map(|t| format!("; SET statement_timeout = {}", t.as_millis()))
                    .unwrap_or_default();
                conn.batch_execute(&format!("{POSTGRES_SESSION}{timeout}"))
                    .map_err(|source| ConnectError::Setup {
                        url: self.url.redacted(),
                        source,
                    })?;
                Ok(DbConn::Postgres(conn))
            }
            DatabaseUrl::Sqlite(path) => {
                let mut conn = SqliteConnection::establish(path).map_err(connection_error)?;
                conn.batch_execute(SQLITE_PRAGMAS)
                    .map_err(|source| ConnectError::Setup {
                        url: self.url.redacted(),
                        source,
                    })?;
                Ok(DbConn::Sqlite(conn))
            }
        }
    }

    fn is_valid(&self, conn: &mut DbConn) -> Result<(), ConnectError> {
        conn.ping().map_err(ConnectError::Check)
    }

    /// A connection left inside a failed transaction (or whose server went away) is
    /// dropped on return instead of being handed out again.
    fn has_broken(&self, conn: &mut DbConn) -> bool {
        conn.is_broken()
    }
}

/// The pool and the one way to use it from async code.
#[derive(Clone)]
pub struct Store {
    pool: Pool<ConnectionManager>,
    url: DatabaseUrl,
    /// SQLite admits one writer at a time and makes the others sleep and retry with a
    /// growing back-off (1, 2, 5 … 100 ms); under concurrent refreshes that put p99
    /// near 300 ms. Writers take a turn on this lock instead, just around their write
    /// transaction. (Waiting on the async side instead put two thread hops inside the
    /// serialized section and halved throughput.)
    writer: WriterLock,
    /// One permit per pooled connection, taken on the async side before a blocking
    /// task starts. r2d2 wakes one waiter when a connection comes back, but a thread
    /// arriving at that moment can take it first, again and again: with more blocking
    /// threads than connections, a few requests starved for seconds (p99 ~1 s and
    /// timeouts on PostgreSQL). The semaphore queues in arrival order instead, and no
    /// thread waits inside r2d2.
    turns: std::sync::Arc<tokio::sync::Semaphore>,
    /// Whether the database is known to be down: while it is, nothing waits for it
    /// (see `outage`).
    outage: std::sync::Arc<outage::Outage>,
    /// The longest a request waits for the database in one store turn, its wait for
    /// the turn included (see `blocking`); `None` for stores that serve no requests.
    deadline: Option<Duration>,
}

/// How long a checkout waits for a connection (a new connection to a live server
/// takes milliseconds).
const CHECKOUT_TIMEOUT: Duration = Duration::from_secs(5);

/// This process's turn to write to SQLite (see `Store::writer`); a no-op on
/// PostgreSQL, whose row locks need no help.
#[derive(Clone, Default)]
pub struct WriterLock(Option<std::sync::Arc<parking_lot::Mutex<()>>>);

/// Held while writing; handed to the longest waiter on drop (`unlock_fair`), so no
/// writer starves.
pub struct WriterTurn<'a>(Option<parking_lot::MutexGuard<'a, ()>>);

impl WriterLock {
    pub fn turn(&self) -> WriterTurn<'_> {
        WriterTurn(self.0.as_ref().map(|lock| lock.lock()))
    }
}

impl Drop for WriterTurn<'_> {
    fn drop(&mut self) {
        if let Some(guard) = self.0.take() {
            parking_lot::MutexGuard::unlock_fair(guard);
        }
    }
}

/// Why a SQLite database cannot be written, in the operating system's words — SQLite
/// itself only says "unable to open database file" — or `None` if it can be.
fn sqlite_write_problem(path: &str) -> Option<String> {
    use std::fs::OpenOptions;
    let path = std::path::Path::new(path);
    if path.exists() {
        if let Err(error) = OpenOptions::new().append(true).open(path) {
            return Some(format!("the file is not writable: {error}"));
        }
    }
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    let probe = dir.join(format!(".keygate-write-probe-{}", std::process::id()));
    match OpenOptions::new().write(true).create_new(true).open(&probe) {
        Ok(_) => {
            let _ = std::fs::remove_file(&probe);
            None
        }
        Err(error) => Some(format!(
            "its directory {} is not writable: {error}; SQLite keeps its -wal and -shm files beside the database",
            dir.display()
        )),
    }
}

/// Creates a SQLite database file that does not exist yet with mode 0600. SQLite
/// itself would create it under the process's umask — world-readable under the usual
/// 022 — and gives the -wal and -shm files it makes later the main file's mode, so
/// creating the main file first covers all three. An existing file keeps its mode
/// (the operator's choice), with a warning when others may read it. A `file:` URI
/// is left to SQLite, and so is any failure here: its own open reports it.
fn create_private_sqlite_file(path: &str) {
    if path.starts_with("file:") {
        return;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    match options.open(path) {
        Ok(_) => {}
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                let mode = std::fs::metadata(path).map_or(0, |m| m.permissions().mode());
                if mode & 0o077 != 0 {
                    tracing::warn!(path, mode = %format!("{:o}", mode & 0o777),
                        "the database file is open to other users; chmod 600 it (and its -wal and -shm files)");
                }
            }
        }
        Err(_) => {}
    }
}

#[derive(Debug, thiserror::Error)]
#[error("cannot open the database at {url}: {reason}")]
pub struct OpenError {
    url: String,
    reason: String,
}

impl Store {
    /// Opens the pool and checks that the database answers, so a wrong URL fails at
    /// start-up with a message naming it (without its password).
    pub fn open(url: &DatabaseUrl, max_connections: u32) -> Result<Self, OpenError> {
        Self::open_with_statement_timeout(url, max_connections, None)
    }

    /// `open` for a server: PostgreSQL statements are cancelled after
    /// `statement_timeout` (see `ConnectionManager`; SQLite's waits are bounded by its
    /// busy timeout), and on either backend a store turn is given up after the
    /// checkout timeout and `statement_timeout` together (see `blocking`).
    pub fn open_with_statement_timeout(
        url: &DatabaseUrl,
        max_connections: u32,
        statement_timeout: Option<Duration>,
    ) -> Result<Self, OpenError> {
        let manager = ConnectionManager {
            url: url.clone(),
            statement_timeout,
        };
        let open_error = |reason: String| OpenError {
            url: url.redacted(),
            reason,
        };
        if let Some(path) = url.sqlite_path() {
            create_private_sqlite_file(path);
        }
        // Check once by hand: r2d2's own build error only says "timed out".
        manager.connect().map_err(|error| {
            let mut reason = error.to_string();
            if let Some(problem) = url.sqlite_path().and_then(sqlite_write_problem) {
                reason = format!("{reason} ({problem})");
            }
            open_error(reason)
        })?;
        // min_idle 0: r2d2 otherwise replaces every checked-out connection from a
        // background thread, and a short-lived process (the CLI, a test) can then exit
        // in the middle of that thread's TLS handshake with PostgreSQL, which crashed
        // the process in libpq/OpenSSL's exit handlers.
        let pool = Pool::builder()
            .max_size(max_connections)
            .min_idle(Some(0))
            // A server connection can die under us (restart, failover, idle timeout),
            // and diesel's `is_broken` sees only transaction state, so PostgreSQL
            // connections are pinged on checkout. A SQLite file cannot go away; the
            // ping would be a parsed `SELECT 1` per request for nothing.
            .test_on_check_out(matches!(url, DatabaseUrl::Postgres(_)))
            .connection_timeout(CHECKOUT_TIMEOUT)
            .build(manager)
            .map_err(|error| open_error(error.to_string()))?;
        let writer = WriterLock(matches!(url, DatabaseUrl::Sqlite(_)).then(Default::default));
        Ok(Self {
            pool,
            url: url.clone(),
            writer,
            turns: std::sync::Arc::new(tokio::sync::Semaphore::new(max_connections as usize)),
            outage: Default::default(),
            deadline: statement_timeout.map(|statement| CHECKOUT_TIMEOUT + statement),
        })
    }

    /// (open connections, idle connections), for metrics.
    pub fn pool_state(&self) -> (u32, u32) {
        let state = self.pool.state();
        (state.connections, state.idle_connections)
    }

    pub fn url(&self) -> &DatabaseUrl {
        &self.url
    }

    /// Runs `f` with a pooled connection on the blocking pool.
    pub async fn run<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut DbConn) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        self.blocking(move |store| store.with_conn(f)).await
    }

    /// Runs `f` on the blocking pool with the store at hand, for work that needs a
    /// connection for only part of its run (`with_conn` inside), such as reading a
    /// row before a slow argon2 verification. Waits first, in arrival order, for one
    /// of as many turns as the pool has connections (see `turns`); `f` may use one
    /// connection at a time.
    ///
    /// The whole turn, its wait included, has a deadline: the checkout timeout plus
    /// the statement timeout, beyond which a live server would have answered or
    /// cancelled the statement itself. A hung server does neither — a stopped backend
    /// cannot fire its own statement timeout, and its kernel still acknowledges every
    /// packet — and the request would wait as long as it hangs. Past the deadline the
    /// request gets its 503 and an outage begins; `f` runs on with its turn and its
    /// connection until the server answers (the blocking call cannot be interrupted),
    /// so the pool does not hand them out meanwhile.
    pub async fn blocking<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&Store) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        let work = async {
            let turn = self
                .outage
                .turn_unless_down(&self.turns)
                .await
                .map_err(E::from)?;
            let store = self.clone();
            // The blocking thread logs under the request's span (its request id).
            let span = tracing::Span::current();
            actix_web::web::block(move || {
                let _entered = span.enter();
                // Released when the work is done, even if the request was dropped
                // meanwhile (or gave up at the deadline).
                let _turn = turn;
                f(&store)
            })
            .await
            .map_err(|_| E::from(StoreError::Cancelled))?
        };
        let Some(deadline) = self.deadline else {
            return work.await;
        };
        match actix_web::rt::time::timeout(deadline, work).await {
            Ok(done) => done,
            Err(_) => {
                self.outage.begin();
                Err(E::from(StoreError::ConnectionLost(format!(
                    "no answer from the database within {} ms",
                    deadline.as_millis()
                ))))
            }
        }
    }

    /// Runs `f` with a pooled connection on the calling thread. For code that is
    /// already off the executor (the CLI, `web::block` bodies), and that wants the
    /// connection back in the pool before slow work such as argon2.
    pub fn with_conn<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut DbConn) -> Result<T, E>,
        E: From<StoreError>,
    {
        let mut conn = self.conn().map_err(E::from)?;
        f(&mut conn)
    }

    /// `with_conn` for work that writes: on SQLite it first waits its turn among this
    /// process's writers (see `sqlite_writer`).
    pub fn with_write_conn<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut DbConn) -> Result<T, E>,
        E: From<StoreError>,
    {
        // Connection first, then the turn: the same order as the grant path, which
        // takes its turn while holding a connection.
        self.with_conn(|conn| {
            let _turn = self.writer.turn();
            f(conn)
        })
    }

    /// The SQLite writer lock, for code that takes its turn only around the writing
    /// part of a longer piece of work.
    pub fn writer(&self) -> &WriterLock {
        &self.writer
    }

    /// `run` for work that writes (see `with_write_conn`).
    pub async fn run_write<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut DbConn) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        self.blocking(move |store| store.with_write_conn(f)).await
    }

    /// `with_write_conn` in one transaction (see `run_transaction`).
    pub fn with_transaction<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut DbConn) -> Result<T, E>,
        E: From<StoreError> + From<diesel::result::Error>,
    {
        self.with_write_conn(|conn| conn.transaction(f))
    }

    /// `run_write` in one transaction: for a change and what it entails (its audit
    /// event, say) to commit or roll back together.
    pub async fn run_transaction<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut DbConn) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<StoreError> + From<diesel::result::Error> + Send + 'static,
    {
        self.run_write(move |conn| conn.transaction(f)).await
    }

    fn conn(&self) -> Result<PooledConnection<ConnectionManager>, StoreError> {
        // Known down: no wait (see `outage`). A zero timeout still takes an idle
        // connection and asks r2d2 for a new one, which `try_get` would not.
        let checkout = if self.outage.is_known() {
            self.pool.get_timeout(Duration::ZERO)
        } else {
            self.pool.get()
        };
        match checkout {
            Ok(conn) => {
                self.outage.end();
                Ok(conn)
            }
            Err(error) => {
                self.outage.begin();
                Err(error.into())
            }
        }
    }

    /// Fails, saying why, if the database cannot take writes. SQLite opens a file it
    /// may not write (permissions, an immutable file) read-only without a word, and a
    /// server would then start and fail every write; this writes once and rolls back
    /// instead (taking the write lock alone is allowed on a read-only file).
    /// PostgreSQL says so itself at the first write (a standby: migrations).
    pub fn check_writable(&self) -> Result<(), OpenError> {
        let DatabaseUrl::Sqlite(path) = &self.url else {
            return Ok(());
        };
        let mut conn = self.conn().map_err(|e| OpenError {
            url: self.url.redacted(),
            reason: e.to_string(),
        })?;
        conn.batch_execute(
            "BEGIN IMMEDIATE; CREATE TABLE keygate_write_check (x INTEGER); ROLLBACK;",
        )
        .map_err(|error| {
            let problem = sqlite_write_problem(path)
                .map(|p| format!(" ({p})"))
                .unwrap_or_default();
            OpenError {
                url: self.url.redacted(),
                reason: format!("the database is not writable: {error}{problem}"),
            }
        })
    }

    /// Applies pending migrations; returns how many ran.
    ///
    /// On a connection of its own, outside the pool and without the statement
    /// timeout: a migration may rightly take long, and so may waiting for another
    /// instance's migration (an advisory lock).
    pub fn migrate(&self) -> Result<usize, MigrationError> {
        let manager = ConnectionManager {
            url: self.url.clone(),
            statement_timeout: None,
        };
        let mut conn = manager
            .connect()
            .map_err(|e| MigrationError(e.to_string()))?;
        run_migrations(&mut conn)
    }
}

#[derive(Debug, thiserror::Error)]
#[error("migration failed: {0}")]
pub struct MigrationError(String);

pub fn run_migrations(conn: &mut DbConn) -> Result<usize, MigrationError> {
    let failed = |e: &dyn std::fmt::Display| MigrationError(e.to_string());
    match conn {
        DbConn::Sqlite(c) => c
            .run_pending_migrations(SQLITE_MIGRATIONS)
            .map(|applied| applied.len())
            .map_err(|e| failed(&e)),
        DbConn::Postgres(c) => {
            diesel::sql_query(format!("SELECT pg_advisory_lock({MIGRATION_LOCK_ID})"))
                .execute(c)
                .map_err(|e| failed(&e))?;
            let applied = c
                .run_pending_migrations(POSTGRES_MIGRATIONS)
                .map(|applied| applied.len())
                .map_err(|e| failed(&e));
            diesel::sql_query(format!("SELECT pg_advisory_unlock({MIGRATION_LOCK_ID})"))
                .execute(c)
                .map_err(|e| failed(&e))?;
            applied
        }
    }
}

#[cfg(test)]
pub mod test_support {
    //! An in-memory SQLite connection with the schema applied, for repo unit tests.
    use super::*;

    pub fn memory_conn() -> DbConn {
        let mut conn = DbConn::Sqlite(
            SqliteConnection::establish(":memory:").unwrap_or_else(|e| unreachable!("{e}")),
        );
        conn.batch_execute("PRAGMA foreign_keys = ON;")
            .unwrap_or_else(|e| unreachable!("{e}"));
        run_migrations(&mut conn).unwrap_or_else(|e| unreachable!("{e}"));
        conn
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_scheme_selects_backend() {
        assert_eq!(
            DatabaseUrl::parse("sqlite://keygate.db").ok(),
            Some(DatabaseUrl::Sqlite("keygate.db".into()))
        );
        assert_eq!(
            DatabaseUrl::parse("sqlite:///var/lib/keygate.db").ok(),
            Some(DatabaseUrl::Sqlite("/var/lib/keygate.db".into()))
        );
        assert!(matches!(
            DatabaseUrl::parse("postgres://u@localhost/db"),
            Ok(DatabaseUrl::Postgres(_))
        ));
        assert!(DatabaseUrl::parse("mysql://x").is_err());
        assert!(DatabaseUrl::parse("keygate.db").is_err());
        assert!(DatabaseUrl::parse("sqlite://").is_err());
        assert!(DatabaseUrl::parse("sqlite://:memory:").is_err());
    }

    #[test]
    fn redaction_hides_password_only() {
        let url = DatabaseUrl::parse("postgres://kg:hunter2@db:5432/keygate").ok();
        let redacted = url.map(|u| u.redacted()).unwrap_or_default();
        assert_eq!(redacted, "postgres://kg:***@db:5432/keygate");
        assert!(!redacted.contains("hunter2"));
        let url = DatabaseUrl::parse("postgres://kg:hunter2@db/keygate").unwrap();
        let manager = ConnectionManager {
            url: url.clone(),
            statement_timeout: None,
        };
        assert!(!format!("{url:?} {manager:?}").contains("hunter2"));
        assert_eq!(
            redact_url("postgres://kg@db/keygate?sslmode=require&password=x&application_name=kg"),
            "postgres://kg@db/keygate?sslmode=require&password=***&application_name=kg"
        );
        assert_eq!(
            redact_url("postgres://kg@db/keygate?sslmode=require"),
            "postgres://kg@db/keygate?sslmode=require"
        );
    }

    #[test]
    fn every_form_of_password_libpq_accepts_is_redacted() {
        for url in [
            "postgres://kg:hunter2@db/keygate",
            "postgres://kg:hun%74er2@db/keygate",
            "postgres://:hunter2@db/keygate",
            "postgres://kg@db/keygate?password=hunter2",
            "postgresql://kg@db/keygate?sslmode=require&password=hunter2",
            "postgres://kg@db/keygate?pass%77ord=hunter2",
            "postgres://kg@db/keygate?password=hun%74er2",
            "postgres://kg@db/keygate?sslpassword=hunter2",
            "postgres://kg@db/keygate?PASSWORD=hunter2",
            "postgres://kg@db/keygate?password=hun#ter2",
            "postgres://kg:pw@db/keygate?password=hunter2&sslpassword=hunter2",
            "host=db user=kg password=hunter2",
            "mysql://kg:hunter2@db/keygate?password=hunter2",
        ] {
            let redacted = redact_url(url);
            for part in ["hunter2", "hun%74er2", "ter2"] {
                assert!(!redacted.contains(part), "{url} → {redacted}");
            }
            match DatabaseUrl::parse(url) {
                Ok(parsed) => {
                    let shown = format!("{parsed:?} {}", parsed.redacted());
                    assert!(!shown.contains("ter2"), "{url} → {shown}");
                    let scrubbed = parsed.scrub("invalid value: \"hunter2\" (hun%74er2)");
                    assert!(!scrubbed.contains("ter2"), "{url} → {scrubbed}");
                }
                Err(error) => assert!(!error.to_string().contains("ter2"), "{error}"),
            }
        }
    }

    #[test]
    fn postgres_connections_get_timeouts_unless_the_url_sets_them() {
        let defaults = "connect_timeout=5&keepalives_idle=10&keepalives_interval=5\
                        &keepalives_count=2&tcp_user_timeout=20000";
        for (url, expected) in [
            (
                "postgres://u@db/kg",
                format!("postgres://u@db/kg?{defaults}"),
            ),
            (
                "postgres://u@db/kg?",
                format!("postgres://u@db/kg?{defaults}"),
            ),
            (
                "postgres://u@db/kg?sslmode=disable",
                format!("postgres://u@db/kg?sslmode=disable&{defaults}"),
            ),
            (
                "postgres://u@db/kg?connect_timeout=30&tcp_user_timeout=0",
                "postgres://u@db/kg?connect_timeout=30&tcp_user_timeout=0\
                 &keepalives_idle=10&keepalives_interval=5&keepalives_count=2"
                    .to_owned(),
            ),
        ] {
            assert_eq!(with_connection_defaults(url), expected);
        }
    }

    #[test]
    fn migration_lists_match_between_backends() {
        let names = |dir: &str| -> Vec<String> {
            let mut names: Vec<String> = std::fs::read_dir(dir)
                .into_iter()
                .flatten()
                .flatten()
                .map(|entry| entry.file_name().to_string_lossy().into_owned())
                .collect();
            names.sort();
            names
        };
        let sqlite = names(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/sqlite"));
        let postgres = names(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/postgres"));
        assert!(!sqlite.is_empty());
        assert_eq!(sqlite, postgres);
    }
}
