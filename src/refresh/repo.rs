use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::model::{
    digest, generate_token, new_id, Family, Lifetimes, NewFamily, NewToken, Refused, Rotated,
    TokenRow,
};
use crate::clients::Client;
use crate::secret::Secret;
use crate::store::schema::{refresh_families, refresh_tokens};
use crate::store::{DbConn, StoreError};

/// Starts a family for `client` with `scope`; returns the first token (shown once).
pub fn create_family(
    conn: &mut DbConn,
    client: &Client,
    scope: &str,
    now: NaiveDateTime,
    lifetimes: Lifetimes,
) -> Result<Secret, StoreError> {
    let token = generate_token().map_err(|_| StoreError::Random)?;
    let family_id = new_id("rtf_");
    let expires_at = now + lifetimes.absolute;
    conn.transaction(|c| {
        diesel::insert_into(refresh_families::table)
            .values(NewFamily {
                id: &family_id,
                client_id: &client.id,
                org_id: &client.org_id,
                scope,
                created_at: now,
                expires_at,
            })
            .execute(c)?;
        insert_token(
            c,
            &new_id("rt_"),
            &family_id,
            &token,
            now,
            expires_at,
            lifetimes,
        )
    })?;
    Ok(token)
}

fn insert_token(
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

/// Spends `presented` and issues its successor, in one transaction.
///
/// The first statement is the conditional update `… SET spent_at = now WHERE
/// token_hash = ? AND spent_at IS NULL AND <family live and the client's>`: of any
/// number of concurrent calls with the same token exactly one sees an affected-row
/// count of 1, on SQLite (one writer) and PostgreSQL (row lock, then re-check) alike.
/// Starting with the write also means a SQLite transaction never has to upgrade a
/// read lock, which could fail with SQLITE_BUSY instead of waiting.
///
/// A spent token presented again revokes its family — unless `grace` is positive, the
/// token was spent less than `grace` ago and its successor was never used: then the
/// unused successor is spent in its place and a new one issued, so the family still
/// has exactly one live token (a retry after a lost response cannot fork it).
pub fn rotate(
    conn: &mut DbConn,
    presented: &str,
    client_id: &str,
    now: NaiveDateTime,
    lifetimes: Lifetimes,
    grace: chrono::Duration,
) -> Result<Result<Rotated, Refused>, StoreError> {
    let hash = digest(presented);
    let successor = generate_token().map_err(|_| StoreError::Random)?;
    let successor_id = new_id("rt_");
    let outcome = conn.transaction(|c| -> QueryResult<Result<Family, Refused>> {
        let live_families = refresh_families::table
            .select(refresh_families::id)
            .filter(refresh_families::client_id.eq(client_id))
            .filter(refresh_families::revoked_at.is_null())
            .filter(refresh_families::expires_at.gt(now));
        let spent = diesel::update(
            refresh_tokens::table
                .filter(refresh_tokens::token_hash.eq(&hash))
                .filter(refresh_tokens::spent_at.is_null())
                .filter(refresh_tokens::idle_expires_at.gt(now))
                .filter(refresh_tokens::family_id.eq_any(live_families)),
        )
        .set((
            refresh_tokens::spent_at.eq(now),
            refresh_tokens::successor_id.eq(&successor_id),
        ))
        .execute(c)?;
        let Some((token, family)) = find_by_hash(c, &hash)? else {
            return Ok(Err(Refused::Unknown));
        };
        if spent == 1 {
            insert_token(
                c,
                &successor_id,
                &family.id,
                &successor,
                now,
                family.expires_at,
                lifetimes,
            )?;
            return Ok(Ok(family));
        }
        if family.client_id != client_id {
            return Ok(Err(Refused::OtherClient));
        }
        if family.revoked_at.is_some() {
            return Ok(Err(Refused::Revoked));
        }
        if family.expires_at <= now || token.idle_expires_at <= now {
            return Ok(Err(Refused::Expired));
        }
        if let (Some(spent_at), Some(previous_successor)) = (token.spent_at, &token.successor_id) {
            if grace > chrono::Duration::zero() && now < spent_at + grace {
                let replaced = diesel::update(
                    refresh_tokens::table
                        .filter(refresh_tokens::id.eq(previous_successor))
                        .filter(refresh_tokens::spent_at.is_null()),
                )
                // The superseded token gets no successor: it was never used, so a
                // later presentation of it has no grace and counts as reuse.
                .set((
                    refresh_tokens::spent_at.eq(now),
                    refresh_tokens::successor_id.eq(None::<String>),
                ))
                .execute(c)?;
                if replaced == 1 {
                    diesel::update(refresh_tokens::table.find(&token.id))
                        .set(refresh_tokens::successor_id.eq(&successor_id))
                        .execute(c)?;
                    insert_token(
                        c,
                        &successor_id,
                        &family.id,
                        &successor,
                        now,
                        family.expires_at,
                        lifetimes,
                    )?;
                    return Ok(Ok(family));
                }
            }
        }
        revoke_family(c, &family.id, now, "reuse_detected")?;
        Ok(Err(Refused::ReuseDetected))
    })?;
    Ok(outcome.map(|family| Rotated {
        family,
        token: successor,
    }))
}

fn find_by_hash(conn: &mut DbConn, hash: &str) -> QueryResult<Option<(TokenRow, Family)>> {
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

/// Revokes the family (once; the first reason stays).
pub fn revoke_family(
    conn: &mut DbConn,
    family_id: &str,
    now: NaiveDateTime,
    reason: &str,
) -> QueryResult<bool> {
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
    Ok(updated == 1)
}

/// Every live family of the client, e.g. when it is disabled.
pub fn revoke_client_families(
    conn: &mut DbConn,
    client_id: &str,
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

/// Live tokens of a family (for tests and consistency checks: never more than one).
pub fn live_tokens(conn: &mut DbConn, family_id: &str, now: NaiveDateTime) -> QueryResult<i64> {
    refresh_tokens::table
        .filter(refresh_tokens::family_id.eq(family_id))
        .filter(refresh_tokens::spent_at.is_null())
        .filter(refresh_tokens::idle_expires_at.gt(now))
        .count()
        .get_result(conn)
}
