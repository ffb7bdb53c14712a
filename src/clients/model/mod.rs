//! The client's rows and the types they are read through: the `Client` row and its
//! reading helpers (which secrets are live, which audiences and grants it has), the
//! insert (`NewClient`), the typed id (`ClientId`), the grants and authentication
//! methods keygate serves, and `RegistrationError`, why metadata is refused. What a
//! client is registered with and how that is validated is `registration`'s; what an
//! update changes and how it is recorded, `changes`'.

mod changes;
mod registration;

pub use changes::{ClientChanges, ClientUpdate};
pub use registration::{
    is_valid_audience, ClientRegistration, ValidRegistration, MAX_AUDIENCES, MAX_REDIRECT_URIS,
    MAX_REUSE_GRACE,
};

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::config::MIN_ACCESS_TOKEN_TTL;
use crate::ids::ClientId;
use crate::ids::OrgId;
use crate::scope::{ScopeError, ScopeSet};
use crate::store::schema::clients;

use registration::{MAX_AUDIENCE_LEN, MAX_NAME_LEN};

/// The grants keygate serves; a client may use only those it was registered with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum GrantType {
    /// An app acting for a person who consented (RFC 6749 §4.1, with PKCE).
    AuthorizationCode,
    ClientCredentials,
    RefreshToken,
}

impl GrantType {
    pub const ALL: [GrantType; 3] = [
        GrantType::AuthorizationCode,
        GrantType::ClientCredentials,
        GrantType::RefreshToken,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::AuthorizationCode => "authorization_code",
            Self::ClientCredentials => "client_credentials",
            Self::RefreshToken => "refresh_token",
        }
    }
}

impl FromStr for GrantType {
    type Err = RegistrationError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|g| g.as_str() == s)
            .ok_or_else(|| RegistrationError::UnknownGrantType(s.to_owned()))
    }
}

impl fmt::Display for GrantType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a client authenticates (RFC 7591 `token_endpoint_auth_method`, RFC 6749
/// §2.3.1): its secret in the `Authorization: Basic` header, or as `client_id` and
/// `client_secret` in the request body — or not at all: a public client (a native
/// app, a CLI, an MCP client) that holds no secret, sends only its `client_id` and
/// proves the code is its own with PKCE.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthMethod {
    ClientSecretBasic,
    ClientSecretPost,
    None,
}

impl AuthMethod {
    pub const ALL: [AuthMethod; 3] = [
        AuthMethod::ClientSecretBasic,
        AuthMethod::ClientSecretPost,
        AuthMethod::None,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::ClientSecretBasic => "client_secret_basic",
            Self::ClientSecretPost => "client_secret_post",
            Self::None => "none",
        }
    }
}

impl FromStr for AuthMethod {
    type Err = RegistrationError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|m| m.as_str() == s)
            .ok_or(RegistrationError::UnknownAuthMethod)
    }
}

impl fmt::Display for AuthMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A registered client. `Debug` leaves out the secret hash.
#[derive(Clone, Queryable, Selectable)]
#[diesel(table_name = clients)]
pub struct Client {
    pub id: ClientId,
    pub org_id: OrgId,
    pub name: String,
    pub secret_hash: String,
    pub grant_types: String,
    pub allowed_scopes: String,
    pub default_scopes: String,
    /// The default audience: the `aud` of tokens whose request names no resource
    /// (`None`: the server's `default_audience`).
    pub audience: Option<String>,
    pub access_token_ttl_secs: Option<i64>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub disabled_at: Option<NaiveDateTime>,
    pub refresh_reuse_grace_secs: i64,
    /// The secret before the last rotation, accepted until `previous_secret_expires_at`.
    pub previous_secret_hash: Option<String>,
    pub previous_secret_expires_at: Option<NaiveDateTime>,
    /// SHA-256 digest of the RFC 7592 registration access token, for clients
    /// registered through `POST /oauth/register`.
    pub registration_token_hash: Option<String>,
    /// Requests per minute for this client alone, below its organization's tier.
    pub rate_limit_per_minute: Option<i64>,
    /// `secret::hint` of the current and the previous secret (`None` for secrets
    /// stored before hints were): which hash a presented secret is verified against.
    pub secret_hint: Option<String>,
    pub previous_secret_hint: Option<String>,
    /// When the current secret stops working (`None`: never): a client created, or
    /// its secret rotated, by a credential that expires lives no longer than it.
    pub secret_expires_at: Option<NaiveDateTime>,
    /// The RFC 7591 `token_endpoint_auth_method` it was registered with (`None`: none
    /// named, either is accepted).
    pub token_endpoint_auth_method: Option<String>,
    /// Every audience (RFC 8707 resource) the client may obtain tokens for,
    /// space-separated, the default among them; `None`: only the default.
    pub audiences: Option<String>,
    /// The registered redirect URIs, space-separated (empty: none, so no
    /// authorization code grant).
    pub redirect_uris: String,
}

impl crate::audit::Audited for Client {
    fn org_id(&self) -> &OrgId {
        &self.org_id
    }

    fn audited_id(&self) -> &str {
        self.id.as_str()
    }
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("id", &self.id)
            .field("org_id", &self.org_id)
            .field("name", &self.name)
            .field("grant_types", &self.grant_types)
            .field("allowed_scopes", &self.allowed_scopes)
            .field("disabled_at", &self.disabled_at)
            .finish_non_exhaustive()
    }
}

impl Client {
    pub fn is_disabled(&self) -> bool {
        self.disabled_at.is_some()
    }

    /// The stored hashes a presented secret may match at `now`: the current one, and
    /// the previous one during a rotation's overlap.
    pub fn live_secret_hashes(&self, now: NaiveDateTime) -> impl Iterator<Item = &str> {
        let current = self.secret_expires_at.is_none_or(|until| now < until);
        current
            .then_some(self.secret_hash.as_str())
            .into_iter()
            .chain(self.previous_in_overlap(now).map(|(hash, _)| hash))
    }
    /// The latest time a credential minted with this client's secret may live:
    /// the secret's own expiry (`None`: no limit).
    pub fn credential_lifetime(&self) -> Option<NaiveDateTime> {
        self.secret_expires_at
    }

    /// The hashes to run argon2 against for a secret whose `secret::hint` is
    /// `presented_hint`: always exactly one when the stored secrets have hints — the
    /// one whose hint matches, else the current one (the secret is wrong, and costs
    /// one verification like any other wrong secret) — so a client mid-rotation
    /// cannot be told apart by timing. Secrets stored without hints: every live hash.
    pub fn hashes_to_verify(&self, presented_hint: &str, now: NaiveDateTime) -> Vec<&str> {
        let previous = self.previous_in_overlap(now);
        let hinted = self.secret_hint.is_some() && previous.is_none_or(|(_, hint)| hint.is_some());
        if !hinted {
            let live: Vec<&str> = self.live_secret_hashes(now).collect();
            // An expired secret still costs one verification, like a wrong one.
            return if live.is_empty() {
                vec![self.secret_hash.as_str()]
            } else {
                live
            };
        }
        match previous {
            // Constant-time out of habit: a hint is not secret.
            Some((hash, Some(hint))) if crate::secret::ct_eq_str(hint, presented_hint) => {
                vec![hash]
            }
            _ => vec![self.secret_hash.as_str()],
        }
    }

    fn previous_in_overlap(&self, now: NaiveDateTime) -> Option<(&str, Option<&str>)> {
        match (&self.previous_secret_hash, self.previous_secret_expires_at) {
            (Some(hash), Some(until)) if now < until => {
                Some((hash.as_str(), self.previous_secret_hint.as_deref()))
            }
            _ => None,
        }
    }

    /// The authentication method the client was registered with, if it named one.
    /// A stored value that does not parse (edited by hand) admits no method rather
    /// than failing open: see `accepts_auth_method`.
    pub fn auth_method(&self) -> Option<Result<AuthMethod, RegistrationError>> {
        self.token_endpoint_auth_method
            .as_deref()
            .map(AuthMethod::from_str)
    }

    /// Whether credentials sent as `method` are acceptable for this client: the
    /// registered method only, or either secret method when none was registered
    /// (never `none`: a client with a secret must present it).
    pub fn accepts_auth_method(&self, method: AuthMethod) -> bool {
        match self.auth_method() {
            None => method != AuthMethod::None,
            Some(registered) => registered == Ok(method),
        }
    }

    /// A public client: registered with `token_endpoint_auth_method: none`, it has no
    /// secret (its stored hash is empty, which no secret verifies against).
    pub fn is_public(&self) -> bool {
        self.auth_method() == Some(Ok(AuthMethod::None))
    }

    /// The registered redirect URIs.
    pub fn redirect_uris(&self) -> impl Iterator<Item = &str> {
        self.redirect_uris.split(' ').filter(|uri| !uri.is_empty())
    }

    /// The registered redirect URI `presented` names (exact string; a loopback one at
    /// any port — `redirect_uri::matches`), if any.
    pub fn registered_redirect_uri(&self, presented: &str) -> Option<&str> {
        self.redirect_uris()
            .find(|registered| super::redirect_uri::matches(registered, presented))
    }

    /// The `aud` of a token whose request names no resource.
    pub fn default_audience<'a>(&'a self, server_default: &'a str) -> &'a str {
        self.audience.as_deref().unwrap_or(server_default)
    }

    /// The audiences as registered (empty: only the server's `default_audience`).
    pub fn registered_audiences(&self) -> Vec<&str> {
        match self.audiences.as_deref().filter(|list| !list.is_empty()) {
            Some(list) => list.split(' ').collect(),
            None => self.audience.as_deref().into_iter().collect(),
        }
    }

    /// Every audience the client may obtain tokens for, with `server_default` for a
    /// client registered with none.
    pub fn audiences<'a>(&'a self, server_default: &'a str) -> Vec<&'a str> {
        let registered = self.registered_audiences();
        if registered.is_empty() {
            vec![server_default]
        } else {
            registered
        }
    }

    /// Whether the client may obtain a token for `audience` (exact match).
    pub fn allows_audience(&self, audience: &str, server_default: &str) -> bool {
        self.default_audience(server_default) == audience
            || self.audiences(server_default).contains(&audience)
    }

    pub fn allows_grant(&self, grant: GrantType) -> bool {
        self.grant_types.split(' ').any(|g| g == grant.as_str())
    }

    /// Stored sets were validated at registration; a row that no longer parses (edited
    /// by hand) grants nothing rather than failing open.
    pub fn allowed_scopes(&self) -> ScopeSet {
        ScopeSet::parse(&self.allowed_scopes).unwrap_or_default()
    }

    pub fn default_scopes(&self) -> ScopeSet {
        ScopeSet::parse(&self.default_scopes).unwrap_or_default()
    }

    /// How long after a refresh token is spent a retry of it is treated as a lost
    /// response rather than reuse (0: never).
    pub fn refresh_reuse_grace(&self) -> chrono::Duration {
        chrono::Duration::seconds(self.refresh_reuse_grace_secs.clamp(0, 300))
    }

    pub fn access_token_ttl(&self) -> Option<Duration> {
        self.access_token_ttl_secs
            .and_then(|secs| u64::try_from(secs).ok())
            .map(Duration::from_secs)
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RegistrationError {
    #[error("name must be 1 to {MAX_NAME_LEN} printable characters")]
    InvalidName,
    #[error("scope: {0}")]
    InvalidScope(ScopeError),
    #[error("a client needs at least one scope")]
    NoScope,
    #[error("scope '{0}' is not one of the configured scopes")]
    UnknownScope(String),
    #[error("default scope must be a subset of the client's scopes")]
    DefaultScopeNotAllowed,
    #[error("unknown grant type '{0}'; supported: authorization_code, client_credentials, refresh_token")]
    UnknownGrantType(String),
    #[error(
        "the refresh_token grant needs client_credentials or authorization_code too, to obtain the first refresh token"
    )]
    RefreshWithoutClientCredentials,
    #[error("redirect_uris: {0}")]
    InvalidRedirectUri(super::redirect_uri::RedirectUriError),
    #[error("at most {MAX_REDIRECT_URIS} redirect URIs")]
    TooManyRedirectUris,
    #[error("the authorization_code grant needs at least one redirect URI")]
    CodeWithoutRedirectUri,
    #[error("redirect URIs are only for the authorization_code grant")]
    RedirectUriWithoutCode,
    #[error("a public client (token_endpoint_auth_method none) acts only for a person: grant types authorization_code and refresh_token, not client_credentials")]
    PublicClientGrant,
    #[error("token_endpoint_auth_method cannot change to or from none (a public client has no secret): register a new client instead")]
    PublicChange,
    #[error("audience must be an absolute URI of at most {MAX_AUDIENCE_LEN} characters, without a fragment")]
    InvalidAudience,
    #[error("at most {MAX_AUDIENCES} audiences")]
    TooManyAudiences,
    #[error("the default audience must be one of the client's audiences")]
    DefaultAudienceNotAllowed,
    #[error("access token lifetime must be between {}s and {}s", MIN_ACCESS_TOKEN_TTL.as_secs(), .0.as_secs())]
    InvalidTokenTtl(Duration),
    #[error("refresh reuse grace must be at most {}s", MAX_REUSE_GRACE.as_secs())]
    InvalidReuseGrace,
    #[error("rate_limit_per_minute must be between 1 and 1000000")]
    InvalidRateLimit,
    #[error("token_endpoint_auth_method must be client_secret_basic, client_secret_post or none")]
    UnknownAuthMethod,
}

#[derive(Insertable)]
#[diesel(table_name = clients)]
pub struct NewClient {
    pub id: ClientId,
    pub org_id: OrgId,
    pub name: String,
    pub secret_hash: String,
    pub grant_types: String,
    pub allowed_scopes: String,
    pub default_scopes: String,
    pub audience: Option<String>,
    pub access_token_ttl_secs: Option<i64>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub refresh_reuse_grace_secs: i64,
    pub registration_token_hash: Option<String>,
    pub rate_limit_per_minute: Option<i64>,
    pub secret_hint: Option<String>,
    pub secret_expires_at: Option<NaiveDateTime>,
    pub token_endpoint_auth_method: Option<String>,
    pub audiences: Option<String>,
    pub redirect_uris: String,
}
