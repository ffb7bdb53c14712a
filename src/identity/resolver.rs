//! From request headers to a `Principal`: which credential was presented (decided by
//! its form alone — an API key by its `kg_live_`/`kg_test_` prefix and checksum, a JWT
//! by its three segments; never by trying one and then the other), then its
//! verification.

use std::borrow::Cow;
use std::sync::Arc;

use actix_web::http::header::{HeaderMap, AUTHORIZATION};
use actix_web::web;
use chrono::{DateTime, Utc};

use super::principal::{Credential, Principal};
use crate::api_keys::{self, format, KeyState, LastUsed};
use crate::clients;
use crate::clock::Clock;
use crate::error::ApiError;
use crate::scope::ScopeSet;
use crate::secret::{ct_eq_str, digest};
use crate::store::{DbConn, StoreError, Tx};
use crate::tokens::verify::VerifyError;
use crate::tokens::{revoked, SigningKeys};

/// Longer header values are not credentials keygate issues.
const MAX_CREDENTIAL_LEN: usize = 8 * 1024;
pub const X_API_KEY: &str = "x-api-key";

/// A credential as presented, classified by form. `Debug` shows the kind only.
#[derive(Clone, PartialEq, Eq)]
pub enum Presented<'a> {
    ApiKey(Cow<'a, str>),
    AccessToken(Cow<'a, str>),
}

impl std::fmt::Debug for Presented<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::ApiKey(_) => "ApiKey([redacted])",
            Self::AccessToken(_) => "AccessToken([redacted])",
        })
    }
}

impl Presented<'_> {
    pub fn into_owned(self) -> Presented<'static> {
        match self {
            Self::ApiKey(k) => Presented::ApiKey(Cow::Owned(k.into_owned())),
            Self::AccessToken(t) => Presented::AccessToken(Cow::Owned(t.into_owned())),
        }
    }
}

/// Why no principal. `Debug` never shows a credential (none is held).
#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    #[error("no credentials: send Authorization: Bearer <token or API key>, or X-API-Key")]
    MissingCredentials,
    #[error("{0}")]
    InvalidFormat(&'static str),
    #[error("Authorization and X-API-Key carry different credentials")]
    ConflictingCredentials,
    #[error("{0}")]
    DuplicateHeader(&'static str),
    #[error("the API key is not valid")]
    InvalidApiKey,
    #[error("the API key has expired")]
    ExpiredApiKey { expired_at: DateTime<Utc> },
    #[error("the API key has been revoked")]
    RevokedApiKey,
    #[error("{0}")]
    InvalidToken(&'static str),
    #[error("the access token has expired")]
    ExpiredToken,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<diesel::result::Error> for ResolveError {
    fn from(error: diesel::result::Error) -> Self {
        Self::Store(error.into())
    }
}

impl ResolveError {
    pub fn into_api_error(self) -> ApiError {
        ApiError::from(self)
    }
}

impl From<ResolveError> for ApiError {
    fn from(error: ResolveError) -> Self {
        match error {
            ResolveError::MissingCredentials => Self::MissingCredentials,
            ResolveError::InvalidFormat(why) => Self::InvalidFormat(why),
            ResolveError::ConflictingCredentials => Self::invalid_request(
                "Authorization and X-API-Key carry different credentials; send one",
                None,
            ),
            ResolveError::DuplicateHeader(why) => Self::invalid_request(why, None),
            ResolveError::InvalidApiKey => Self::InvalidApiKey,
            ResolveError::ExpiredApiKey { expired_at } => Self::ExpiredApiKey { expired_at },
            ResolveError::RevokedApiKey => Self::RevokedApiKey,
            ResolveError::InvalidToken(why) => Self::InvalidToken(why),
            ResolveError::ExpiredToken => Self::ExpiredToken,
            ResolveError::Store(error) => error.into(),
        }
    }
}

/// Reads and classifies the credential in `Authorization: Bearer` and/or `X-API-Key`.
/// No I/O: malformed input is refused here, before any database read.
pub fn presented_credential(headers: &HeaderMap) -> Result<Presented<'_>, ResolveError> {
    let bearer = single_header(headers, AUTHORIZATION.as_str())?
        .map(bearer_token)
        .transpose()?;
    let api_key = single_header(headers, X_API_KEY)?
        .map(|value| header_text(value).map(str::trim))
        .transpose()?;
    let text = match (bearer, api_key) {
        (None, None) => return Err(ResolveError::MissingCredentials),
        (Some(a), Some(b)) if !ct_eq_str(a, b) => return Err(ResolveError::ConflictingCredentials),
        (Some(token), _) => token,
        (None, Some(key)) => {
            if !format::has_key_prefix(key) {
                return Err(ResolveError::InvalidFormat(
                    "X-API-Key takes an API key (kg_live_… or kg_test_…)",
                ));
            }
            key
        }
    };
    if text.len() > MAX_CREDENTIAL_LEN {
        return Err(ResolveError::InvalidFormat("the credential is too long"));
    }
    if format::has_key_prefix(text) {
        format::parse(text).map_err(|e| ResolveError::InvalidFormat(format_message(e)))?;
        return Ok(Presented::ApiKey(Cow::Borrowed(text)));
    }
    if text.split('.').count() == 3 {
        return Ok(Presented::AccessToken(Cow::Borrowed(text)));
    }
    Err(ResolveError::InvalidFormat(
        "the credential is neither an API key (kg_live_…) nor a JWT access token",
    ))
}

/// The token of `Authorization: Bearer <token>`, if the header is there; for
/// credentials that are neither API keys nor access tokens (RFC 7592's registration
/// access token).
pub fn bearer_credential(headers: &HeaderMap) -> Result<Option<&str>, ResolveError> {
    single_header(headers, AUTHORIZATION.as_str())?
        .map(bearer_token)
        .transpose()
}

fn format_message(error: format::FormatError) -> &'static str {
    match error {
        format::FormatError::Prefix => "an API key starts with kg_live_ or kg_test_",
        format::FormatError::Length => "the API key has the wrong length",
        format::FormatError::Alphabet => "the API key contains characters keys never have",
        format::FormatError::Checksum => {
            "the API key's checksum does not match: it was mistyped or truncated"
        }
    }
}

fn single_header<'h>(
    headers: &'h HeaderMap,
    name: &'static str,
) -> Result<Option<&'h actix_web::http::header::HeaderValue>, ResolveError> {
    let mut values = headers.get_all(name);
    let first = values.next();
    if values.next().is_some() {
        return Err(ResolveError::DuplicateHeader(if name == X_API_KEY {
            "more than one X-API-Key header"
        } else {
            "more than one Authorization header"
        }));
    }
    Ok(first)
}

fn header_text(value: &actix_web::http::header::HeaderValue) -> Result<&str, ResolveError> {
    value
        .to_str()
        .map_err(|_| ResolveError::InvalidFormat("the credential header is not visible ASCII"))
}

/// `Bearer <token>` (RFC 6750 §2.1; the scheme is case-insensitive, RFC 9110 §11.1).
/// Basic carries no credential keygate's API takes: that is `MissingCredentials`,
/// answered with a bare Bearer challenge (RFC 6750 §3.1). A credential sent with no
/// scheme, or under a scheme other providers document (`Token`, `ApiKey`), was sent
/// all the same: the answer says how to send it.
fn bearer_token(value: &actix_web::http::header::HeaderValue) -> Result<&str, ResolveError> {
    let text = header_text(value)?;
    let (scheme, token) = text.split_once(' ').unwrap_or((text, ""));
    if !scheme.eq_ignore_ascii_case("bearer") {
        if scheme.eq_ignore_ascii_case("basic") {
            return Err(ResolveError::MissingCredentials);
        }
        if token.is_empty() && (format::has_key_prefix(scheme) || scheme.split('.').count() == 3) {
            return Err(ResolveError::InvalidFormat(
                "the Authorization header has no scheme: send Authorization: Bearer <credential> (or an API key as X-API-Key: <key>)",
            ));
        }
        return Err(ResolveError::InvalidFormat(
            "the Authorization scheme is not Bearer: send Authorization: Bearer <credential> (or an API key as X-API-Key: <key>)",
        ));
    }
    let token = token.trim();
    // RFC 6750 b64token.
    let b64token = token
        .trim_end_matches('=')
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"-._~+/".contains(&b));
    if token.is_empty() || !b64token {
        return Err(ResolveError::InvalidFormat(
            "the Bearer credential is empty or contains characters credentials never have",
        ));
    }
    Ok(token)
}

/// Which access tokens a caller takes, by their `aud`. API keys carry no audience:
/// they are for the organization's own use of every API, keygate's included.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Audience {
    /// keygate's management API: `management_audience` only.
    Management,
    /// Any audience: `GET /v1/me` describes any live credential keygate issued.
    Any,
    /// Every one of these (forward-auth: what the gateway names for the route).
    All(Vec<String>),
}

/// What resolving needs besides a connection; built once at start-up.
pub struct Resolver {
    keys: web::Data<SigningKeys>,
    issuer: String,
    management_audience: String,
    /// What forward-auth checks when the gateway names no audience.
    default_audience: String,
    clock: Arc<dyn Clock>,
    last_used: LastUsed,
}

impl Resolver {
    pub fn new(
        keys: web::Data<SigningKeys>,
        issuer: String,
        management_audience: String,
        default_audience: String,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            keys,
            issuer,
            management_audience,
            default_audience,
            clock,
            last_used: LastUsed::default(),
        }
    }

    pub fn default_audience(&self) -> &str {
        &self.default_audience
    }

    pub fn resolve(
        &self,
        tx: &mut Tx<'_>,
        presented: &Presented<'_>,
        audience: &Audience,
    ) -> Result<Principal, ResolveError> {
        let now = self.clock.now();
        match presented {
            Presented::ApiKey(key) => self.resolve_api_key(tx, key, now),
            Presented::AccessToken(token) => self.resolve_access_token(tx, token, audience, now),
        }
    }

    fn audience_accepted(&self, aud: &str, audience: &Audience) -> bool {
        match audience {
            Audience::Management => ct_eq_str(aud, &self.management_audience),
            Audience::Any => true,
            Audience::All(required) => {
                !required.is_empty() && required.iter().all(|r| ct_eq_str(aud, r))
            }
        }
    }

    fn resolve_api_key(
        &self,
        tx: &mut Tx<'_>,
        key: &str,
        now: DateTime<Utc>,
    ) -> Result<Principal, ResolveError> {
        let hash = digest(key);
        let (row, tier) = api_keys::repo::find_by_hash_with_tier(tx, &hash)?
            // The index found it by equality; compare again in constant time so the
            // decision itself never depends on where two digests differ.
            .filter(|(row, _)| ct_eq_str(&row.key_hash, &hash))
            .ok_or(ResolveError::InvalidApiKey)?;
        // The secret matched: from here on the error may say what is wrong with it.
        match row.state(now.naive_utc()) {
            KeyState::Active => {}
            KeyState::Revoked(_) => return Err(ResolveError::RevokedApiKey),
            KeyState::Expired(at) => {
                return Err(ResolveError::ExpiredApiKey {
                    expired_at: at.and_utc(),
                })
            }
        }
        if self.last_used.claim(&row.id, now) {
            let uses = [(row.id.clone(), now.naive_utc())];
            if let Err(error) = tx.write(|tx| api_keys::repo::record_last_used(tx, &uses)) {
                // A missed last-used time is not worth refusing the request.
                tracing::warn!(key_id = %row.id, %error, "could not record last use");
            }
        }
        Ok(Principal {
            subject: row.id.clone(),
            scopes: row.scope_set(),
            credential: Credential::ApiKey {
                key_id: row.id.clone(),
            },
            expires_at: row.expires_at.map(|at| at.and_utc()),
            issued_at: Some(row.created_at.and_utc()),
            lifetime: row.expires_at.map(|at| at.and_utc()),
            tier,
            rate_limit: rate_limit(row.rate_limit_per_minute),
            org_id: row.org_id,
        })
    }

    fn resolve_access_token(
        &self,
        conn: &mut DbConn,
        token: &str,
        audience: &Audience,
        now: DateTime<Utc>,
    ) -> Result<Principal, ResolveError> {
        let claims = self
            .keys
            .current()
            .verify_access_token(token, &self.issuer, now)
            .map_err(|error| match error {
                // Said only once the signature has verified (see verify_access_token).
                VerifyError::Expired => ResolveError::ExpiredToken,
                VerifyError::Malformed => {
                    ResolveError::InvalidToken("the access token is malformed")
                }
                VerifyError::UnknownKey
                | VerifyError::AlgorithmMismatch
                | VerifyError::WrongType
                | VerifyError::Invalid
                | VerifyError::WrongIssuer
                | VerifyError::NotYetValid
                | VerifyError::UnsupportedExtension => {
                    ResolveError::InvalidToken("the access token is not valid")
                }
            })?;
        if !self.audience_accepted(&claims.aud, audience) {
            return Err(ResolveError::InvalidToken(
                "the access token was issued for another audience",
            ));
        }
        if revoked::is_revoked(conn, &claims.jti)? {
            return Err(ResolveError::InvalidToken(
                "the access token has been revoked",
            ));
        }
        // A disabled client's tokens stop at once here, not when they expire.
        let (client, tier) = clients::repo::find_with_tier(conn, &claims.client_id)?
            .filter(|(client, _)| !client.is_disabled() && client.org_id == claims.org)
            .ok_or(ResolveError::InvalidToken(
                "the client of this access token is disabled",
            ))?;
        let scopes = ScopeSet::parse(&claims.scope)
            .map_err(|_| ResolveError::InvalidToken("the access token is not valid"))?;
        Ok(Principal {
            subject: claims.sub,
            org_id: claims.org,
            scopes,
            credential: Credential::AccessToken {
                client_id: claims.client_id,
                jti: claims.jti,
            },
            expires_at: DateTime::from_timestamp(claims.exp, 0),
            issued_at: DateTime::from_timestamp(claims.iat, 0),
            lifetime: client.credential_lifetime().map(|at| at.and_utc()),
            tier,
            rate_limit: rate_limit(client.rate_limit_per_minute),
        })
    }
}

/// A stored override as the limiter takes it (positive, or none).
fn rate_limit(stored: Option<i64>) -> Option<u32> {
    stored
        .and_then(|n| u32::try_from(n).ok())
        .filter(|n| *n > 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::http::header::{HeaderName, HeaderValue};

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        map
    }

    fn key() -> String {
        format::generate(format::Environment::Live)
            .unwrap()
            .expose()
            .to_owned()
    }

    #[test]
    fn credentials_are_told_apart_by_form() {
        let key = key();
        let bearer = format!("Bearer {key}");
        assert!(matches!(
            presented_credential(&headers(&[("authorization", &bearer)])),
            Ok(Presented::ApiKey(_))
        ));
        assert!(matches!(
            presented_credential(&headers(&[("x-api-key", &key)])),
            Ok(Presented::ApiKey(_))
        ));
        assert!(matches!(
            presented_credential(&headers(&[("authorization", "bearer a.b.c")])),
            Ok(Presented::AccessToken(_))
        ));
        // The same key in both headers is one credential.
        assert!(
            presented_credential(&headers(&[("authorization", &bearer), ("x-api-key", &key)]))
                .is_ok()
        );
    }

    #[test]
    fn malformed_and_conflicting_credentials_are_refused_without_io() {
        let key = key();
        let mut typo = key.clone();
        typo.replace_range(20..21, if &key[20..21] == "A" { "B" } else { "A" });
        for (pairs, expected) in [
            (vec![], "MissingCredentials"),
            (
                vec![("authorization", "Basic Zm9vOmJhcg==")],
                "MissingCredentials",
            ),
            (vec![("authorization", "Token abc")], "InvalidFormat"),
            (vec![("authorization", "ApiKey abc")], "InvalidFormat"),
            (vec![("authorization", "a.b.c")], "InvalidFormat"),
            (vec![("authorization", "Bearer")], "InvalidFormat"),
            (
                vec![("authorization", "Bearer not-a-token")],
                "InvalidFormat",
            ),
            (vec![("x-api-key", "a.b.c")], "InvalidFormat"),
            (vec![("x-api-key", typo.as_str())], "InvalidFormat"),
            (
                vec![
                    ("authorization", "Bearer a.b.c"),
                    ("x-api-key", key.as_str()),
                ],
                "ConflictingCredentials",
            ),
            (
                vec![("x-api-key", key.as_str()), ("x-api-key", key.as_str())],
                "DuplicateHeader",
            ),
        ] {
            let error = presented_credential(&headers(&pairs)).unwrap_err();
            assert!(
                format!("{error:?}").starts_with(expected),
                "{pairs:?}: {error:?}"
            );
        }
        let long = format!("Bearer {}.b.c", "a".repeat(MAX_CREDENTIAL_LEN));
        assert!(matches!(
            presented_credential(&headers(&[("authorization", &long)])),
            Err(ResolveError::InvalidFormat(_))
        ));
    }
}
