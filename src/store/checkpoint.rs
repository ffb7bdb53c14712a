//! SQLite's WAL checkpoints for a server, taken by a connection of their own beside
//! the pool. SQLite's automatic checkpoint runs inside the commit that crosses its
//! threshold — inside this process's writer turn, so every writer waits while one of
//! them copies a thousand pages back into the database file (6 % of all samples in
//! the code exchange benchmark). A PASSIVE checkpoint never blocks a writer (it takes
//! only the checkpoint lock): taken here every `CHECKPOINT_INTERVAL`, it keeps the WAL
//! short. The automatic one, its threshold raised to `BACKSTOP_PAGES` on every
//! connection, is PASSIVE as well: it can do no more than this thread, only in the
//! writer's turn.
//!
//! Neither can copy frames a reader's snapshot still needs: a long read holds the WAL
//! back. That is logged (at most once a minute) when the frames left behind exceed
//! the backstop, and the WAL file is truncated to `WAL_SIZE_LIMIT` whenever SQLite
//! restarts it.

use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use diesel::r2d2::ManageConnection;
use diesel::sql_types::Integer;
use diesel::RunQueryDsl;

use super::connection::{ConnectionManager, DbConn};

/// How often the WAL is checkpointed (a checkpoint with nothing to copy costs a read
/// of the WAL index).
const CHECKPOINT_INTERVAL: Duration = Duration::from_millis(100);

/// The automatic checkpoint's threshold, in pages (4 KiB): about 40 MB of WAL.
pub(super) const BACKSTOP_PAGES: u32 = 10_000;

/// The size the WAL file is truncated to when SQLite restarts it, in bytes.
pub(super) const WAL_SIZE_LIMIT: u64 = 64 << 20;

/// How often a checkpoint that keeps failing or falling behind is logged.
const WARN_EVERY: Duration = Duration::from_secs(60);

/// The running checkpointer: dropping it (with the last clone of its store) wakes the
/// thread, which stops, and waits for it.
pub(super) struct Checkpointer {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        // Closing the channel wakes the thread at once.
        self.stop.take();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The row `PRAGMA wal_checkpoint` answers.
#[derive(diesel::QueryableByName)]
struct CheckpointRow {
    /// 1 when another checkpoint held the lock.
    #[diesel(sql_type = Integer)]
    busy: i32,
    /// Frames in the WAL.
    #[diesel(sql_type = Integer)]
    log: i32,
    /// Frames copied into the database file.
    #[diesel(sql_type = Integer)]
    checkpointed: i32,
}

impl Checkpointer {
    /// Starts the thread on a connection of its own; `None` (and a warning) if that
    /// connection or the thread cannot be had — SQLite's automatic checkpoint then
    /// does the work.
    pub(super) fn start(manager: &ConnectionManager) -> Option<Self> {
        let (stop, stopped) = mpsc::channel::<()>();
        let started = manager
            .connect()
            .map_err(|error| error.to_string())
            .and_then(|conn| {
                std::thread::Builder::new()
                    .name("sqlite-checkpoint".into())
                    .spawn(move || run(conn, &stopped))
                    .map_err(|error| error.to_string())
            });
        match started {
            Ok(thread) => Some(Self {
                stop: Some(stop),
                thread: Some(thread),
            }),
            Err(error) => {
                tracing::warn!(%error, "no background WAL checkpoints: SQLite checkpoints in its commits");
                None
            }
        }
    }
}

fn run(mut conn: DbConn, stopped: &mpsc::Receiver<()>) {
    let mut warned_at: Option<Instant> = None;
    // Every interval until the store is dropped (the sender closes the channel).
    while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(CHECKPOINT_INTERVAL) {
        let problem = match diesel::sql_query("PRAGMA wal_checkpoint(PASSIVE)")
            .get_result::<CheckpointRow>(&mut conn)
        {
            // Busy: another checkpoint (SQLite's backstop in a commit) is running;
            // the next round goes on from where it stops.
            Ok(row) if row.busy != 0 || row.log - row.checkpointed <= BACKSTOP_PAGES as i32 => {
                continue
            }
            Ok(row) => format!(
                "{} WAL frames wait for readers to move on (a long read holds them)",
                row.log - row.checkpointed
            ),
            Err(error) => error.to_string(),
        };
        if warned_at.is_none_or(|at| at.elapsed() >= WARN_EVERY) {
            tracing::warn!(problem = %problem, "the SQLite WAL checkpoint fell behind");
            warned_at = Some(Instant::now());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{DatabaseUrl, Store};
    use super::*;
    use diesel::connection::SimpleConnection;

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

        // The CLI's store has no thread: SQLite checkpoints in its commits, at the
        // default 1,000 pages, so the same 2 MB stay in its WAL.
        assert!(server._checkpointer.is_some());
        let cli_db = dir.path().join("cli.db");
        let cli = sqlite_store(&cli_db, false);
        assert!(cli._checkpointer.is_none());
        fill(&cli);
        std::thread::sleep(CHECKPOINT_INTERVAL * 3);
        assert!(file_len(&cli_db) < 1 << 20, "still in the WAL");

        // Dropping the last clone of the server's store stops and joins the thread.
        let running = || {
            std::fs::read_dir("/proc/self/task")
                .map(|tasks| {
                    tasks
                        .flatten()
                        .filter_map(|t| std::fs::read_to_string(t.path().join("comm")).ok())
                        // The kernel keeps 15 characters of a thread's name.
                        .filter(|comm| comm.trim() == "sqlite-checkpoi")
                        .count()
                })
                .unwrap_or(0)
        };
        let before = running();
        assert!(before >= 1);
        let clone = server.clone();
        drop(server);
        assert_eq!(running(), before, "a clone keeps it");
        drop(clone);
        assert_eq!(running(), before - 1, "stopped with the last clone");
    }
}
