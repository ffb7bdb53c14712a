//! Authorization codes at rest (RFC 6749 §4.1.2): issued by the authorization
//! endpoint once a person consents, stored as SHA-256 digests with everything the
//! request bound them to (client, redirect URI, PKCE challenge, person, organization,
//! scope, resource), valid for `CODE_LIFETIME`, and redeemed once.
//!
//! Redemption is decided by the database, as refresh rotation is: the code is read
//! (`find`) and its tokens signed outside any write; then one write spends it and
//! records what it issued on the row in one conditional update (`redeem`) — so of
//! concurrent redemptions exactly one wins — and starts the refresh family it names.
//! A later use of the code finds that record and revokes what it names (§4.1.2: "SHOULD revoke … all tokens previously issued based
//! on that authorization code"); a use racing the winner waits for its write (a row
//! lock on PostgreSQL, the writer turn on SQLite) and then does the same.

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;

use crate::audit::{self, By, Change, Source, Target};
use crate::ids::{ClientId, OrgId, UserId};
use crate::secret::{digest, RandomError, Secret};
use crate::store::schema::authorization_codes;
use crate::store::DbConn;
use crate::tokens::TokenKind;

/// How long a code may wait for its redemption (RFC 6749 §4.1.2 advises at most ten
/// minutes; a client redeems at once).
pub const CODE_LIFETIME: Duration = Duration::seconds(60);

/// How long a redeemed or expired code is kept, to recognise its reuse, before it is
/// purged.
const KEPT_AFTER_EXPIRY: Duration = Duration::days(1);

const CODE_BYTES: usize = 32;

/// What a code is bound to.
#[derive(Clone, Debug)]
pub struct CodeBinding<'a> {
    pub client_id: &'a ClientId,
    pub user_id: &'a UserId,
    pub org_id: &'a OrgId,
    pub redirect_uri: &'a str,
    /// The PKCE `S256` challenge (`oauth::pkce`).
    pub code_challenge: &'a str,
    pub scope: &'a str,
    pub resource: Option<&'a str>,
}

/// A stored code.
#[derive(Clone, Debug, Queryable, Selectable)]
#[diesel(table_name = authorization_codes)]
pub struct StoredCode {
    pub code_hash: String,
    pub client_id: ClientId,
    pub user_id: UserId,
    pub org_id: OrgId,
    pub redirect_uri: String,
    pub code_challenge: String,
    pub scope: String,
    pub resource: Option<String>,
    pub created_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
    pub used_at: Option<NaiveDateTime>,
    pub family_id: Option<String>,
    pub access_jti: Option<String>,
    pub access_expires_at: Option<NaiveDateTime>,
}

#[derive(Insertable)]
#[diesel(table_name = authorization_codes)]
struct NewCode<'a> {
    code_hash: &'a str,
    client_id: &'a ClientId,
    user_id: &'a UserId,
    org_id: &'a OrgId,
    redirect_uri: &'a str,
    code_challenge: &'a str,
    scope: &'a str,
    resource: Option<&'a str>,
    created_at: NaiveDateTime,
    expires_at: NaiveDateTime,
}

/// A presented code, as `find` classifies it.
#[derive(Debug)]
pub enum Found {
    /// Unused and unexpired, this client's.
    Live(StoredCode),
    /// Redeemed before: a reuse (`revoke_issued`).
    Used(StoredCode),
    /// No such code for this client, or it expired unused.
    Invalid,
}

pub fn generate() -> Result<Secret, RandomError> {
    Secret::generate(TokenKind::AuthorizationCode.prefix(), CODE_BYTES)
}

/// Stores `code` with what it is bound to, and purges the codes long expired.
pub fn store(
    conn: &mut DbConn,
    code: &Secret,
    binding: &CodeBinding<'_>,
    now: NaiveDateTime,
) -> QueryResult<()> {
    diesel::delete(
        authorization_codes::table
            .filter(authorization_codes::expires_at.lt(now - KEPT_AFTER_EXPIRY)),
    )
    .execute(conn)?;
    diesel::insert_into(authorization_codes::table)
        .values(NewCode {
            code_hash: &digest(code.expose()),
            client_id: binding.client_id,
            user_id: binding.user_id,
            org_id: binding.org_id,
            redirect_uri: binding.redirect_uri,
            code_challenge: binding.code_challenge,
            scope: binding.scope,
            resource: binding.resource,
            created_at: now,
            expires_at: now + CODE_LIFETIME,
        })
        .execute(conn)
        .map(|_| ())
}

/// The code `presented` of `client_id`, read (no write). A code of another client is
/// `Invalid` and is left as it is.
pub fn find(
    conn: &mut DbConn,
    presented: &str,
    client_id: &ClientId,
    now: NaiveDateTime,
) -> QueryResult<Found> {
    // A code is the prefix and 43 base64url characters (32 bytes): anything else
    // is refused before a query.
    let well_formed = presented
        .strip_prefix(TokenKind::AuthorizationCode.prefix())
        .is_some_and(|rest| {
            rest.len() == 43
                && rest
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        });
    if !well_formed {
        return Ok(Found::Invalid);
    }
    let code = authorization_codes::table
        .filter(authorization_codes::code_hash.eq(digest(presented)))
        .filter(authorization_codes::client_id.eq(client_id))
        .select(StoredCode::as_select())
        .get_result(conn)
        .optional()?;
    Ok(match code {
        None => Found::Invalid,
        Some(code) if code.used_at.is_some() => Found::Used(code),
        Some(code) if code.expires_at <= now => Found::Invalid,
        Some(code) => Found::Live(code),
    })
}

/// Spends the code: `true` for the one caller whose conditional update took it
/// (unused, unexpired), `false` for every other. For a redemption that issues
/// nothing (a wrong verifier); one that issues uses `redeem`.
pub fn spend(conn: &mut DbConn, code: &StoredCode, now: NaiveDateTime) -> QueryResult<bool> {
    diesel::update(unspent(code, now))
        .set(authorization_codes::used_at.eq(now))
        .execute(conn)
        .map(|n| n == 1)
}

/// What a redemption issued: its refresh family (if any), and its access token's
/// `jti` and expiry.
pub struct Issued<'a> {
    pub family_id: Option<&'a str>,
    pub jti: &'a str,
    pub access_expires_at: NaiveDateTime,
}

/// Spends the code and records what its redemption issued, in one conditional
/// update: `true` for the one caller that took it (unused, unexpired), `false` for
/// every other. Call it in the write that starts the family it names.
pub fn redeem(
    conn: &mut DbConn,
    code: &StoredCode,
    issued: &Issued<'_>,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    diesel::update(unspent(code, now))
        .set((
            authorization_codes::used_at.eq(now),
            authorization_codes::family_id.eq(issued.family_id),
            authorization_codes::access_jti.eq(issued.jti),
            authorization_codes::access_expires_at.eq(issued.access_expires_at),
        ))
        .execute(conn)
        .map(|n| n == 1)
}

/// The code's row while it is unused and unexpired.
type Unspent<'a> = diesel::dsl::Filter<
    diesel::dsl::Filter<
        diesel::dsl::Find<authorization_codes::table, &'a String>,
        diesel::dsl::IsNull<authorization_codes::used_at>,
    >,
    diesel::dsl::Gt<authorization_codes::expires_at, NaiveDateTime>,
>;

fn unspent(code: &StoredCode, now: NaiveDateTime) -> Unspent<'_> {
    authorization_codes::table
        .find(&code.code_hash)
        .filter(authorization_codes::used_at.is_null())
        .filter(authorization_codes::expires_at.gt(now))
}

/// A reused code: what its redemption issued is revoked, and the organization's
/// audit log says so. The revocation is claimed by one conditional update (the record
/// is cleared), so of several reuses at once exactly one revokes — two inserting the
/// same revoked `jti` would abort PostgreSQL's transaction — and a later one finds
/// nothing left. Call it in a write.
pub fn revoke_issued(
    conn: &mut DbConn,
    code: &StoredCode,
    now: NaiveDateTime,
    source: &Source,
) -> QueryResult<()> {
    let mine = authorization_codes::table.find(&code.code_hash);
    // What the winner recorded, committed (the row read before may predate it).
    let recorded: Option<StoredCode> = mine
        .select(StoredCode::as_select())
        .get_result(conn)
        .optional()?;
    let claimed = diesel::update(mine.filter(authorization_codes::access_jti.is_not_null()))
        .set((
            authorization_codes::family_id.eq(None::<String>),
            authorization_codes::access_jti.eq(None::<String>),
        ))
        .execute(conn)?
        == 1;
    if let Some(recorded) = recorded.filter(|_| claimed) {
        if let Some(family_id) = &recorded.family_id {
            crate::refresh::repo::revoke_family(conn, family_id, now, "code_reused", source)?;
        }
        if let (Some(jti), Some(expires_at)) = (&recorded.access_jti, recorded.access_expires_at) {
            crate::tokens::revoked::revoke(conn, jti, &code.client_id, expires_at, now)?;
        }
    }
    tracing::warn!(client_id = %code.client_id, "authorization code reused: what it issued is revoked");
    let target = Target {
        org_id: &code.org_id,
        id: code.client_id.as_str(),
    };
    let change = Change::AuthorizationCodeReused {
        user_id: code.user_id.as_str(),
    };
    audit::repo::record(
        conn,
        target,
        By::new("unauthenticated", source),
        change,
        now,
    )
}
