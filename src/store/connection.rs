//! Connections: one diesel connection type over both backends, and the r2d2 manager
//! that opens each with its session settings (SQLite's pragmas, PostgreSQL's
//! isolation level, statement timeout and connection defaults).

use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::pg::PgConnection;
use diesel::r2d2::{ManageConnection, R2D2Connection};
use diesel::sqlite::SqliteConnection;
use diesel::Connection;

use super::url::{with_connection_defaults, DatabaseUrl};

/// One connection type for both backends.
#[derive(diesel::MultiConnection)]
pub enum DbConn {
    Postgres(PgConnection),
    Sqlite(SqliteConnection),
}

/// r2d2 manager that opens the right backend and applies SQLite's per-connection pragmas.
#[derive(Clone, Debug)]
pub struct ConnectionManager {
    pub(super) url: DatabaseUrl,
    /// PostgreSQL's `statement_timeout` for every statement of the session; `None`
    /// leaves the server's (for migrations, which may rightly take long).
    pub(super) statement_timeout: Option<Duration>,
    /// A server's SQLite connections, whose WAL a background thread checkpoints
    /// (`checkpoint`): the automatic checkpoint is only a backstop.
    pub(super) background_checkpoint: bool,
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

/// Per-connection SQLite settings: the busy timeout makes writers queue instead of
/// failing (first, so the pragmas after it wait as well), WAL lets readers run beside
/// the writer, and foreign keys are off by default.
const SQLITE_PRAGMAS: &str = "PRAGMA busy_timeout = 5000; \
     PRAGMA journal_mode = WAL; \
     PRAGMA synchronous = NORMAL; \
     PRAGMA foreign_keys = ON;";

const POSTGRES_SESSION: &str =
    "SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL READ COMMITTED";

impl ConnectionManager {
    /// A manager for `url`'s database without a statement timeout: for one
    /// connection of its own outside the pool (migrations, a test's checks).
    pub fn new(url: DatabaseUrl) -> Self {
        Self {
            url,
            statement_timeout: None,
            background_checkpoint: false,
        }
    }
}

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
                let backstop = if self.background_checkpoint {
                    format!(
                        "PRAGMA wal_autocheckpoint = {}; PRAGMA journal_size_limit = {};",
                        super::checkpoint::BACKSTOP_PAGES,
                        super::checkpoint::WAL_SIZE_LIMIT
                    )
                } else {
                    String::new()
                };
                conn.batch_execute(&format!("{SQLITE_PRAGMAS}{backstop}"))
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
