//! Who is calling: the `Principal` every keygate API works with, the credential it
//! presented, the scopes keygate's own API asks for, and its `GET /v1/me` view.
//! Building one is the resolver's; extracting one from a request is `extract`'s.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::authority::Actor;
use crate::audit::Source;
use crate::error::ApiError;
use crate::ids::{ApiKeyId, ClientId, OrgId};
use crate::scope::{Scope, ScopeSet};

/// Which credential a principal presented.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Credential {
    AccessToken { client_id: ClientId, jti: String },
    ApiKey { key_id: ApiKeyId },
}

/// Who is calling: the one identity every keygate API (and, through introspection and
/// forward-auth, every other service) works with, whether the caller presented a JWT
/// access token or an API key. Extract it in a handler to require a credential.
#[derive(Clone, Debug)]
pub struct Principal {
    /// The client id for an access token, the key id for an API key.
    pub subject: String,
    pub org_id: OrgId,
    pub scopes: ScopeSet,
    pub credential: Credential,
    pub expires_at: Option<DateTime<Utc>>,
    /// When the credential was issued: an API key's creation, a token's `iat`.
    pub issued_at: Option<DateTime<Utc>>,
    /// The latest a credential this principal mints may live (`None`: no limit): an
    /// API key's own expiry; for an access token, its client's secret's — not the
    /// token's few minutes, which the client can renew while its secret lives.
    pub lifetime: Option<DateTime<Utc>>,
    /// The organization's tier, for rate limits.
    pub tier: String,
    /// The credential's own requests-per-minute limit, if it has one.
    pub rate_limit: Option<u32>,
}

impl Principal {
    /// Refuses with 403 `insufficient_scope` unless the principal holds `scope`.
    pub fn require(&self, scope: Scope) -> Result<(), ApiError> {
        if self.scopes.contains(scope.as_str()) {
            Ok(())
        } else {
            Err(ApiError::InsufficientScope {
                required: scope.as_str().to_owned(),
            })
        }
    }

    pub fn org(&self) -> &OrgId {
        &self.org_id
    }

    /// `client:kgc_…` or `key:key_…`: how this principal is recorded as an actor.
    pub fn actor_label(&self) -> String {
        match &self.credential {
            Credential::AccessToken { client_id, .. } => format!("client:{client_id}"),
            Credential::ApiKey { key_id } => format!("key:{key_id}"),
        }
    }

    /// This principal as the actor of a change it asks for from `source`: bounded by
    /// its scopes, its credential's lifetime and its rate limit.
    pub fn actor(&self, source: Source) -> Actor {
        Actor::bounded(
            self.actor_label(),
            source,
            &self.org_id,
            self.scopes.clone(),
            self.lifetime,
            self.rate_limit,
        )
    }

    pub fn view(&self) -> PrincipalView<'_> {
        let (kind, client_id, key_id) = match &self.credential {
            Credential::AccessToken { client_id, .. } => {
                ("access_token", Some(client_id.as_str()), None)
            }
            Credential::ApiKey { key_id } => ("api_key", None, Some(key_id.as_str())),
        };
        PrincipalView {
            subject: &self.subject,
            org_id: self.org_id.as_str(),
            scopes: self.scopes.iter().collect(),
            credential_kind: kind,
            client_id,
            key_id,
            expires_at: self.expires_at,
        }
    }
}

/// `GET /v1/me`'s body.
#[derive(Serialize, utoipa::ToSchema)]
pub struct PrincipalView<'a> {
    pub subject: &'a str,
    pub org_id: &'a str,
    pub scopes: Vec<&'a str>,
    pub credential_kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_id: Option<&'a str>,
    pub expires_at: Option<DateTime<Utc>>,
}
