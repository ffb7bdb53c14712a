//! The `Principal` extractor and what every path that admits a principal shares:
//! read the credential from the headers (no I/O), resolve it on the blocking pool,
//! then `admit` it (usage metering and rate limits), counting every outcome.

use std::future::Future;
use std::pin::Pin;

use actix_web::{web, FromRequest, HttpMessage, HttpRequest};

use super::access_token::Audience;
use super::error::ResolveError;
use super::presented::{presented_credential, Presented};
use super::principal::{Credential, Principal};
use super::resolver::Resolver;
use crate::error::ApiError;
use crate::limits::{Limited, RateLimits};
use crate::metrics::Metrics;
use crate::store::Store;
use crate::usage::Metered;

/// Counts a resolved request: marks it for usage metering (`usage::meter_requests`,
/// 429s included) and checks its rate limits, leaving the allowance for the
/// `RateLimit-*` headers (`limits::rate_limit_headers`). Every path that admits a
/// principal goes through here.
pub async fn admit(req: &HttpRequest, who: &Principal) -> Result<(), Limited> {
    req.extensions_mut().insert(Metered {
        subject_id: who.subject.as_str().into(),
        org_id: who.org_id.as_str().into(),
    });
    let Some(limits) = req.app_data::<web::Data<RateLimits>>() else {
        return Ok(());
    };
    let checked = limits
        .check_request(&who.subject, who.org_id.as_str(), &who.tier, who.rate_limit)
        .await;
    match checked {
        Some(Ok(allowance)) => {
            req.extensions_mut().insert(allowance);
            Ok(())
        }
        Some(Err(limited)) => Err(limited),
        None => Ok(()),
    }
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
        Ok(Presented::ApiKey(_)) => "api_key",
        Ok(Presented::AccessToken(_)) => "access_token",
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
    presented: Result<Presented<'static>, ResolveError>,
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
                .map_err(ApiError::from)
        })
        .await?;
    admit(req, &who).await?;
    Ok(who)
}
