//! Authorization codes at rest (RFC 6749 §4.1.2): issued by the authorization
//! endpoint once a person consents, stored as SHA-256 digests with everything the
//! request bound them to (client, redirect URI, PKCE challenge, person, organization,
//! scope, resource), valid for `CODE_LIFETIME`, and redeemed once.
//!
//! Redemption is decided by the database, as refresh rotation is: one conditional
//! update marks the code used, so of concurrent redemptions exactly one wins. The
//! winner's tokens are recorded on the row in the same transaction; a later use of the
//! code finds them and revokes them (§4.1.2: "SHOULD revoke … all tokens previously
//! issued based on that authorization code").

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

/// Why a code was not redeemed.
#[derive(Debug, PartialEq, Eq)]
pub enum Unredeemed {
    /// No such code for this client, or it expired unused.
    Invalid,
    /// It was redeemed before: what that issued has been revoked.
    Reused,
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

/// Redeems `presented` for `client_id`: marks it used and returns it, or says why
/// not. A code presented again has what its first redemption issued revoked here, and
/// the reuse audited. Call it inside a transaction that also records what is issued
/// (`record_issued`), so that a concurrent reuse either waits for those records or
/// finds them.
pub fn redeem(
    conn: &mut DbConn,
    presented: &str,
    client_id: &ClientId,
    now: NaiveDateTime,
    source: &Source,
) -> QueryResult<Result<StoredCode, Unredeemed>> {
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
        return Ok(Err(Unredeemed::Invalid));
    }
    let hash = digest(presented);
    let mine = authorization_codes::table
        .filter(authorization_codes::code_hash.eq(&hash))
        .filter(authorization_codes::client_id.eq(client_id));
    let won = diesel::update(
        mine.filter(authorization_codes::used_at.is_null())
            .filter(authorization_codes::expires_at.gt(now)),
    )
    .set(authorization_codes::used_at.eq(now))
    .execute(conn)?
        == 1;
    let Some(code) = mine
        .select(StoredCode::as_select())
        .get_result(conn)
        .optional()?
    else {
        return Ok(Err(Unredeemed::Invalid));
    };
    if won {
        return Ok(Ok(code));
    }
    if code.used_at.is_none() {
        return Ok(Err(Unredeemed::Invalid));
    }
    revoke_issued(conn, &code, now, source)?;
    Ok(Err(Unredeemed::Reused))
}

/// Records what the redemption of the code `code_hash` issued: its refresh family (if
/// any) and its access token's `jti` and expiry.
pub fn record_issued(
    conn: &mut DbConn,
    code_hash: &str,
    family_id: Option<&str>,
    jti: &str,
    access_expires_at: NaiveDateTime,
) -> QueryResult<()> {
    diesel::update(authorization_codes::table.find(code_hash))
        .set((
            authorization_codes::family_id.eq(family_id),
            authorization_codes::access_jti.eq(jti),
            authorization_codes::access_expires_at.eq(access_expires_at),
        ))
        .execute(conn)
        .map(|_| ())
}

/// A reused code: its refresh family and its access token are revoked, and the
/// organization's audit log says so. The revocation is claimed first — the records
/// of what was issued are cleared by one conditional update — so that of several
/// reuses at once exactly one revokes (two inserting the same revoked `jti` would
/// abort PostgreSQL's transaction), and a later one finds nothing left to revoke.
fn revoke_issued(
    conn: &mut DbConn,
    code: &StoredCode,
    now: NaiveDateTime,
    source: &Source,
) -> QueryResult<()> {
    let claimed = diesel::update(
        authorization_codes::table
            .find(&code.code_hash)
            .filter(authorization_codes::access_jti.is_not_null()),
    )
    .set((
        authorization_codes::family_id.eq(None::<String>),
        authorization_codes::access_jti.eq(None::<String>),
    ))
    .execute(conn)?
        == 1;
    if claimed {
        if let Some(family_id) = &code.family_id {
            crate::refresh::repo::revoke_family(conn, family_id, now, "code_reused", source)?;
        }
        if let (Some(jti), Some(expires_at)) = (&code.access_jti, code.access_expires_at) {
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
