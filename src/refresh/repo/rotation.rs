//! Rotation: `screen` looks at a presented token before the grant goes on, and
//! `rotate` spends it and issues its successor in one transaction, the database
//! deciding the one winner among concurrent presentations (see `rotate`).

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::{find, find_by_hash, insert_token, revoke_family, REUSE_DETECTED};
use crate::audit::Source;
use crate::ids::ClientId;
use crate::refresh::model::{digest, new_id, Family, Lifetimes, Refused, Rotated, TokenRow};
use crate::secret::Secret;
use crate::store::schema::{refresh_families, refresh_tokens};
use crate::store::{DbConn, StoreError};
use crate::tokens::TokenKind;

/// Spends `presented` and issues its successor, in one transaction after reading the
/// token's family (`find`).
///
/// The transaction's first statement is the conditional update `… SET spent_at = now
/// WHERE token_hash = ? AND spent_at IS NULL AND <family live and the client's>`: of any
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
    client_id: &ClientId,
    now: NaiveDateTime,
    lifetimes: Lifetimes,
    grace: chrono::Duration,
    successor: Secret,
) -> Result<Result<Rotated, Refused>, StoreError> {
    let Some((_, family)) = find(conn, presented)? else {
        return Ok(Err(Refused::Unknown));
    };
    let source = Source::default();
    let rotation = Rotation {
        now,
        lifetimes,
        grace,
        source: &source,
        successor,
    };
    rotate_in(conn, presented, &family, client_id, rotation)
}

/// `rotate` for a caller that has just read the token's family (`find`), as the token
/// endpoint has (to screen for reuse first): no second read.
pub fn rotate_known(
    conn: &mut DbConn,
    presented: &str,
    family: &Family,
    rotation: Rotation<'_>,
) -> Result<Result<Rotated, Refused>, StoreError> {
    rotate_in(conn, presented, family, &family.client_id, rotation)
}

/// The settings of one rotation.
pub struct Rotation<'s> {
    pub now: NaiveDateTime,
    pub lifetimes: Lifetimes,
    /// How long a just-spent token may come back as a retry (see `rotate`).
    pub grace: chrono::Duration,
    /// Where the request came from, for the audit event of a detected reuse.
    pub source: &'s Source,
    /// The token issued in the presented one's place (`generate_token`).
    pub successor: Secret,
}

fn rotate_in(
    conn: &mut DbConn,
    presented: &str,
    family: &Family,
    client_id: &ClientId,
    rotation: Rotation<'_>,
) -> Result<Result<Rotated, Refused>, StoreError> {
    let (now, lifetimes) = (rotation.now, rotation.lifetimes);
    let hash = digest(presented);
    let successor_id = new_id(TokenKind::RefreshTokenId);
    let outcome = conn.transaction(|c| -> QueryResult<Result<Family, Refused>> {
        let decided = spend(c, &hash, family, client_id, &successor_id, &rotation)?;
        // Whichever way the presented token was spent, its successor is issued here.
        if let Ok(family) = &decided {
            insert_token(
                c,
                &successor_id,
                &family.id,
                &rotation.successor,
                now,
                family.expires_at,
                lifetimes,
            )?;
        }
        Ok(decided)
    })?;
    Ok(outcome.map(|family| Rotated {
        family,
        token: rotation.successor,
    }))
}

/// Spends the presented token in favour of `successor_id`, or says why not: the
/// decision half of `rotate_in`, inside its transaction.
fn spend(
    c: &mut DbConn,
    hash: &str,
    known_family: &Family,
    client_id: &ClientId,
    successor_id: &str,
    rotation: &Rotation<'_>,
) -> QueryResult<Result<Family, Refused>> {
    let (now, grace) = (rotation.now, rotation.grace);
    // The affected-row count decides the winner: READ COMMITTED on PostgreSQL
    // (set per connection by the store), one writer at a time on SQLite.
    // By the family's id: SQLite materialises this subquery once per statement, and by
    // client alone it listed every live family of the client — one more with each
    // client_credentials call — so refreshes slowed down as they piled up (a
    // 10-minute soak showed it). By id it is one primary-key lookup.
    let live_families = refresh_families::table
        .select(refresh_families::id)
        .filter(refresh_families::id.eq(&known_family.id))
        .filter(refresh_families::client_id.eq(client_id))
        .filter(refresh_families::revoked_at.is_null())
        .filter(refresh_families::expires_at.gt(now));
    let spent = diesel::update(
        refresh_tokens::table
            .filter(refresh_tokens::token_hash.eq(hash))
            .filter(refresh_tokens::spent_at.is_null())
            .filter(refresh_tokens::idle_expires_at.gt(now))
            .filter(refresh_tokens::family_id.eq_any(live_families)),
    )
    .set((
        refresh_tokens::spent_at.eq(now),
        refresh_tokens::successor_id.eq(successor_id),
    ))
    .execute(c)?;
    if spent == 1 {
        // The update's filter re-checked that this family is live and the client's.
        return Ok(Ok(known_family.clone()));
    }
    let Some((token, family)) = find_by_hash(c, hash)? else {
        return Ok(Err(Refused::Unknown));
    };
    if &family.client_id != client_id {
        return Ok(Err(Refused::OtherClient));
    }
    if family.revoked_at.is_some() {
        return Ok(Err(Refused::Revoked));
    }
    // Unspent, yet the update missed it: it has expired.
    let Some(spent_at) = token.spent_at else {
        return Ok(Err(Refused::Expired));
    };
    // Spent, expired or not: a retry within the grace interval, or reuse.
    if grace > chrono::Duration::zero() && now < spent_at + grace && family.expires_at > now {
        // Lock the presented token's row before its successor's: the conditional update
        // above may already hold it (PostgreSQL keeps the lock on a row it re-checked
        // after a concurrent update, even when the row no longer matched), and taking
        // the successor first deadlocked against another retry holding it. Then read
        // the successor again: a concurrent retry may have replaced it meanwhile.
        diesel::update(refresh_tokens::table.find(&token.id))
            .set(refresh_tokens::successor_id.eq(refresh_tokens::successor_id))
            .execute(c)?;
        let previous_successor: Option<String> = refresh_tokens::table
            .find(&token.id)
            .select(refresh_tokens::successor_id)
            .get_result(c)?;
        if let Some(previous_successor) = &previous_successor {
            let replaced = diesel::update(
                refresh_tokens::table
                    .filter(refresh_tokens::id.eq(previous_successor))
                    .filter(refresh_tokens::spent_at.is_null()),
            )
            // The superseded token gets no successor: it was never used, so a later
            // presentation of it has no grace and counts as reuse.
            .set((
                refresh_tokens::spent_at.eq(now),
                refresh_tokens::successor_id.eq(None::<String>),
            ))
            .execute(c)?;
            if replaced == 1 {
                diesel::update(refresh_tokens::table.find(&token.id))
                    .set(refresh_tokens::successor_id.eq(successor_id))
                    .execute(c)?;
                return Ok(Ok(family));
            }
        }
    }
    revoke_family(c, &family.id, now, REUSE_DETECTED, rotation.source)?;
    Ok(Err(Refused::ReuseDetected))
}

/// What `screen` found.
#[derive(Debug, PartialEq, Eq)]
pub enum Screening {
    /// Go on to the rotation, which decides atomically.
    Pass,
    Refuse(Refused),
    /// A spent token presented again: revoke this family (a write, so the caller
    /// does it in its writer turn) and refuse.
    Reused {
        family_id: String,
    },
}

/// Checks a presented token before oxide-auth validates the request's scope, so that a
/// spent token is detected as reuse whatever else the request asks for. Reads only.
/// A token of another client passes: the grant then refuses it without touching that
/// client's family.
/// `found` is the token's row and family as `find` returned them.
pub fn screen(
    conn: &mut DbConn,
    found: (&TokenRow, &Family),
    client_id: &ClientId,
    now: NaiveDateTime,
    grace: chrono::Duration,
) -> Result<Screening, StoreError> {
    let (token, family) = found;
    if &family.client_id != client_id {
        return Ok(Screening::Pass);
    }
    if family.revoked_at.is_some() {
        return Ok(Screening::Refuse(Refused::Revoked));
    }
    if let Some(spent_at) = token.spent_at {
        let retry_possible = grace > chrono::Duration::zero()
            && now < spent_at + grace
            && family.expires_at > now
            && match &token.successor_id {
                Some(successor) => refresh_tokens::table
                    .find(successor)
                    .select(refresh_tokens::spent_at)
                    .get_result::<Option<NaiveDateTime>>(conn)
                    .optional()?
                    .is_some_and(|spent| spent.is_none()),
                None => false,
            };
        if retry_possible {
            return Ok(Screening::Pass);
        }
        return Ok(Screening::Reused {
            family_id: family.id.clone(),
        });
    }
    if !token.is_live(family, now) {
        return Ok(Screening::Refuse(Refused::Expired));
    }
    Ok(Screening::Pass)
}
