//! What can go wrong in the store, sorted by whose fault it is: the environment's
//! (unavailable, connection lost, unwritable: answered 503) or a query's (a bug: 500).

use diesel::r2d2;

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
