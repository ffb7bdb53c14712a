use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::format;
use super::model::{ApiKey, IssuedKey, KeyDraft, NewApiKey};
use crate::ids::{ApiKeyId, OrgId};
use crate::scope::ScopeSet;
use crate::secret::{digest, Secret};
use crate::store::schema::api_keys;
use crate::store::{DbConn, StoreError};

/// Stores `draft` with `key` (`format::generate` for its environment) by its digest;
/// the key is returned to be shown once.
pub fn create(
    conn: &mut DbConn,
    draft: &KeyDraft,
    key: Secret,
    now: NaiveDateTime,
) -> Result<IssuedKey, StoreError> {
    let id = ApiKeyId::generate();
    let scopes = draft.scopes.to_string();
    diesel::insert_into(api_keys::table)
        .values(NewApiKey {
            id: &id,
            org_id: &draft.org_id,
            name: &draft.name,
            environment: draft.environment.as_str(),
            key_hash: &digest(key.expose()),
            last_four: &format::last_four(key.expose()),
            scopes: &scopes,
            created_by: &draft.created_by,
            created_at: now,
            expires_at: draft.expires_at,
            rate_limit_per_minute: draft.rate_limit_per_minute.map(i64::from),
        })
        .execute(conn)?;
    let row = find_in_any_org(conn, &id)?.ok_or(diesel::result::Error::NotFound)?;
    Ok(IssuedKey { row, key })
}

/// Creates the bootstrap admin key on a database that has neither API keys nor
/// clients — a new one, not one upgraded from a version without API keys, whose
/// operator would not expect an all-powerful key in its logs (keys and clients are
/// disabled or revoked, never deleted, so empty tables mean exactly that). Several
/// instances starting at once on one PostgreSQL database create one key between them:
/// each first takes the organization row's lock with a no-op update, so the later
/// ones wait and then see the key.
pub fn create_first(
    conn: &mut DbConn,
    draft: &KeyDraft,
    key: Secret,
    now: NaiveDateTime,
) -> Result<Option<IssuedKey>, StoreError> {
    use crate::store::schema::organizations;
    conn.transaction(|c| {
        diesel::update(organizations::table.find(&draft.org_id))
            .set(organizations::tier.eq(organizations::tier))
            .execute(c)?;
        use crate::store::schema::clients;
        let any_key: bool =
            diesel::select(diesel::dsl::exists(api_keys::table.select(api_keys::id)))
                .get_result(c)?;
        let any_client: bool =
            diesel::select(diesel::dsl::exists(clients::table.select(clients::id)))
                .get_result(c)?;
        if any_key || any_client {
            return Ok(None);
        }
        create(c, draft, key, now).map(Some)
    })
}

/// `find_by_hash` with its organization's tier, for the resolver: one query.
pub fn find_by_hash_with_tier(
    conn: &mut DbConn,
    hash: &str,
) -> QueryResult<Option<(ApiKey, String)>> {
    use crate::store::schema::organizations;
    api_keys::table
        .inner_join(organizations::table)
        .filter(api_keys::key_hash.eq(hash))
        .select((ApiKey::as_select(), organizations::tier))
        .get_result(conn)
        .optional()
}

/// The key whose digest is `hash` (`secret::digest` of a presented key), whatever its
/// state: the resolver decides, so that "revoked" and "expired" are said only about a
/// key whose secret matched.
pub fn find_by_hash(conn: &mut DbConn, hash: &str) -> QueryResult<Option<ApiKey>> {
    api_keys::table
        .filter(api_keys::key_hash.eq(hash))
        .select(ApiKey::as_select())
        .get_result(conn)
        .optional()
}

/// A key in any organization: for the operator. A principal sees `find_in_org`.
pub fn find_in_any_org(conn: &mut DbConn, id: &ApiKeyId) -> QueryResult<Option<ApiKey>> {
    api_keys::table
        .find(id)
        .select(ApiKey::as_select())
        .get_result(conn)
        .optional()
}

/// A key of `org_id`; another organization's key is `None`, as if it did not exist.
pub fn find_in_org(
    conn: &mut DbConn,
    org_id: &OrgId,
    id: &ApiKeyId,
) -> QueryResult<Option<ApiKey>> {
    api_keys::table
        .find(id)
        .filter(api_keys::org_id.eq(org_id))
        .select(ApiKey::as_select())
        .get_result(conn)
        .optional()
}

/// One page of the organization's keys (all of them with `org_id` `None`, for the
/// operator's CLI), oldest first, starting after the id `after`.
pub fn list(
    conn: &mut DbConn,
    org_id: Option<&OrgId>,
    after: Option<&ApiKeyId>,
    limit: i64,
) -> QueryResult<Vec<ApiKey>> {
    let mut query = api_keys::table
        .select(ApiKey::as_select())
        .order(api_keys::id.asc())
        .limit(limit)
        .into_boxed();
    if let Some(org_id) = org_id {
        query = query.filter(api_keys::org_id.eq(org_id.clone()));
    }
    if let Some(after) = after {
        query = query.filter(api_keys::id.gt(after.to_owned()));
    }
    query.load(conn)
}

/// The organization's live keys that expire in `[from, to)`, soonest first, at most
/// `limit` of them.
pub fn expiring(
    conn: &mut DbConn,
    org_id: &OrgId,
    from: NaiveDateTime,
    to: NaiveDateTime,
    limit: i64,
) -> QueryResult<Vec<ApiKey>> {
    api_keys::table
        .filter(api_keys::org_id.eq(org_id))
        .filter(api_keys::revoked_at.is_null())
        .filter(api_keys::expires_at.ge(from))
        .filter(api_keys::expires_at.lt(to))
        .order(api_keys::expires_at.asc())
        .limit(limit)
        .select(ApiKey::as_select())
        .load(conn)
}

/// Renames and/or narrows a key's scopes. `scopes` must be a subset of the current
/// ones (checked by the caller against the row it read; the update re-checks that the
/// scopes did not change meanwhile).
pub fn update(
    conn: &mut DbConn,
    key: &ApiKey,
    change: &KeyChange<'_>,
) -> QueryResult<Option<ApiKey>> {
    let name = change.name.unwrap_or(&key.name);
    let scopes = change
        .scopes
        .map_or_else(|| key.scopes.clone(), ScopeSet::to_string);
    let rate_limit = match change.rate_limit_per_minute {
        Some(limit) => limit.map(i64::from),
        None => key.rate_limit_per_minute,
    };
    let updated = diesel::update(
        api_keys::table
            .filter(api_keys::id.eq(&key.id))
            .filter(api_keys::scopes.eq(&key.scopes)),
    )
    .set((
        api_keys::name.eq(name),
        api_keys::scopes.eq(&scopes),
        api_keys::rate_limit_per_minute.eq(rate_limit),
    ))
    .execute(conn)?;
    if updated == 0 {
        return Ok(None);
    }
    find_in_any_org(conn, &key.id)
}

/// What a PATCH changes; `None` leaves a field as it is (`rate_limit_per_minute:
/// Some(None)` removes the override).
#[derive(Debug, Default)]
pub struct KeyChange<'a> {
    pub name: Option<&'a str>,
    pub scopes: Option<&'a ScopeSet>,
    pub rate_limit_per_minute: Option<Option<u32>>,
}

/// Revokes a key of `org_id` (the first revocation time stays); `None` if there is no
/// such key in the organization, else the key and whether this call revoked it.
pub fn revoke(
    conn: &mut DbConn,
    org_id: &OrgId,
    id: &ApiKeyId,
    now: NaiveDateTime,
) -> QueryResult<Option<(ApiKey, bool)>> {
    let updated = diesel::update(
        api_keys::table
            .filter(api_keys::id.eq(id))
            .filter(api_keys::org_id.eq(org_id))
            .filter(api_keys::revoked_at.is_null()),
    )
    .set(api_keys::revoked_at.eq(now))
    .execute(conn)?;
    Ok(find_in_org(conn, org_id, id)?.map(|key| (key, updated == 1)))
}

/// Why a key could not be rotated.
#[derive(Debug, thiserror::Error)]
pub enum RotateError {
    #[error("no such key")]
    NotFound,
    #[error("the key is revoked, expired, already rotated or changed meanwhile")]
    NotRotatable,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<diesel::result::Error> for RotateError {
    fn from(error: diesel::result::Error) -> Self {
        Self::Store(error.into())
    }
}

/// Replaces a live key with a new one (same organization, name, environment and
/// scopes; expiring at `successor_expires_at`), in one transaction. The old key keeps working until `now + overlap`
/// (or its own earlier expiry), then answers "expired". A key is rotated once: the
/// conditional update on `replaced_by IS NULL` lets exactly one of two concurrent
/// rotations win.
pub fn rotate(
    conn: &mut DbConn,
    old: &ApiKey,
    key: Secret,
    overlap: chrono::Duration,
    successor_expires_at: Option<NaiveDateTime>,
    created_by: &str,
    now: NaiveDateTime,
) -> Result<IssuedKey, RotateError> {
    let dies_at = old
        .expires_at
        .map_or(now + overlap, |at| at.min(now + overlap));
    conn.transaction(|c| {
        let successor_id = ApiKeyId::generate();
        let claimed = diesel::update(
            api_keys::table
                .filter(api_keys::id.eq(&old.id))
                .filter(api_keys::revoked_at.is_null())
                .filter(api_keys::replaced_by.is_null())
                // The successor copies `old`: refuse if a rename or narrowing came in
                // between, or it would bring back what that change removed.
                .filter(api_keys::scopes.eq(&old.scopes))
                .filter(api_keys::name.eq(&old.name))
                .filter(
                    api_keys::expires_at
                        .is_null()
                        .or(api_keys::expires_at.gt(now)),
                ),
        )
        .set((
            api_keys::replaced_by.eq(&successor_id),
            api_keys::expires_at.eq(dies_at),
        ))
        .execute(c)?;
        if claimed != 1 {
            return Err(RotateError::NotRotatable);
        }
        diesel::insert_into(api_keys::table)
            .values(NewApiKey {
                id: &successor_id,
                org_id: &old.org_id,
                name: &old.name,
                environment: &old.environment,
                key_hash: &digest(key.expose()),
                last_four: &format::last_four(key.expose()),
                scopes: &old.scopes,
                created_by,
                created_at: now,
                expires_at: successor_expires_at,
                rate_limit_per_minute: old.rate_limit_per_minute,
            })
            .execute(c)?;
        let row = find_in_any_org(c, &successor_id)?.ok_or(RotateError::NotFound)?;
        Ok(IssuedKey { row, key })
    })
}

/// Records uses (id, time) in one statement each, in one transaction: the coalesced
/// last-used times (see `LastUsed`). Never moves a time backwards.
pub fn record_last_used(conn: &mut DbConn, uses: &[(ApiKeyId, NaiveDateTime)]) -> QueryResult<()> {
    conn.transaction(|c| {
        for (id, at) in uses {
            diesel::update(
                api_keys::table.filter(api_keys::id.eq(id)).filter(
                    api_keys::last_used_at
                        .is_null()
                        .or(api_keys::last_used_at.lt(*at)),
                ),
            )
            .set(api_keys::last_used_at.eq(*at))
            .execute(c)?;
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api_keys::model::{KeyRequest, KeyState};
    use crate::identity::authority::Actor;
    use crate::orgs;
    use crate::store::test_support::memory_conn;

    fn setup() -> (DbConn, OrgId, NaiveDateTime) {
        let mut conn = memory_conn();
        let now = chrono::Utc::now().naive_utc();
        let (org, _) = orgs::repo::ensure_default(&mut conn, now).unwrap();
        (conn, org.id, now)
    }

    fn draft(org: &OrgId, now: NaiveDateTime) -> KeyDraft {
        let known = ScopeSet::parse("read write admin webhook").unwrap();
        KeyDraft::new(
            KeyRequest {
                name: "ci".into(),
                scopes: vec!["read write".into()],
                ..Default::default()
            },
            org,
            &known,
            &Actor::operator("cli"),
            now,
        )
        .unwrap()
    }

    /// A new key to store (in production its caller generates it).
    fn fresh() -> Secret {
        format::generate(format::Environment::Live).unwrap()
    }

    #[test]
    fn stored_digest_finds_the_key_and_the_key_is_not_stored() {
        let (mut conn, org, now) = setup();
        let issued = create(&mut conn, &draft(&org, now), fresh(), now).unwrap();
        let found = find_by_hash(&mut conn, &digest(issued.key.expose()))
            .unwrap()
            .unwrap();
        assert_eq!(found.id, issued.row.id);
        assert_ne!(found.key_hash, issued.key.expose());
        assert!(found.masked().ends_with(&issued.key.expose()[53..]));
        assert!(find_in_org(&mut conn, &OrgId::from("org_other"), &found.id)
            .unwrap()
            .is_none());
    }

    #[test]
    fn rotation_happens_once_and_the_old_key_dies_after_the_overlap() {
        let (mut conn, org, now) = setup();
        let old = create(&mut conn, &draft(&org, now), fresh(), now)
            .unwrap()
            .row;
        let overlap = chrono::Duration::minutes(10);
        let new = rotate(
            &mut conn,
            &old,
            fresh(),
            overlap,
            old.expires_at,
            "cli",
            now,
        )
        .unwrap();
        assert_eq!(new.row.scopes, old.scopes);
        assert!(matches!(
            rotate(
                &mut conn,
                &old,
                fresh(),
                overlap,
                old.expires_at,
                "cli",
                now
            ),
            Err(RotateError::NotRotatable)
        ));
        let old = find_in_org(&mut conn, &org, &old.id).unwrap().unwrap();
        assert_eq!(old.replaced_by.as_ref(), Some(&new.row.id));
        assert_eq!(
            old.state(now + overlap - chrono::Duration::seconds(1)),
            KeyState::Active
        );
        assert_eq!(old.state(now + overlap), KeyState::Expired(now + overlap));
    }

    #[test]
    fn the_first_key_is_created_once() {
        let (mut conn, org, now) = setup();
        assert!(create_first(&mut conn, &draft(&org, now), fresh(), now)
            .unwrap()
            .is_some());
        assert!(create_first(&mut conn, &draft(&org, now), fresh(), now)
            .unwrap()
            .is_none());
    }

    #[test]
    fn a_database_with_clients_gets_no_bootstrap_key() {
        use crate::clients::ClientRegistration;
        use crate::ids::ClientId;
        let (mut conn, org, now) = setup();
        let known = ScopeSet::parse("read").unwrap();
        let new = ClientRegistration {
            name: "existing".into(),
            scope: "read".into(),
            ..Default::default()
        }
        .validate(org.clone(), &known, std::time::Duration::from_secs(3600))
        .unwrap()
        .into_new_client(ClientId::generate(), "$argon2id$x".into(), now);
        crate::clients::repo::create(&mut conn, &new).unwrap();
        assert!(create_first(&mut conn, &draft(&org, now), fresh(), now)
            .unwrap()
            .is_none());
    }

    #[test]
    fn pages_follow_creation_order() {
        let (mut conn, org, now) = setup();
        let ids: Vec<ApiKeyId> = (0..5)
            .map(|_| {
                create(&mut conn, &draft(&org, now), fresh(), now)
                    .unwrap()
                    .row
                    .id
            })
            .collect();
        let first = list(&mut conn, Some(&org), None, 2).unwrap();
        let second = list(&mut conn, Some(&org), Some(&first[1].id), 2).unwrap();
        let seen: Vec<ApiKeyId> = first.iter().chain(&second).map(|k| k.id.clone()).collect();
        assert_eq!(seen, ids[..4]);
    }

    #[test]
    fn last_used_never_moves_backwards() {
        let (mut conn, org, now) = setup();
        let key = create(&mut conn, &draft(&org, now), fresh(), now)
            .unwrap()
            .row;
        let later = now + chrono::Duration::minutes(2);
        record_last_used(&mut conn, &[(key.id.clone(), later)]).unwrap();
        record_last_used(&mut conn, &[(key.id.clone(), now)]).unwrap();
        let key = find_in_org(&mut conn, &org, &key.id).unwrap().unwrap();
        assert_eq!(key.last_used_at, Some(later));
    }
}
