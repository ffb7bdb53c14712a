//! The `Store`: one r2d2 pool over one database, opened once — checked to answer
//! (and, for SQLite, to take writes) before a server starts on it. How it is used
//! is `seam`'s.

use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::r2d2::{ManageConnection, Pool};

use super::checkpoint::Checkpointer;
use super::connection::ConnectionManager;
use super::outage;
use super::probe;
use super::url::DatabaseUrl;
use super::writer::WriterLock;

/// The pool and the one way to use it from async code.
#[derive(Clone)]
pub struct Store {
    pub(super) pool: Pool<ConnectionManager>,
    pub(super) url: DatabaseUrl,
    /// SQLite's one writer at a time, in turns (see `writer`). Taken on the blocking
    /// thread: waiting on the async side instead put two thread hops inside the
    /// serialized section and halved throughput.
    pub(super) writer: WriterLock,
    /// One permit per pooled connection, taken on the async side before a blocking
    /// task starts. r2d2 wakes one waiter when a connection comes back, but a thread
    /// arriving at that moment can take it first, again and again: with more blocking
    /// threads than connections, a few requests starved for seconds (p99 ~1 s and
    /// timeouts on PostgreSQL). The semaphore queues in arrival order instead, and no
    /// thread waits inside r2d2.
    pub(super) turns: std::sync::Arc<tokio::sync::Semaphore>,
    /// Whether the database is known to be down: while it is, nothing waits for it
    /// (see `outage`).
    pub(super) outage: std::sync::Arc<outage::Outage>,
    /// The longest a request waits for the database in one store turn, its wait for
    /// the turn included (see `blocking`); `None` for stores that serve no requests.
    pub(super) deadline: Option<Duration>,
    /// A server's SQLite checkpoints, while any clone of the store lives.
    pub(super) _checkpointer: Option<std::sync::Arc<Checkpointer>>,
}

/// How long a checkout waits for a connection (a new connection to a live server
/// takes milliseconds).
const CHECKOUT_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
#[error("cannot open the database at {url}: {reason}")]
pub struct OpenError {
    pub(super) url: String,
    pub(super) reason: String,
}

impl Store {
    /// Opens the pool and checks that the database answers, so a wrong URL fails at
    /// start-up with a message naming it (without its password).
    pub fn open(url: &DatabaseUrl, max_connections: u32) -> Result<Self, OpenError> {
        Self::open_as(url, max_connections, None, false)
    }

    /// `open` for a server: PostgreSQL statements are cancelled after
    /// `statement_timeout` (see `ConnectionManager`; SQLite's waits are bounded by its
    /// busy timeout), and on either backend a store turn is given up after the
    /// checkout timeout and `statement_timeout` together (see `blocking`). A SQLite
    /// WAL is checkpointed by a thread of its own (`checkpoint`).
    pub fn open_with_statement_timeout(
        url: &DatabaseUrl,
        max_connections: u32,
        statement_timeout: Option<Duration>,
    ) -> Result<Self, OpenError> {
        Self::open_as(url, max_connections, statement_timeout, true)
    }

    fn open_as(
        url: &DatabaseUrl,
        max_connections: u32,
        statement_timeout: Option<Duration>,
        server: bool,
    ) -> Result<Self, OpenError> {
        let sqlite = matches!(url, DatabaseUrl::Sqlite(_));
        let manager = ConnectionManager {
            url: url.clone(),
            statement_timeout,
            background_checkpoint: server && sqlite,
        };
        let open_error = |reason: String| OpenError {
            url: url.redacted(),
            reason,
        };
        if let Some(path) = url.sqlite_path() {
            probe::create_private_sqlite_file(path);
        }
        // Check once by hand: r2d2's own build error only says "timed out".
        manager.connect().map_err(|error| {
            let mut reason = error.to_string();
            if let Some(problem) = url.sqlite_path().and_then(probe::sqlite_write_problem) {
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
            .build(manager.clone())
            .map_err(|error| open_error(error.to_string()))?;
        let checkpointer = manager
            .background_checkpoint
            .then(|| Checkpointer::start(&manager))
            .flatten()
            .map(std::sync::Arc::new);
        let writer = WriterLock::new(matches!(url, DatabaseUrl::Sqlite(_)));
        Ok(Self {
            pool,
            url: url.clone(),
            writer,
            turns: std::sync::Arc::new(tokio::sync::Semaphore::new(max_connections as usize)),
            outage: Default::default(),
            deadline: statement_timeout.map(|statement| CHECKOUT_TIMEOUT + statement),
            _checkpointer: checkpointer,
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
            let problem = probe::sqlite_write_problem(path)
                .map(|p| format!(" ({p})"))
                .unwrap_or_default();
            OpenError {
                url: self.url.redacted(),
                reason: format!("the database is not writable: {error}{problem}"),
            }
        })
    }
}
