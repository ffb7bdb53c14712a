use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::audit::Diff;
use crate::config::MIN_ACCESS_TOKEN_TTL;
use crate::orgs::OrgId;
use crate::scope::{ScopeError, ScopeSet};
use crate::store::schema::clients;
use crate::tokens::TokenKind;

const MAX_NAME_LEN: usize = 200;
const MAX_AUDIENCE_LEN: usize = 512;
/// Audiences (resources) one client may be registered for.
pub const MAX_AUDIENCES: usize = 16;
/// A longer grace interval would leave a stolen refresh token usable for too long.
pub const MAX_REUSE_GRACE: Duration = Duration::from_secs(300);

/// A client's public identifier (`kgc_…`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ClientId(pub String);

impl ClientId {
    pub fn generate() -> Self {
        // v7: time-ordered, so listing by id lists by creation.
        Self(TokenKind::ClientId.with_suffix(uuid::Uuid::now_v7().simple()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The grants keygate serves; a client may use only those it was registered with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum GrantType {
    ClientCredentials,
    RefreshToken,
}

impl GrantType {
    pub const ALL: [GrantType; 2] = [GrantType::ClientCredentials, GrantType::RefreshToken];

    pub fn as_str(self) -> &'static str {
        match self {
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

/// How a client authenticates with its secret (RFC 7591 `token_endpoint_auth_method`,
/// RFC 6749 §2.3.1): in the `Authorization: Basic` header, or as `client_id` and
/// `client_secret` in the request body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthMethod {
    ClientSecretBasic,
    ClientSecretPost,
}

impl AuthMethod {
    pub const ALL: [AuthMethod; 2] = [AuthMethod::ClientSecretBasic, AuthMethod::ClientSecretPost];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::ClientSecretBasic => "client_secret_basic",
            Self::ClientSecretPost => "client_secret_post",
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
    pub id: String,
    pub org_id: String,
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
}

impl crate::audit::Audited for Client {
    fn org_id(&self) -> &str {
        &self.org_id
    }

    fn audited_id(&self) -> &str {
        &self.id
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

    /// What changed from `before` to this row, for the audit log: every changed
    /// setting. Never a secret or a hash: only the columns named here are compared.
    pub fn changes_from(&self, before: &Client) -> Diff {
        let utc = |at: Option<NaiveDateTime>| at.map(|t| t.and_utc());
        Diff::default()
            .field("name", &before.name, &self.name)
            .field("scope", &before.allowed_scopes, &self.allowed_scopes)
            .field(
                "default_scope",
                &before.default_scopes,
                &self.default_scopes,
            )
            .field("grant_types", &before.grant_types, &self.grant_types)
            .field("audience", &before.audience, &self.audience)
            .field("audiences", &before.audiences, &self.audiences)
            .field(
                "access_token_ttl_secs",
                &before.access_token_ttl_secs,
                &self.access_token_ttl_secs,
            )
            .field(
                "refresh_reuse_grace_secs",
                &before.refresh_reuse_grace_secs,
                &self.refresh_reuse_grace_secs,
            )
            .field(
                "rate_limit_per_minute",
                &before.rate_limit_per_minute,
                &self.rate_limit_per_minute,
            )
            .field(
                "token_endpoint_auth_method",
                &before.token_endpoint_auth_method,
                &self.token_endpoint_auth_method,
            )
            .field(
                "secret_expires_at",
                &utc(before.secret_expires_at),
                &utc(self.secret_expires_at),
            )
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
    /// registered method only, or either when none was registered.
    pub fn accepts_auth_method(&self, method: AuthMethod) -> bool {
        match self.auth_method() {
            None => true,
            Some(registered) => registered == Ok(method),
        }
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

impl ClientRegistration {
    /// The registration `client` stands for, to be changed and validated again.
    pub fn from_client(client: &Client) -> Self {
        Self {
            name: client.name.clone(),
            scope: client.allowed_scopes.clone(),
            default_scope: Some(client.default_scopes.clone()),
            grant_types: client.grant_types.split(' ').map(str::to_owned).collect(),
            audience: client.audience.clone(),
            // A list only beside the default: a client with one audience is edited
            // through `audience` alone.
            audiences: match client.registered_audiences() {
                list if list.len() > 1 => list.into_iter().map(str::to_owned).collect(),
                _ => Vec::new(),
            },
            access_token_ttl: client.access_token_ttl(),
            refresh_reuse_grace: u64::try_from(client.refresh_reuse_grace_secs)
                .ok()
                .map(Duration::from_secs),
            rate_limit_per_minute: client
                .rate_limit_per_minute
                .and_then(|n| u32::try_from(n).ok()),
            token_endpoint_auth_method: client.token_endpoint_auth_method.clone(),
        }
    }
}

/// What an operator asks for when registering a client.
#[derive(Clone, Debug, Default)]
pub struct ClientRegistration {
    pub name: String,
    /// Space-separated scopes the client may request.
    pub scope: String,
    /// Scopes granted when a request names none; all allowed scopes if `None`.
    pub default_scope: Option<String>,
    pub grant_types: Vec<String>,
    /// The default audience: `aud` when a token request names no resource; `None`:
    /// the first of `audiences`, else the server's `default_audience`.
    pub audience: Option<String>,
    /// Every audience (RFC 8707 resource) the client may obtain tokens for; must
    /// include `audience` when both are given. Empty: only the default.
    pub audiences: Vec<String>,
    pub access_token_ttl: Option<Duration>,
    /// Refresh-token reuse grace interval (0 to 5 minutes; default 0).
    pub refresh_reuse_grace: Option<Duration>,
    /// Requests per minute for this client alone (only tightens its tier's).
    pub rate_limit_per_minute: Option<u32>,
    /// `client_secret_basic` or `client_secret_post`: the only method then accepted
    /// (`None`: either).
    pub token_endpoint_auth_method: Option<String>,
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
    #[error("unknown grant type '{0}'; supported: client_credentials, refresh_token")]
    UnknownGrantType(String),
    #[error(
        "the refresh_token grant needs client_credentials too, to obtain the first refresh token"
    )]
    RefreshWithoutClientCredentials,
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
    #[error("token_endpoint_auth_method must be client_secret_basic or client_secret_post")]
    UnknownAuthMethod,
}

#[derive(Insertable)]
#[diesel(table_name = clients)]
pub struct NewClient {
    pub id: String,
    pub org_id: String,
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
}

/// The metadata columns an update rewrites (all of them: `None` clears).
#[derive(AsChangeset)]
#[diesel(table_name = clients, treat_none_as_null = true)]
pub struct ClientChanges {
    pub name: String,
    pub grant_types: String,
    pub allowed_scopes: String,
    pub default_scopes: String,
    pub audience: Option<String>,
    pub access_token_ttl_secs: Option<i64>,
    pub refresh_reuse_grace_secs: i64,
    pub rate_limit_per_minute: Option<i64>,
    pub token_endpoint_auth_method: Option<String>,
    pub audiences: Option<String>,
    pub updated_at: NaiveDateTime,
}

/// A registration whose metadata passed validation; hashing the secret is the only
/// step left before insert.
#[derive(Debug)]
pub struct ValidRegistration {
    name: String,
    org_id: OrgId,
    grant_types: Vec<GrantType>,
    allowed: ScopeSet,
    default: ScopeSet,
    audience: Option<String>,
    /// The stored list: `Some` only beside a default, with more than it.
    audiences: Option<String>,
    ttl: Option<Duration>,
    reuse_grace: Duration,
    rate_limit: Option<u32>,
    auth_method: Option<AuthMethod>,
}

impl ClientRegistration {
    /// Checks the metadata against the server's `known_scopes` and lifetime bound.
    pub fn validate(
        self,
        org_id: OrgId,
        known_scopes: &ScopeSet,
        max_ttl: Duration,
    ) -> Result<ValidRegistration, RegistrationError> {
        let name = self.name.trim().to_owned();
        if name.is_empty()
            || name.chars().count() > MAX_NAME_LEN
            || name.chars().any(char::is_control)
        {
            return Err(RegistrationError::InvalidName);
        }
        let allowed = ScopeSet::parse(&self.scope).map_err(RegistrationError::InvalidScope)?;
        if allowed.is_empty() {
            return Err(RegistrationError::NoScope);
        }
        if let Some(unknown) = allowed
            .iter()
            .find(|s| !known_scopes.iter().any(|k| k == *s))
        {
            return Err(RegistrationError::UnknownScope(unknown.to_owned()));
        }
        let default = match &self.default_scope {
            Some(text) => ScopeSet::parse(text).map_err(RegistrationError::InvalidScope)?,
            None => allowed.clone(),
        };
        if default.is_empty() {
            return Err(RegistrationError::NoScope);
        }
        if !default.is_subset_of(&allowed) {
            return Err(RegistrationError::DefaultScopeNotAllowed);
        }
        let mut grant_types = self
            .grant_types
            .iter()
            .map(|g| g.parse())
            .collect::<Result<Vec<GrantType>, _>>()?;
        if grant_types.is_empty() {
            grant_types.push(GrantType::ClientCredentials);
        }
        grant_types.sort();
        grant_types.dedup();
        if grant_types.contains(&GrantType::RefreshToken)
            && !grant_types.contains(&GrantType::ClientCredentials)
        {
            return Err(RegistrationError::RefreshWithoutClientCredentials);
        }
        let (audience, audiences) = validate_audiences(self.audience, self.audiences)?;
        if let Some(ttl) = self.access_token_ttl {
            if ttl < MIN_ACCESS_TOKEN_TTL || ttl > max_ttl {
                return Err(RegistrationError::InvalidTokenTtl(max_ttl));
            }
        }
        let reuse_grace = self.refresh_reuse_grace.unwrap_or_default();
        if reuse_grace > MAX_REUSE_GRACE {
            return Err(RegistrationError::InvalidReuseGrace);
        }
        if self
            .rate_limit_per_minute
            .is_some_and(|n| !(1..=1_000_000).contains(&n))
        {
            return Err(RegistrationError::InvalidRateLimit);
        }
        let auth_method = self
            .token_endpoint_auth_method
            .as_deref()
            .map(AuthMethod::from_str)
            .transpose()?;
        Ok(ValidRegistration {
            auth_method,
            rate_limit: self.rate_limit_per_minute,
            reuse_grace,
            name,
            org_id,
            grant_types,
            allowed,
            default,
            audience,
            audiences,
            ttl: self.access_token_ttl,
        })
    }
}

/// Whether `audience` may be an `aud` (and an RFC 8707 `resource`): an absolute URI
/// without a fragment (RFC 8707 §2), of bounded length, with no whitespace or control
/// character — url::Url accepts some (a NUL, say) that PostgreSQL cannot store, and
/// none belongs in an `aud` claim.
pub fn is_valid_audience(audience: &str) -> bool {
    audience.len() <= MAX_AUDIENCE_LEN
        && !audience
            .chars()
            .any(|c| c.is_whitespace() || c.is_control())
        && url::Url::parse(audience).is_ok_and(|url| url.fragment().is_none())
}

/// The default audience and the stored list of audiences: every one valid, the list
/// without repeats and bounded, the default in it (the first when none is named).
fn validate_audiences(
    default: Option<String>,
    listed: Vec<String>,
) -> Result<(Option<String>, Option<String>), RegistrationError> {
    if default.iter().chain(&listed).any(|a| !is_valid_audience(a)) {
        return Err(RegistrationError::InvalidAudience);
    }
    let mut audiences: Vec<String> = Vec::with_capacity(listed.len());
    for audience in listed {
        if !audiences.contains(&audience) {
            audiences.push(audience);
        }
    }
    if audiences.len() > MAX_AUDIENCES {
        return Err(RegistrationError::TooManyAudiences);
    }
    let default = match default {
        Some(default) if !audiences.is_empty() && !audiences.contains(&default) => {
            return Err(RegistrationError::DefaultAudienceNotAllowed)
        }
        Some(default) => Some(default),
        None => audiences.first().cloned(),
    };
    let stored = (audiences.len() > 1).then(|| audiences.join(" "));
    Ok((default, stored))
}

impl ValidRegistration {
    pub fn into_new_client(
        self,
        id: ClientId,
        secret_hash: String,
        now: NaiveDateTime,
    ) -> NewClient {
        let grant_types: Vec<&str> = self.grant_types.iter().map(|g| g.as_str()).collect();
        NewClient {
            id: id.0,
            org_id: self.org_id.0,
            name: self.name,
            secret_hash,
            grant_types: grant_types.join(" "),
            allowed_scopes: self.allowed.to_string(),
            default_scopes: self.default.to_string(),
            audience: self.audience,
            access_token_ttl_secs: self.ttl.and_then(|t| i64::try_from(t.as_secs()).ok()),
            created_at: now,
            updated_at: now,
            refresh_reuse_grace_secs: i64::try_from(self.reuse_grace.as_secs()).unwrap_or(0),
            registration_token_hash: None,
            rate_limit_per_minute: self.rate_limit.map(i64::from),
            secret_hint: None,
            secret_expires_at: None,
            token_endpoint_auth_method: self.auth_method.map(|m| m.as_str().to_owned()),
            audiences: self.audiences,
        }
    }

    /// The scopes the client may request.
    pub fn allowed_scopes(&self) -> &ScopeSet {
        &self.allowed
    }

    /// Every audience the client may obtain tokens for, as `Client::audiences`.
    pub fn audiences<'a>(&'a self, server_default: &'a str) -> Vec<&'a str> {
        match (&self.audiences, &self.audience) {
            (Some(list), _) => list.split(' ').collect(),
            (None, Some(default)) => vec![default.as_str()],
            (None, None) => vec![server_default],
        }
    }

    /// The columns to rewrite when this registration replaces a client's metadata.
    pub fn into_changes(self, now: NaiveDateTime) -> ClientChanges {
        let grant_types: Vec<&str> = self.grant_types.iter().map(|g| g.as_str()).collect();
        ClientChanges {
            name: self.name,
            grant_types: grant_types.join(" "),
            allowed_scopes: self.allowed.to_string(),
            default_scopes: self.default.to_string(),
            audience: self.audience,
            access_token_ttl_secs: self.ttl.and_then(|t| i64::try_from(t.as_secs()).ok()),
            refresh_reuse_grace_secs: i64::try_from(self.reuse_grace.as_secs()).unwrap_or(0),
            rate_limit_per_minute: self.rate_limit.map(i64::from),
            token_endpoint_auth_method: self.auth_method.map(|m| m.as_str().to_owned()),
            audiences: self.audiences,
            updated_at: now,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn registration() -> ClientRegistration {
        ClientRegistration {
            name: "billing".into(),
            scope: "read write".into(),
            ..Default::default()
        }
    }

    fn validate(r: ClientRegistration) -> Result<ValidRegistration, RegistrationError> {
        let known = ScopeSet::parse("read write admin webhook").unwrap();
        r.validate(OrgId("org_1".into()), &known, Duration::from_secs(3600))
    }

    #[test]
    fn defaults_to_client_credentials_and_all_scopes() {
        let valid = validate(registration()).unwrap();
        let new = valid.into_new_client(
            ClientId("kgc_1".into()),
            "h".into(),
            chrono::Utc::now().naive_utc(),
        );
        assert_eq!(new.grant_types, "client_credentials");
        assert_eq!(new.default_scopes, "read write");
    }

    #[test]
    fn audiences_are_stored_beside_their_default() {
        let now = chrono::Utc::now().naive_utc();
        let stored = |audience: Option<&str>, audiences: &[&str]| {
            let new = validate(ClientRegistration {
                audience: audience.map(str::to_owned),
                audiences: audiences.iter().map(|a| (*a).to_owned()).collect(),
                ..registration()
            })
            .unwrap()
            .into_new_client(ClientId("kgc_1".into()), "h".into(), now);
            (new.audience, new.audiences)
        };
        let (a, b) = ("https://a.example", "https://b.example");
        assert_eq!(stored(None, &[]), (None, None));
        assert_eq!(stored(Some(a), &[]), (Some(a.into()), None));
        assert_eq!(stored(None, &[a]), (Some(a.into()), None));
        assert_eq!(
            stored(None, &[b, a, b]),
            (Some(b.into()), Some(format!("{b} {a}")))
        );
        assert_eq!(
            stored(Some(a), &[b, a]),
            (Some(a.into()), Some(format!("{b} {a}")))
        );
    }

    #[test]
    fn rejects_bad_metadata() {
        let cases: Vec<(ClientRegistration, RegistrationError)> = vec![
            (
                ClientRegistration {
                    name: " ".into(),
                    ..registration()
                },
                RegistrationError::InvalidName,
            ),
            (
                ClientRegistration {
                    scope: "".into(),
                    ..registration()
                },
                RegistrationError::NoScope,
            ),
            (
                ClientRegistration {
                    scope: "read billing".into(),
                    ..registration()
                },
                RegistrationError::UnknownScope("billing".into()),
            ),
            (
                ClientRegistration {
                    default_scope: Some(" ".into()),
                    ..registration()
                },
                RegistrationError::NoScope,
            ),
            (
                ClientRegistration {
                    scope: "r\u{e9}ad".into(),
                    ..registration()
                },
                RegistrationError::InvalidScope(ScopeError::InvalidCharacter),
            ),
            (
                ClientRegistration {
                    default_scope: Some("admin".into()),
                    ..registration()
                },
                RegistrationError::DefaultScopeNotAllowed,
            ),
            (
                ClientRegistration {
                    grant_types: vec!["password".into()],
                    ..registration()
                },
                RegistrationError::UnknownGrantType("password".into()),
            ),
            (
                ClientRegistration {
                    grant_types: vec!["refresh_token".into()],
                    ..registration()
                },
                RegistrationError::RefreshWithoutClientCredentials,
            ),
            (
                ClientRegistration {
                    audience: Some("not a uri".into()),
                    ..registration()
                },
                RegistrationError::InvalidAudience,
            ),
            (
                ClientRegistration {
                    audiences: vec!["https://a.example".into(), "https://a.example#x".into()],
                    ..registration()
                },
                RegistrationError::InvalidAudience,
            ),
            (
                ClientRegistration {
                    audience: Some("https://b.example".into()),
                    audiences: vec!["https://a.example".into()],
                    ..registration()
                },
                RegistrationError::DefaultAudienceNotAllowed,
            ),
            (
                ClientRegistration {
                    audiences: (0..=MAX_AUDIENCES)
                        .map(|i| format!("https://{i}.example"))
                        .collect(),
                    ..registration()
                },
                RegistrationError::TooManyAudiences,
            ),
            (
                ClientRegistration {
                    access_token_ttl: Some(Duration::from_secs(5)),
                    ..registration()
                },
                RegistrationError::InvalidTokenTtl(Duration::from_secs(3600)),
            ),
            (
                ClientRegistration {
                    access_token_ttl: Some(Duration::from_secs(7200)),
                    ..registration()
                },
                RegistrationError::InvalidTokenTtl(Duration::from_secs(3600)),
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(validate(input).unwrap_err(), expected);
        }
    }
}
