//! The store: one diesel connection type over SQLite and PostgreSQL, one r2d2 pool,
//! embedded migrations, and the seam through which everything else reaches the
//! database without blocking the executor — two doors, `Store::read` and
//! `Store::write` (one transaction, in this process's SQLite writer turn), over a
//! `Tx`, plus the crate-private `Store::blocking` for work that holds a connection only
//! part of the time (argon2 verification between a read and a write).
//!
//! The backend is chosen from the URL scheme here rather than by
//! `MultiConnection::establish`, which treats any string as a SQLite path and hides
//! the real connection error.
//!
//! No request waits for the database without bound: PostgreSQL connections get a
//! connect timeout and TCP keepalives unless the URL sets its own, every store turn
//! has a deadline, and while the database is known to be down nothing waits for it
//! at all (see `Store::blocking`).
//!
//! Its parts: `error` (what failed, and whose fault it is), `url` (parsing and
//! redaction), `connection` (the connection type and its manager), `pool` (the
//! `Store` and its opening), `seam` (the doors),
//! `writer` (SQLite's writer turn), `checkpoint` (a server's SQLite WAL checkpoints,
//! outside that turn), `outage` (fail-fast while the database is down),
//! `probe` (start-up checks of a SQLite file), `migrations`, the diesel `schema`, and
//! `typed_id` (the newtype every row id is).

mod checkpoint;
mod connection;
mod error;
mod migrations;
mod outage;
mod pool;
mod probe;
pub mod schema;
mod seam;
mod typed_id;
mod url;
mod writer;

pub use connection::{ConnectError, ConnectionManager, DbConn};
pub use error::StoreError;
pub use migrations::{run_migrations, MigrationError};
pub use pool::{OpenError, Store};
pub use seam::{Blocking, Tx};
pub(crate) use typed_id::typed_id;
pub use url::{redact_url, DatabaseUrl, PostgresUrl, UrlError};

#[cfg(test)]
pub mod test_support {
    //! An in-memory SQLite connection with the schema applied, for repo unit tests.
    use diesel::connection::SimpleConnection;
    use diesel::sqlite::SqliteConnection;
    use diesel::Connection;

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

    /// `f` with `conn` as a store turn would hand it (writes through `Tx::write`).
    pub fn in_turn<T>(conn: &mut DbConn, f: impl FnOnce(&mut Tx<'_>) -> T) -> T {
        let writer = writer::WriterLock::new(false);
        f(&mut Tx::on(conn, &writer))
    }
}
