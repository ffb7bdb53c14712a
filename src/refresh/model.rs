use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::ids::{ClientId, OrgId, UserId};
use crate::secret::{RandomError, Secret};
use crate::store::schema::{refresh_families, refresh_tokens};
use crate::tokens::TokenKind;

/// Lets secret scanners (and keygate itself) recognise a refresh token.
const TOKEN_BYTES: usize = 32;

pub fn generate_token() -> Result<Secret, RandomError> {
    Secret::generate(TokenKind::RefreshToken.prefix(), TOKEN_BYTES)
}

/// A family to be started: its id, known before it is written (so the write that
/// redeems an authorization code can record it in the same statement that spends
/// the code), and its first token.
pub struct FirstToken {
    pub family_id: String,
    pub token: Secret,
}

impl FirstToken {
    pub fn generate() -> Result<Self, RandomError> {
        Ok(Self {
            family_id: new_id(TokenKind::RefreshFamilyId),
            token: generate_token()?,
        })
    }
}

pub use crate::secret::digest;

/// A family's absolute lifetime and each token's idle lifetime.
#[derive(Clone, Copy, Debug)]
pub struct Lifetimes {
    pub absolute: chrono::Duration,
    pub idle: chrono::Duration,
}

/// Whose a new family is: the client it is bound to, the organization its tokens
/// are for (the client's own, or the person's), and the person it acts for, if any.
#[derive(Clone, Copy, Debug)]
pub struct Owner<'a> {
    pub client_id: &'a ClientId,
    pub org_id: &'a OrgId,
    /// `None`: the client acts for itself (client_credentials).
    pub user_id: Option<&'a UserId>,
}

#[derive(Clone, Debug, Queryable, Selectable)]
#[diesel(table_name = refresh_families)]
pub struct Family {
    pub id: String,
    pub client_id: ClientId,
    pub org_id: OrgId,
    pub scope: String,
    pub created_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
    pub revoked_at: Option<NaiveDateTime>,
    pub revoked_reason: Option<String>,
    /// The RFC 8707 resource the original grant named: every access token of the
    /// family is for it. `None`: the grant named none, so each refresh may pick any
    /// audience the client has at the time.
    pub resource: Option<String>,
    /// The person the family acts for (an authorization code grant); `None`: the
    /// client itself.
    pub user_id: Option<UserId>,
}

/// A stored refresh token (its digest, never the token).
#[derive(Clone, Debug, Queryable, Selectable)]
#[diesel(table_name = refresh_tokens)]
pub struct TokenRow {
    pub id: String,
    pub family_id: String,
    pub token_hash: String,
    pub created_at: NaiveDateTime,
    pub idle_expires_at: NaiveDateTime,
    pub spent_at: Option<NaiveDateTime>,
    pub successor_id: Option<String>,
}

impl TokenRow {
    /// Live: unspent, within its idle lifetime, in a live family.
    pub fn is_live(&self, family: &Family, now: NaiveDateTime) -> bool {
        self.spent_at.is_none()
            && self.idle_expires_at > now
            && family.revoked_at.is_none()
            && family.expires_at > now
    }
}

#[derive(Debug, Insertable)]
#[diesel(table_name = refresh_families)]
pub struct NewFamily<'a> {
    pub id: &'a str,
    pub client_id: &'a ClientId,
    pub org_id: &'a OrgId,
    pub scope: &'a str,
    pub resource: Option<&'a str>,
    pub created_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
    pub user_id: Option<&'a UserId>,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = refresh_tokens)]
pub struct NewToken<'a> {
    pub id: &'a str,
    pub family_id: &'a str,
    pub token_hash: &'a str,
    pub created_at: NaiveDateTime,
    pub idle_expires_at: NaiveDateTime,
}

/// A successful rotation: the family and the new token (shown once).
#[derive(Debug)]
pub struct Rotated {
    pub family: Family,
    pub token: Secret,
}

/// Why a presented refresh token was refused. All become `invalid_grant` on the wire;
/// the reason is for the log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refused {
    Unknown,
    OtherClient,
    Revoked,
    Expired,
    /// A spent token was presented again: the family is now revoked.
    ReuseDetected,
}

impl Refused {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unknown => "unknown",
            Self::OtherClient => "other_client",
            Self::Revoked => "revoked",
            Self::Expired => "expired",
            Self::ReuseDetected => "reuse_detected",
        }
    }
}

pub fn new_id(kind: TokenKind) -> String {
    kind.with_suffix(uuid::Uuid::new_v4().simple())
}
