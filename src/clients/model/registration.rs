//! What a client is registered with — `ClientRegistration`, as an operator, an admin
//! credential or RFC 7591 metadata asks for it — and its validation against the
//! server's scopes and bounds into a `ValidRegistration`, the one form the rows are
//! written from (`NewClient` on registration, `ClientChanges` on an update).

use std::str::FromStr;
use std::time::Duration;

use chrono::NaiveDateTime;

use super::changes::ClientChanges;
use super::{AuthMethod, GrantType, NewClient, RegistrationError};
use crate::config::MIN_ACCESS_TOKEN_TTL;
use crate::ids::ClientId;
use crate::ids::OrgId;
use crate::scope::ScopeSet;

pub(super) const MAX_NAME_LEN: usize = 200;
pub(super) const MAX_AUDIENCE_LEN: usize = 512;
/// Audiences (resources) one client may be registered for.
pub const MAX_AUDIENCES: usize = 16;
/// Redirect URIs one client may register.
pub const MAX_REDIRECT_URIS: usize = 16;
/// A longer grace interval would leave a stolen refresh token usable for too long.
pub const MAX_REUSE_GRACE: Duration = Duration::from_secs(300);

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
    /// `client_secret_basic`, `client_secret_post` or `none` (a public client, with
    /// no secret): the only method then accepted (`None`: either secret method).
    pub token_endpoint_auth_method: Option<String>,
    /// Where the authorization endpoint may send a person back with a code
    /// (`clients::redirect_uri`); required with the authorization_code grant.
    pub redirect_uris: Vec<String>,
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
    redirect_uris: Vec<String>,
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
            && !grant_types.contains(&GrantType::AuthorizationCode)
        {
            return Err(RegistrationError::RefreshWithoutClientCredentials);
        }
        let redirect_uris = validate_redirect_uris(self.redirect_uris, &grant_types)?;
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
        if auth_method == Some(AuthMethod::None)
            && (grant_types.contains(&GrantType::ClientCredentials)
                || !grant_types.contains(&GrantType::AuthorizationCode))
        {
            return Err(RegistrationError::PublicClientGrant);
        }
        Ok(ValidRegistration {
            auth_method,
            redirect_uris,
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

/// The redirect URIs, each valid (`redirect_uri::validate`), without repeats and
/// bounded: at least one with the authorization_code grant, none without it.
fn validate_redirect_uris(
    listed: Vec<String>,
    grant_types: &[GrantType],
) -> Result<Vec<String>, RegistrationError> {
    let mut uris: Vec<String> = Vec::with_capacity(listed.len());
    for uri in listed {
        crate::clients::redirect_uri::validate(&uri)
            .map_err(RegistrationError::InvalidRedirectUri)?;
        if !uris.contains(&uri) {
            uris.push(uri);
        }
    }
    if uris.len() > MAX_REDIRECT_URIS {
        return Err(RegistrationError::TooManyRedirectUris);
    }
    match (
        grant_types.contains(&GrantType::AuthorizationCode),
        uris.is_empty(),
    ) {
        (true, true) => Err(RegistrationError::CodeWithoutRedirectUri),
        (false, false) => Err(RegistrationError::RedirectUriWithoutCode),
        _ => Ok(uris),
    }
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
            id,
            org_id: self.org_id,
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
            redirect_uris: self.redirect_uris.join(" "),
        }
    }

    /// Whether the client is public (`none`): it gets no secret.
    pub fn is_public(&self) -> bool {
        self.auth_method == Some(AuthMethod::None)
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
            redirect_uris: self.redirect_uris.join(" "),
            updated_at: now,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scope::ScopeError;

    fn registration() -> ClientRegistration {
        ClientRegistration {
            name: "billing".into(),
            scope: "read write".into(),
            ..Default::default()
        }
    }

    fn validate(r: ClientRegistration) -> Result<ValidRegistration, RegistrationError> {
        let known = ScopeSet::parse("read write admin webhook").unwrap();
        r.validate(OrgId::from("org_1"), &known, Duration::from_secs(3600))
    }

    #[test]
    fn defaults_to_client_credentials_and_all_scopes() {
        let valid = validate(registration()).unwrap();
        let new = valid.into_new_client(
            ClientId::from("kgc_1"),
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
            .into_new_client(ClientId::from("kgc_1"), "h".into(), now);
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
    fn a_public_client_acts_for_people_with_redirect_uris() {
        let valid = validate(ClientRegistration {
            grant_types: vec!["refresh_token".into(), "authorization_code".into()],
            redirect_uris: vec![
                "http://127.0.0.1/callback".into(),
                "com.example.app:/cb".into(),
                "http://127.0.0.1/callback".into(),
            ],
            token_endpoint_auth_method: Some("none".into()),
            ..registration()
        })
        .unwrap();
        assert!(valid.is_public());
        let new = valid.into_new_client(
            ClientId::from("kgc_1"),
            String::new(),
            chrono::Utc::now().naive_utc(),
        );
        assert_eq!(new.grant_types, "authorization_code refresh_token");
        assert_eq!(
            new.redirect_uris,
            "http://127.0.0.1/callback com.example.app:/cb"
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
                    grant_types: vec!["authorization_code".into()],
                    ..registration()
                },
                RegistrationError::CodeWithoutRedirectUri,
            ),
            (
                ClientRegistration {
                    redirect_uris: vec!["https://app.example/cb".into()],
                    ..registration()
                },
                RegistrationError::RedirectUriWithoutCode,
            ),
            (
                ClientRegistration {
                    grant_types: vec!["authorization_code".into()],
                    redirect_uris: vec!["http://app.example/cb".into()],
                    ..registration()
                },
                RegistrationError::InvalidRedirectUri(
                    crate::clients::redirect_uri::RedirectUriError::PlainHttp,
                ),
            ),
            (
                ClientRegistration {
                    grant_types: vec!["authorization_code".into()],
                    redirect_uris: (0..=MAX_REDIRECT_URIS)
                        .map(|i| format!("https://app.example/{i}"))
                        .collect(),
                    ..registration()
                },
                RegistrationError::TooManyRedirectUris,
            ),
            (
                ClientRegistration {
                    grant_types: vec!["client_credentials".into()],
                    token_endpoint_auth_method: Some("none".into()),
                    ..registration()
                },
                RegistrationError::PublicClientGrant,
            ),
            (
                ClientRegistration {
                    grant_types: vec!["authorization_code".into(), "client_credentials".into()],
                    redirect_uris: vec!["http://127.0.0.1/cb".into()],
                    token_endpoint_auth_method: Some("none".into()),
                    ..registration()
                },
                RegistrationError::PublicClientGrant,
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
