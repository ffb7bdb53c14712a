//! The doors from async code to the database: `Store::read`, `Store::write`, and the
//! crate-private `Store::blocking` for work that holds a connection only part of the
//! time. Each runs on the blocking pool, in arrival order among as many turns as the
//! pool has connections, under the store turn's deadline.

use std::ops::{Deref, DerefMut};
use std::time::Duration;

use diesel::r2d2::PooledConnection;
use diesel::Connection;

use super::connection::{ConnectionManager, DbConn};
use super::error::StoreError;
use super::pool::Store;
use super::writer::WriterLock;

/// A connection in one store turn. Reads go straight to it (it derefs to the
/// connection the repos take); a write goes through `write`, which takes this
/// process's SQLite writer turn and opens the transaction — the one way to write, so
/// no writer can forget its turn.
pub struct Tx<'a> {
    conn: &'a mut DbConn,
    writer: &'a WriterLock,
    /// Inside `write` already: the turn is held, and a nested `write` is a savepoint.
    writing: bool,
}

impl Deref for Tx<'_> {
    type Target = DbConn;

    fn deref(&self) -> &DbConn {
        self.conn
    }
}

impl DerefMut for Tx<'_> {
    fn deref_mut(&mut self) -> &mut DbConn {
        self.conn
    }
}

impl<'a> Tx<'a> {
    /// A turn on `conn` outside any write, for repo unit tests.
    #[cfg(test)]
    pub(super) fn on(conn: &'a mut DbConn, writer: &'a WriterLock) -> Self {
        Self {
            conn,
            writer,
            writing: false,
        }
    }

    /// Runs `f` in one transaction on this connection, in this process's writer turn
    /// (taken once: a `write` inside a `write` is a savepoint in the same turn). For
    /// the writes a read entails on the same connection (a key's last-used time, a
    /// refresh token's rotation); `Store::write` is this around a whole turn.
    pub fn write<T, E, F>(&mut self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut Tx<'_>) -> Result<T, E>,
        E: From<diesel::result::Error>,
    {
        let writer = self.writer;
        // Connection first, then the turn: every writer holds them in that order.
        let _turn = (!self.writing).then(|| writer.turn());
        self.conn.transaction(|conn| {
            f(&mut Tx {
                conn,
                writer,
                writing: true,
            })
        })
    }
}

/// The store from a blocking thread, inside `Store::blocking`: the same two doors,
/// taken synchronously, one connection at a time.
pub struct Blocking<'a>(&'a Store);

impl Blocking<'_> {
    /// `Store::read`, here.
    pub fn read<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut Tx<'_>) -> Result<T, E>,
        E: From<StoreError>,
    {
        let store = self.0;
        let mut conn = store.conn().map_err(E::from)?;
        f(&mut Tx {
            conn: &mut conn,
            writer: &store.writer,
            writing: false,
        })
    }

    /// `Store::write`, here.
    pub fn write<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut Tx<'_>) -> Result<T, E>,
        E: From<StoreError> + From<diesel::result::Error>,
    {
        self.read(|tx| tx.write(f))
    }
}

impl Store {
    /// Runs `f` with a connection: for reads, and for what a read entails on the
    /// same connection (`Tx::write`).
    pub async fn read<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut Tx<'_>) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        self.blocking(move |store| store.read(f)).await
    }

    /// Runs `f` in one transaction, in this process's SQLite writer turn: a change
    /// and what it entails (its audit event, say) commit or roll back together.
    pub async fn write<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut Tx<'_>) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<StoreError> + From<diesel::result::Error> + Send + 'static,
    {
        self.blocking(move |store| store.write(f)).await
    }

    /// Runs `f` on the blocking pool with the store at hand (`Blocking`), for work
    /// that needs a connection for only part of its run, such as reading a row before
    /// a slow argon2 verification and writing after it. Waits first, in arrival order,
    /// for one of as many turns as the pool has connections (see `turns`); `f` may use
    /// one connection at a time.
    ///
    /// The whole turn, its wait included, has a deadline: the checkout timeout plus
    /// the statement timeout, beyond which a live server would have answered or
    /// cancelled the statement itself. A hung server does neither — a stopped backend
    /// cannot fire its own statement timeout, and its kernel still acknowledges every
    /// packet — and the request would wait as long as it hangs. Past the deadline the
    /// request gets its 503 and an outage begins; `f` runs on with its turn and its
    /// connection until the server answers (the blocking call cannot be interrupted),
    /// so the pool does not hand them out meanwhile.
    pub(crate) async fn blocking<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&Blocking<'_>) -> Result<T, E> + Send + 'static,
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
                f(&Blocking(&store))
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

    /// A pooled connection; none at once while the database is known to be down.
    pub(super) fn conn(&self) -> Result<PooledConnection<ConnectionManager>, StoreError> {
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
}
