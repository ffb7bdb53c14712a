//! SQLite's WAL checkpoints for a server, taken by a connection of their own beside
//! the pool. SQLite's automatic checkpoint runs inside the commit that crosses its
//! threshold — inside this process's writer turn, so every writer waits while one of
//! them copies a thousand pages back into the database file (6 % of all samples in
//! the code exchange benchmark). A PASSIVE checkpoint never blocks a writer: taken
//! here every `EVERY`, it keeps the WAL short, and the automatic one (its threshold
//! raised to `BACKSTOP_PAGES` on every connection) runs only if this thread falls far
//! behind.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::r2d2::ManageConnection;

use super::connection::ConnectionManager;

/// How often the WAL is checkpointed (a checkpoint with nothing to copy costs a read
/// of the WAL index).
const EVERY: Duration = Duration::from_millis(100);

/// The automatic checkpoint's threshold, in pages (4 KiB): a backstop, about 40 MB of
/// WAL.
pub(super) const BACKSTOP_PAGES: u32 = 10_000;

/// The running checkpointer; it stops when the last clone of its store is dropped.
pub(super) struct Checkpointer {
    stop: Arc<AtomicBool>,
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

impl Checkpointer {
    /// Starts the thread on a connection of its own; `None` (and a warning) if that
    /// connection cannot be opened — the automatic checkpoint then does the work.
    pub(super) fn start(manager: &ConnectionManager) -> Option<Arc<Self>> {
        let mut conn = match manager.connect() {
            Ok(conn) => conn,
            Err(error) => {
                tracing::warn!(%error, "no background WAL checkpoints: SQLite checkpoints in its commits");
                return None;
            }
        };
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        let started = std::thread::Builder::new()
            .name("sqlite-checkpoint".into())
            .spawn(move || {
                while !stopped.load(Ordering::Relaxed) {
                    std::thread::sleep(EVERY);
                    if let Err(error) = conn.batch_execute("PRAGMA wal_checkpoint(PASSIVE)") {
                        // Busy (another checkpoint running) or a transient I/O error:
                        // the next round tries again, and the backstop stays.
                        tracing::debug!(%error, "WAL checkpoint skipped");
                    }
                }
            });
        match started {
            Ok(_) => Some(Arc::new(Self { stop })),
            Err(error) => {
                tracing::warn!(%error, "no background WAL checkpoints: SQLite checkpoints in its commits");
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{DatabaseUrl, Store};
    use super::*;

    fn sqlite_store(path: &std::path::Path, server: bool) -> Store {
        let url = DatabaseUrl::parse(&format!("sqlite://{}", path.display())).unwrap();
        if server {
            Store::open_with_statement_timeout(&url, 2, Some(Duration::from_secs(5))).unwrap()
        } else {
            Store::open(&url, 2).unwrap()
        }
    }

    /// 2 MB written in one commit: under the backstop, so only a checkpoint of the
    /// background thread moves it from the WAL into the database file.
    fn fill(store: &Store) {
        store
            .conn()
            .unwrap()
            .batch_execute(
                "CREATE TABLE filler (x BLOB); \
                 WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 512) \
                 INSERT INTO filler SELECT randomblob(4096) FROM n;",
            )
            .unwrap();
    }

    fn file_len(path: &std::path::Path) -> u64 {
        std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
    }

    #[test]
    fn a_servers_wal_is_checkpointed_in_the_background_and_a_clis_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let server_db = dir.path().join("server.db");
        let server = sqlite_store(&server_db, true);
        fill(&server);
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while file_len(&server_db) < 2 << 20 && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(
            file_len(&server_db) >= 2 << 20,
            "checkpointed into the file"
        );

        // The CLI's store keeps SQLite's own checkpoint (at 1,000 pages, here in the
        // commit itself): the same write lands in the file too, but not through a
        // thread of the store's.
        let cli = sqlite_store(&dir.path().join("cli.db"), false);
        assert!(cli._checkpointer.is_none());
        assert!(server._checkpointer.is_some());

        // Dropping the last clone stops the thread.
        let stop = server
            ._checkpointer
            .as_ref()
            .map(|c| c.stop.clone())
            .unwrap();
        drop(server);
        assert!(stop.load(Ordering::Relaxed));
    }
}
