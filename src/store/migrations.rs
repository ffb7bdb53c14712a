//! Embedded migrations, one set per backend, applied at start-up (and by
//! `keygate migrate`); concurrent instances on one PostgreSQL database take turns.

use diesel::r2d2::ManageConnection;
use diesel::RunQueryDsl;
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

use super::connection::{ConnectionManager, DbConn};
use super::pool::Store;

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// Serialises concurrent `migrate` runs of several instances on one PostgreSQL database.
const MIGRATION_LOCK_ID: i64 = 0x006b_6579_6761_7465; // "keygate" in ASCII

impl Store {
    /// Applies pending migrations; returns how many ran.
    ///
    /// On a connection of its own, outside the pool and without the statement
    /// timeout: a migration may rightly take long, and so may waiting for another
    /// instance's migration (an advisory lock).
    pub fn migrate(&self) -> Result<usize, MigrationError> {
        let mut conn = ConnectionManager::new(self.url.clone())
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
mod tests {
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
