//! This process's turn to write to SQLite. SQLite admits one writer at a time and
//! makes the others sleep and retry with a growing back-off (1, 2, 5 … 100 ms); under
//! concurrent refreshes that put p99 near 300 ms. Writers take a turn on this lock
//! instead, just around their write transaction (see `Tx::write`). A no-op on
//! PostgreSQL, whose row locks need no help. Private to the store: domain code writes
//! through `Store::write` or `Tx::write`, which take the turn for it.

/// The lock; `None` on PostgreSQL.
#[derive(Clone, Default)]
pub(super) struct WriterLock(Option<std::sync::Arc<parking_lot::Mutex<()>>>);

/// Held while writing; handed to the longest waiter on drop (`unlock_fair`), so no
/// writer starves.
pub(super) struct WriterTurn<'a>(Option<parking_lot::MutexGuard<'a, ()>>);

impl WriterLock {
    /// A lock for SQLite (`true`); none for PostgreSQL.
    pub(super) fn new(sqlite: bool) -> Self {
        Self(sqlite.then(Default::default))
    }

    pub(super) fn turn(&self) -> WriterTurn<'_> {
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
