use actix_web::{HttpRequest, HttpResponse};

use super::{Credential, Principal};
use crate::error::ApiError;

/// Header in which a gateway may name the scope a route needs (or `?scope=`).
pub const REQUIRED_SCOPE_HEADER: &str = "x-keygate-required-scope";
/// The longest scope a gateway may ask for; a longer one is not a scope.
const MAX_REQUIRED_SCOPE_LEN: usize = 128;

/// GET /v1/me — any valid credential: the caller's resolved principal.
pub async fn get_me(who: Principal) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(who.view()))
}

/// Any method, /v1/forward-auth[?scope=S] — for gateways (nginx `auth_request`, Traefik
/// ForwardAuth, Envoy ext_authz) that pass on the original request's headers: the
/// credential is resolved (and rate limited) like any keygate request. 200 with
/// identity headers for the upstream, or 401/403/429 in the usual envelope with its
/// challenge. The scope a route needs comes from `?scope=` or the
/// `X-Keygate-Required-Scope` header, set by the gateway.
pub async fn forward_auth(req: HttpRequest, who: Principal) -> Result<HttpResponse, ApiError> {
    let from_query = web_query_scope(req.query_string());
    let from_header = req
        .headers()
        .get(REQUIRED_SCOPE_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    if let Some(required) = from_query.or(from_header) {
        let required = required.trim();
        let valid = !required.is_empty()
            && required.len() <= MAX_REQUIRED_SCOPE_LEN
            && crate::scope::ScopeSet::parse(required).is_ok_and(|s| s.iter().count() == 1);
        if !valid {
            return Err(ApiError::invalid_request(
                "the required scope must be one scope token",
                Some("scope"),
            ));
        }
        if !who.scopes.contains(required) {
            return Err(ApiError::InsufficientScope {
                required: required.to_owned(),
            });
        }
    }
    let mut response = HttpResponse::Ok();
    response
        .insert_header(("Cache-Control", "no-store"))
        .insert_header(("X-Keygate-Subject", who.subject.as_str()))
        .insert_header(("X-Keygate-Org", who.org_id.as_str()))
        .insert_header(("X-Keygate-Scopes", who.scopes.to_string()));
    match &who.credential {
        Credential::ApiKey { key_id } => {
            response
                .insert_header(("X-Keygate-Credential", "api_key"))
                .insert_header(("X-Keygate-Key-Id", key_id.as_str()));
        }
        Credential::AccessToken { client_id, .. } => {
            response
                .insert_header(("X-Keygate-Credential", "access_token"))
                .insert_header(("X-Keygate-Client-Id", client_id.as_str()));
        }
    }
    Ok(response.finish())
}

/// `scope` from a query string, percent-decoded.
fn web_query_scope(query: &str) -> Option<String> {
    url::form_urlencoded::parse(query.as_bytes())
        .find(|(name, _)| name == "scope")
        .map(|(_, value)| value.into_owned())
}
