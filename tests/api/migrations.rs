//! Every migration's `down.sql` works on the backend under test: all of them revert,
//! newest first, on a database that holds rows, and apply again.

use diesel::{Connection, RunQueryDsl};
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

use crate::helpers::TestDatabase;

const SQLITE: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
const POSTGRES: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// A client with every column filled, so that a `down.sql` meets real data.
const SEED: &str = "INSERT INTO organizations (id, slug, name, tier, created_at) \
    VALUES ('org_1', 'default', 'Default', 'free', '2026-01-01 00:00:00'); \
    INSERT INTO clients (id, org_id, name, secret_hash, grant_types, allowed_scopes, \
    default_scopes, audience, audiences, token_endpoint_auth_method, created_at, updated_at) \
    VALUES ('kgc_1', 'org_1', 'c', 'h', 'client_credentials refresh_token', 'read', 'read', \
    'https://a.example', 'https://a.example https://b.example', 'client_secret_post', \
    '2026-01-01 00:00:00', '2026-01-01 00:00:00'); \
    INSERT INTO refresh_families (id, client_id, org_id, scope, resource, created_at, expires_at) \
    VALUES ('rtf_1', 'kgc_1', 'org_1', 'read', 'https://b.example', \
    '2026-01-01 00:00:00', '2026-02-01 00:00:00');";

fn round_trip<C>(conn: &mut C, migrations: fn() -> EmbeddedMigrations)
where
    C: MigrationHarness<C::Backend> + Connection,
    EmbeddedMigrations: diesel::migration::MigrationSource<C::Backend>,
{
    let applied = conn.run_pending_migrations(migrations()).unwrap().len();
    assert!(applied > 0);
    conn.batch_execute(SEED).unwrap();
    let reverted = conn.revert_all_migrations(migrations()).unwrap().len();
    assert_eq!(reverted, applied);
    let again = conn.run_pending_migrations(migrations()).unwrap().len();
    assert_eq!(again, applied);
}

#[test]
fn every_migration_reverts_and_applies_again() {
    let dir = tempfile::tempdir().unwrap();
    let db = TestDatabase::create(&dir);
    match db.url.strip_prefix("sqlite://") {
        Some(path) => {
            let mut conn = diesel::SqliteConnection::establish(path).unwrap();
            diesel::sql_query("PRAGMA foreign_keys = ON")
                .execute(&mut conn)
                .unwrap();
            round_trip(&mut conn, || SQLITE);
        }
        None => round_trip(
            &mut diesel::PgConnection::establish(&db.url).unwrap(),
            || POSTGRES,
        ),
    }
}
