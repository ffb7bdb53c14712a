//! The SQL of refresh-token families: starting one, finding a presented token and
//! its family, revoking (one family, or every family of a client) and counting live
//! tokens. Rotating a token — screening it, spending it, issuing its successor — is
//! `rotation`'s.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::model::{
    digest, new_id, Family, FirstToken, Lifetimes, NewFamily, NewToken, Owner, TokenRow,
};
use crate::audit::{By, Change, Source, Target};
use crate::ids::{ClientId, OrgId, UserId};
use crate::secret::Secret;
use crate::store::schema::{refresh_families, refresh_tokens};
use crate::store::{DbConn, StoreError};
use crate::tokens::TokenKind;

mod rotation;

pub use rotation::{rotate, rotate_known, screen, Rotation, Screening};

/// Starts a family for `owner` with `scope`, bound to `resource` when the grant named
/// one, with `first` (`FirstToken::generate`) as its id and first token, returned to
/// be shown once beside the family's id. Two inserts: call it in a write.
pub fn create_family(
    conn: &mut DbConn,
    owner: Owner<'_>,
    scope: &str,
    resource: Option<&str>,
    now: NaiveDateTime,
    lifetimes: Lifetimes,
    first: FirstToken,
) -> Result<(String, Secret), StoreError> {
    let FirstToken { family_id, token } = first;
    let expires_at = now + lifetimes.absolute;
    diesel::insert_into(refresh_families::table)
        .values(NewFamily {
            id: &family_id,
            client_id: owner.client_id,
            org_id: owner.org_id,
            scope,
            resource,
            created_at: now,
            expires_at,
            user_id: owner.user_id,
        })
        .execute(conn)?;
    insert_token(
        conn,
        &new_id(TokenKind::RefreshTokenId),
        &family_id,
        &token,
        now,
        expires_at,
        lifetimes,
    )?;
    Ok((family_id, token))
}

pub(super) fn insert_token(
    conn: &mut DbConn,
    id: &str,
    family_id: &str,
    token: &Secret,
    now: NaiveDateTime,
    family_expires_at: NaiveDateTime,
    lifetimes: Lifetimes,
) -> QueryResult<()> {
    diesel::insert_into(refresh_tokens::table)
        .values(NewToken {
            id,
            family_id,
            token_hash: &digest(token.expose()),
            created_at: now,
            idle_expires_at: (now + lifetimes.idle).min(family_expires_at),
        })
        .execute(conn)
        .map(|_| ())
}

pub(super) fn find_by_hash(
    conn: &mut DbConn,
    hash: &str,
) -> QueryResult<Option<(TokenRow, Family)>> {
    refresh_tokens::table
        .inner_join(refresh_families::table)
        .filter(refresh_tokens::token_hash.eq(hash))
        .select((TokenRow::as_select(), Family::as_select()))
        .get_result(conn)
        .optional()
}

/// The stored token and its family, live or not.
pub fn find(conn: &mut DbConn, presented: &str) -> QueryResult<Option<(TokenRow, Family)>> {
    find_by_hash(conn, &digest(presented))
}

/// Revokes the family (once; the first reason stays), and records a reuse in the
/// audit log in the same transaction (a savepoint when the caller has one open).
pub fn revoke_family(
    conn: &mut DbConn,
    family_id: &str,
    now: NaiveDateTime,
    reason: &str,
    source: &Source,
) -> QueryResult<bool> {
    conn.transaction(|conn| {
        let updated = diesel::update(
            refresh_families::table
                .filter(refresh_families::id.eq(family_id))
                .filter(refresh_families::revoked_at.is_null()),
        )
        .set((
            refresh_families::revoked_at.eq(now),
            refresh_families::revoked_reason.eq(reason),
        ))
        .execute(conn)?;
        if updated == 1 && reason == REUSE_DETECTED {
            record_reuse(conn, family_id, now, source)?;
        }
        Ok(updated == 1)
    })
}

/// `revoked_reason` of a family revoked because a spent token came back.
pub const REUSE_DETECTED: &str = "reuse_detected";

/// The audit event for a reuse: on the connection (and in the transaction) of the
/// revocation. The actor is the client that presented the spent token.
fn record_reuse(
    conn: &mut DbConn,
    family_id: &str,
    now: NaiveDateTime,
    source: &Source,
) -> QueryResult<()> {
    let family: Family = refresh_families::table
        .find(family_id)
        .select(Family::as_select())
        .get_result(conn)?;
    let actor = format!("client:{}", family.client_id);
    let target = Target {
        org_id: &family.org_id,
        id: &family.id,
    };
    let change = Change::RefreshTokenReuseDetected {
        client_id: family.client_id.as_str(),
    };
    crate::audit::repo::record(conn, target, By::new(&actor, source), change, now)
}

/// Every live family of the client, e.g. when it is disabled.
pub fn revoke_client_families(
    conn: &mut DbConn,
    client_id: &ClientId,
    now: NaiveDateTime,
    reason: &str,
) -> QueryResult<usize> {
    diesel::update(
        refresh_families::table
            .filter(refresh_families::client_id.eq(client_id))
            .filter(refresh_families::revoked_at.is_null()),
    )
    .set((
        refresh_families::revoked_at.eq(now),
        refresh_families::revoked_reason.eq(reason),
    ))
    .execute(conn)
}

/// Revokes the live families acting for `user_id` — in `org_id` when named, through
/// `client_id` alone when named — with `reason`: a consent withdrawn, a member
/// removed, a person disabled. Returns how many.
pub fn revoke_user_families(
    conn: &mut DbConn,
    user_id: &UserId,
    org_id: Option<&OrgId>,
    client_id: Option<&ClientId>,
    now: NaiveDateTime,
    reason: &str,
) -> QueryResult<usize> {
    let mut live = refresh_families::table
        .filter(refresh_families::user_id.eq(user_id.clone()))
        .filter(refresh_families::revoked_at.is_null())
        .into_boxed();
    if let Some(org_id) = org_id {
        live = live.filter(refresh_families::org_id.eq(org_id.clone()));
    }
    if let Some(client_id) = client_id {
        live = live.filter(refresh_families::client_id.eq(client_id.clone()));
    }
    let ids: Vec<String> = live.select(refresh_families::id).load(conn)?;
    diesel::update(refresh_families::table.filter(refresh_families::id.eq_any(&ids)))
        .set((
            refresh_families::revoked_at.eq(now),
            refresh_families::revoked_reason.eq(reason),
        ))
        .execute(conn)
}

/// Live tokens of a family (for tests and consistency checks: never more than one).
pub fn live_tokens(conn: &mut DbConn, family_id: &str, now: NaiveDateTime) -> QueryResult<i64> {
    refresh_tokens::table
        .filter(refresh_tokens::family_id.eq(family_id))
        .filter(refresh_tokens::spent_at.is_null())
        .filter(refresh_tokens::idle_expires_at.gt(now))
        .count()
        .get_result(conn)
}

#[cfg(test)]
mod tests;
