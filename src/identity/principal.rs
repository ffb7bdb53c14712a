use std::future::Future;
use std::pin::Pin;

use actix_web::{web, FromRequest, HttpMessage, HttpRequest};
use chrono::{DateTime, Utc};
use serde::Serialize;

use super::resolver::{presented_credential, Audience, ResolveError, Resolver};
use crate::error::ApiError;
use crate::limits::RateLimits;
use crate::metrics::Metrics;
use crate::scope::ScopeSet;
use crate::store::Store;
use crate::usage::Metered;

/// The scopes keygate's own API asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    Read,
    Write,
    Admin,
    Webhook,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::Write => "write",
            Self::Admin => "admin",
            Self::Webhook => "webhook",
        }
    }
}

/// Which credential a principal presented.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Credential {
    AccessToken { client_id: String, jti: String },
    ApiKey { key_id: String },
}

/// Who is calling: the one identity every keygate API (and, through introspection and
/// forward-auth, every other service) works with, whether the caller presented a JWT
/// access token or an API key. Extract it in a handler to require a credential.
#[derive(Clone, Debug)]
pub struct Principal {
    /// The client id for an access token, the key id for an API key.
    pub subject: String,
    pub org_id: String,
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

    pub fn org(&self) -> &str {
        &self.org_id
    }

    /// `client:kgc_…` or `key:key_…`: how this principal is recorded as an actor.
    pub fn actor_label(&self) -> String {
        match &self.credential {
            Credential::AccessToken { client_id, .. } => format!("client:{client_id}"),
            Credential::ApiKey { key_id } => format!("key:{key_id}"),
        }
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
            org_id: &self.org_id,
            scopes: self.scopes.iter().collect(),
            credential_kind: kind,
            client_id,
            key_id,
            expires_at: self.expires_at,
        }
    }
}

/// Counts a resolved request: marks it for usage metering (`usage::meter_requests`,
/// 429s included) and checks its rate limits, leaving the allowance for the
/// `RateLimit-*` headers (`limits::rate_limit_headers`). Every path that admits a
/// principal goes through here.
pub async fn admit(req: &HttpRequest, who: &Principal) -> Result<(), ApiError> {
    req.extensions_mut().insert(Metered {
        subject_id: who.subject.as_str().into(),
        org_id: who.org_id.as_str().into(),
    });
    let Some(limits) = req.app_data::<web::Data<RateLimits>>() else {
        return Ok(());
    };
    let checked = limits
        .check_request(&who.subject, &who.org_id, &who.tier, who.rate_limit)
        .await;
    match checked {
        Some(Ok(allowance)) => {
            req.extensions_mut().insert(allowance);
            Ok(())
        }
        Some(Err(limited)) => Err(ApiError::RateLimited {
            limit: limited.limit,
            retry_after_secs: limited.retry_after_secs,
        }),
        None => Ok(()),
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

/// The extractor, for keygate's management API: access tokens for
/// `management_audience` only (see `resolve_request` for other audiences).
impl FromRequest for Principal {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move { resolve_request(&req, Audience::Management).await })
    }
}

/// Reads the credential from the headers (no I/O), resolves it on the blocking pool
/// (one database read) accepting access tokens for `audience`, then `admit`s it.
/// Every outcome is counted in the metrics.
pub async fn resolve_request(req: &HttpRequest, audience: Audience) -> Result<Principal, ApiError> {
    let presented = presented_credential(req.headers()).map(|p| p.into_owned());
    let kind = match &presented {
        Ok(crate::identity::Presented::ApiKey(_)) => "api_key",
        Ok(crate::identity::Presented::AccessToken(_)) => "access_token",
        Err(_) => "none",
    };
    let resolver = req.app_data::<web::Data<Resolver>>().cloned();
    let store = req.app_data::<web::Data<Store>>().cloned();
    let outcome = resolve_and_admit(req, presented, audience, resolver, store).await;
    if let Some(metrics) = req.app_data::<web::Data<Metrics>>() {
        let credential = match &outcome {
            Ok(who) => match who.credential {
                Credential::ApiKey { .. } => "api_key",
                Credential::AccessToken { .. } => "access_token",
            },
            Err(_) => kind,
        };
        let code = outcome.as_ref().map_or_else(ApiError::code, |_| "ok");
        metrics.resolved(credential, code);
    }
    outcome
}

/// The extractor's work: resolve on the blocking pool, then `admit`.
async fn resolve_and_admit(
    req: &HttpRequest,
    presented: Result<crate::identity::Presented<'static>, ResolveError>,
    audience: Audience,
    resolver: Option<web::Data<Resolver>>,
    store: Option<web::Data<Store>>,
) -> Result<Principal, ApiError> {
    let presented = presented?;
    let (Some(resolver), Some(store)) = (resolver, store) else {
        return Err(ApiError::Internal(
            "identity resolver not configured".into(),
        ));
    };
    let who = store
        .read(move |tx| {
            resolver
                .resolve(tx, &presented, &audience)
                .map_err(ResolveError::into_api_error)
        })
        .await?;
    admit(req, &who).await?;
    Ok(who)
}
