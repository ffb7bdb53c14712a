//! The clients table: synchronous queries on one connection — find (in one
//! organization, or in any for the token endpoint and the operator), create, page,
//! update, rotate the secret, disable — each conditional update naming the row as its
//! caller read it, so that of two racing changes only one lands. The use cases that
//! call them, each with its audit event, are `service`'s.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::model::{Client, ClientChanges, NewClient};
use crate::ids::{ClientId, OrgId};
use crate::store::schema::clients;
use crate::store::DbConn;

/// A client of any organization: for the endpoints where a client names itself
/// (the token endpoint, RFC 7592) and for the operator.
///
/// `get_result`, not `first`: `first` binds `LIMIT ?`, and SQLite (built with STAT4)
/// re-prepares a statement whose LIMIT is a bound parameter on every execution, which
/// cost the token endpoint a full SQL parse per request.
///
/// `id` is whatever a caller sent. No stored id holds a NUL, and PostgreSQL refuses
/// one in a text parameter with an error: such an id is simply unknown.
pub fn find_in_any_org(conn: &mut DbConn, id: &ClientId) -> QueryResult<Option<Client>> {
    if !storable(id) {
        return Ok(None);
    }
    clients::table
        .find(id)
        .select(Client::as_select())
        .get_result(conn)
        .optional()
}

fn storable(id: &ClientId) -> bool {
    !id.as_str().contains('\0')
}

/// `find_in_any_org` with the organization's tier, for the resolver: one query.
pub fn find_with_tier(conn: &mut DbConn, id: &ClientId) -> QueryResult<Option<(Client, String)>> {
    use crate::store::schema::organizations;
    clients::table
        .inner_join(organizations::table)
        .filter(clients::id.eq(id))
        .select((Client::as_select(), organizations::tier))
        .get_result(conn)
        .optional()
}

pub fn create(conn: &mut DbConn, new: &NewClient) -> QueryResult<Client> {
    diesel::insert_into(clients::table)
        .values(new)
        .execute(conn)?;
    clients::table
        .find(&new.id)
        .select(Client::as_select())
        .get_result(conn)
}

pub fn list(conn: &mut DbConn, org_id: Option<&OrgId>) -> QueryResult<Vec<Client>> {
    let mut query = clients::table
        .select(Client::as_select())
        .order(clients::created_at.asc())
        .into_boxed();
    if let Some(org_id) = org_id {
        query = query.filter(clients::org_id.eq(org_id.to_owned()));
    }
    query.load(conn)
}

/// The organization's enabled clients whose current secret stops working in
/// `[from, to)`, soonest first, at most `limit` of them.
pub fn secrets_expiring(
    conn: &mut DbConn,
    org_id: &OrgId,
    from: NaiveDateTime,
    to: NaiveDateTime,
    limit: i64,
) -> QueryResult<Vec<Client>> {
    clients::table
        .filter(clients::org_id.eq(org_id))
        .filter(clients::disabled_at.is_null())
        .filter(clients::secret_expires_at.ge(from))
        .filter(clients::secret_expires_at.lt(to))
        .order(clients::secret_expires_at.asc())
        .limit(limit)
        .select(Client::as_select())
        .load(conn)
}

/// A client of `org_id`; another organization's client is `None`, as if it did not
/// exist.
pub fn find_in_org(
    conn: &mut DbConn,
    org_id: &OrgId,
    id: &ClientId,
) -> QueryResult<Option<Client>> {
    if !storable(id) {
        return Ok(None);
    }
    clients::table
        .find(id)
        .filter(clients::org_id.eq(org_id))
        .select(Client::as_select())
        .get_result(conn)
        .optional()
}

/// One page of the organization's clients in id order (creation order for ids made
/// since ids became UUIDv7), starting after the id `after`.
pub fn page(
    conn: &mut DbConn,
    org_id: &OrgId,
    after: Option<&ClientId>,
    limit: i64,
) -> QueryResult<Vec<Client>> {
    let mut query = clients::table
        .filter(clients::org_id.eq(org_id.to_owned()))
        .select(Client::as_select())
        .order(clients::id.asc())
        .limit(limit)
        .into_boxed();
    if let Some(after) = after {
        query = query.filter(clients::id.gt(after.to_owned()));
    }
    query.load(conn)
}

/// Rewrites the metadata of `read`, a live client as the caller read it; `None` if it
/// is disabled or gone, or its scopes or grants changed since it was read — so two
/// concurrent updates cannot bring back what the other removed.
pub fn update(
    conn: &mut DbConn,
    read: &Client,
    changes: &ClientChanges,
) -> QueryResult<Option<Client>> {
    let id = &read.id;
    let updated = diesel::update(
        clients::table
            .filter(clients::id.eq(id))
            .filter(clients::disabled_at.is_null())
            .filter(clients::allowed_scopes.eq(&read.allowed_scopes))
            .filter(clients::grant_types.eq(&read.grant_types)),
    )
    .set(changes)
    .execute(conn)?;
    if updated == 0 {
        return Ok(None);
    }
    find_in_any_org(conn, id)
}

/// Replaces a live client's secret hash. The old secret keeps working until
/// `previous_until` (`None`: it stops at once); a secret replaced earlier and still in
/// its overlap stops now — there is at most one previous secret.
///
/// `read` is the client as the caller read it: of two concurrent rotations only the
/// first changes the row (the second sees another `secret_hash` and gets `None`), so
/// a secret just handed out is never replaced behind its receiver's back.
pub fn rotate_secret(
    conn: &mut DbConn,
    read: &Client,
    new: &super::secret::StoredSecret,
    previous_until: Option<NaiveDateTime>,
    now: NaiveDateTime,
) -> QueryResult<Option<Client>> {
    let (new_hash, new_hint) = (&new.hash, &new.hint);
    let id = &read.id;
    // The old secret's overlap never outlasts the old secret itself.
    let previous_until =
        previous_until.map(|until| read.secret_expires_at.map_or(until, |at| at.min(until)));
    let live = clients::table
        .filter(clients::id.eq(id))
        .filter(clients::disabled_at.is_null())
        .filter(clients::secret_hash.eq(&read.secret_hash));
    // `SET previous = secret_hash, secret_hash = ?`: both backends evaluate the
    // right-hand sides against the row as it was.
    let updated = match previous_until {
        Some(until) => diesel::update(live)
            .set((
                clients::previous_secret_hash.eq(clients::secret_hash.nullable()),
                clients::previous_secret_hint.eq(clients::secret_hint),
                clients::previous_secret_expires_at.eq(Some(until)),
                clients::secret_hash.eq(new_hash),
                clients::secret_hint.eq(Some(new_hint)),
                clients::updated_at.eq(now),
            ))
            .execute(conn)?,
        None => diesel::update(live)
            .set((
                clients::previous_secret_hash.eq(None::<String>),
                clients::previous_secret_hint.eq(None::<String>),
                clients::previous_secret_expires_at.eq(None::<NaiveDateTime>),
                clients::secret_hash.eq(new_hash),
                clients::secret_hint.eq(Some(new_hint)),
                clients::updated_at.eq(now),
            ))
            .execute(conn)?,
    };
    if updated == 0 {
        return Ok(None);
    }
    find_in_any_org(conn, id)
}

/// The client whose RFC 7592 registration access token has this digest.
pub fn find_by_registration_token(conn: &mut DbConn, hash: &str) -> QueryResult<Option<Client>> {
    clients::table
        .filter(clients::registration_token_hash.eq(hash))
        .select(Client::as_select())
        .get_result(conn)
        .optional()
}

/// RFC 7592: replaces the registration access token of `read` (the client as the
/// caller read it, its token verified); `None` if another request replaced it first.
pub fn replace_registration_token(
    conn: &mut DbConn,
    read: &Client,
    new_hash: &str,
) -> QueryResult<Option<Client>> {
    let Some(current) = &read.registration_token_hash else {
        return Ok(None);
    };
    let updated = diesel::update(
        clients::table
            .filter(clients::id.eq(&read.id))
            .filter(clients::disabled_at.is_null())
            .filter(clients::registration_token_hash.eq(current)),
    )
    .set(clients::registration_token_hash.eq(new_hash))
    .execute(conn)?;
    if updated == 0 {
        return Ok(None);
    }
    find_in_any_org(conn, &read.id)
}

/// RFC 7592 update: the metadata (see `update`) and a new registration access token,
/// in one transaction; `None`, changing nothing, if either lost a race.
pub fn update_registration(
    conn: &mut DbConn,
    read: &Client,
    changes: &ClientChanges,
    new_token_hash: &str,
) -> QueryResult<Option<Client>> {
    let outcome = conn.transaction(|c| {
        if replace_registration_token(c, read, new_token_hash)?.is_none() {
            return Err(diesel::result::Error::RollbackTransaction);
        }
        update(c, read, changes)?.ok_or(diesel::result::Error::RollbackTransaction)
    });
    match outcome {
        Ok(client) => Ok(Some(client)),
        Err(diesel::result::Error::RollbackTransaction) => Ok(None),
        Err(other) => Err(other),
    }
}

/// RFC 7592 delete: disables the client (see `disable`) and forgets its registration
/// access token, in one transaction; whether this call disabled it.
pub fn delete_registration(
    conn: &mut DbConn,
    id: &ClientId,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    conn.transaction(|c| {
        let disabled = disable(c, id, now)?;
        diesel::update(clients::table.find(id))
            .set(clients::registration_token_hash.eq(None::<String>))
            .execute(c)?;
        Ok(disabled)
    })
}

/// Disables the client and revokes its refresh-token families, in one transaction;
/// returns whether a live client was disabled by this call.
pub fn disable(conn: &mut DbConn, id: &ClientId, now: NaiveDateTime) -> QueryResult<bool> {
    conn.transaction(|c| {
        let updated = diesel::update(
            clients::table
                .filter(clients::id.eq(id))
                .filter(clients::disabled_at.is_null()),
        )
        .set((
            clients::disabled_at.eq(Some(now)),
            clients::updated_at.eq(now),
        ))
        .execute(c)?;
        crate::refresh::repo::revoke_client_families(c, id, now, "client_disabled")?;
        Ok(updated == 1)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clients::model::ClientRegistration;
    use crate::ids::ClientId;
    use crate::orgs;
    use crate::store::test_support::memory_conn;
    use std::time::Duration;

    fn known() -> crate::scope::ScopeSet {
        crate::scope::ScopeSet::parse("read write").unwrap()
    }

    #[test]
    fn create_find_list_disable() {
        let mut conn = memory_conn();
        let now = chrono::Utc::now().naive_utc();
        let (org, _) = orgs::repo::ensure_default(&mut conn, now).unwrap();
        let new = ClientRegistration {
            name: "svc".into(),
            scope: "read".into(),
            ..Default::default()
        }
        .validate(org.id.clone(), &known(), Duration::from_secs(3600))
        .unwrap()
        .into_new_client(ClientId::generate(), "$argon2id$x".into(), now);
        let created = create(&mut conn, &new).unwrap();
        assert_eq!(
            find_in_any_org(&mut conn, &created.id)
                .unwrap()
                .unwrap()
                .name,
            "svc"
        );
        assert!(find_in_any_org(&mut conn, &ClientId::from("kgc_missing"))
            .unwrap()
            .is_none());
        assert_eq!(list(&mut conn, Some(&org.id)).unwrap().len(), 1);
        assert_eq!(
            list(&mut conn, Some(&OrgId::from("org_other")))
                .unwrap()
                .len(),
            0
        );
        assert!(disable(&mut conn, &created.id, now).unwrap());
        assert!(
            !disable(&mut conn, &created.id, now).unwrap(),
            "already disabled"
        );
        assert!(find_in_any_org(&mut conn, &created.id)
            .unwrap()
            .unwrap()
            .is_disabled());
    }

    #[test]
    fn client_needs_an_existing_org() {
        let mut conn = memory_conn();
        let now = chrono::Utc::now().naive_utc();
        let new = ClientRegistration {
            name: "svc".into(),
            scope: "read".into(),
            ..Default::default()
        }
        .validate(
            crate::ids::OrgId::from("org_nope"),
            &known(),
            Duration::from_secs(3600),
        )
        .unwrap()
        .into_new_client(ClientId::generate(), "h".into(), now);
        assert!(create(&mut conn, &new).is_err());
    }
}
