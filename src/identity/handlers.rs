use actix_web::http::header::HeaderMap;
use actix_web::{web, HttpRequest, HttpResponse};

use super::extract::resolve_request;
use super::{Audience, Credential, Resolver};
use crate::error::ApiError;
use crate::oauth::resource_metadata::ProtectedResources;
use crate::scope::ScopeSet;

/// Header in which a gateway names the scopes a route needs (or `?scope=`).
pub const REQUIRED_SCOPE_HEADER: &str = "x-keygate-required-scope";
/// Header in which a gateway names the audience a route's access tokens must carry
/// (or `?audience=`); without one, `default_audience`.
pub const REQUIRED_AUDIENCE_HEADER: &str = "x-keygate-required-audience";
/// The longest requirement a gateway may name; a longer one is not a requirement.
const MAX_REQUIREMENT_LEN: usize = 1024;
/// More requirements than this in one check request is not a configuration.
const MAX_REQUIREMENTS: usize = 16;

/// The routes of `/v1/me` and `/v1/forward-auth`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(crate::routes::Endpoint::new("/v1/me").get(get_me))
        // Any method, by design: a gateway checks whatever its client sent.
        .route("/v1/forward-auth", web::route().to(forward_auth))
        // Envoy's ext_authz appends the original path to its `path_prefix`.
        .route(
            "/v1/forward-auth/{original_path:.*}",
            web::route().to(forward_auth),
        );
}

/// GET /v1/me — any live credential keygate issued, whatever its audience: the
/// caller's resolved principal (read-only, about the caller itself).

#[utoipa::path(
    get,
    path = "/v1/me",
    tag = "identity",
    responses(
        (status = 200, description = "The caller's principal", body = super::principal::PrincipalView),
        crate::openapi::responses::ResolverErrors,
    ),
    security(("bearer" = []), ("apiKey" = []))
)]
pub async fn get_me(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let who = resolve_request(&req, Audience::Any).await?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(who.view()))
}

/// What a forward-auth check request requires: every scope and audience named in
/// the query (`scope`, `audience`, each repeatable) and in the
/// `X-Keygate-Required-Scope` / `X-Keygate-Required-Audience` headers (repeatable;
/// a scope value may list several, space-separated). Requirements only add up: the
/// gateway sets its own in the part of the check request it controls, and nothing the
/// client adds elsewhere can remove or replace them.
#[derive(Debug, Default, PartialEq, Eq)]
struct Requirements {
    scopes: Vec<String>,
    audiences: Vec<String>,
}

/// A requirement that cannot be read: the gateway is misconfigured (or the client
/// added junk). Never read as "no requirement".
#[derive(Debug, PartialEq, Eq)]
struct MalformedRequirement(&'static str);

fn requirements(query: &str, headers: &HeaderMap) -> Result<Requirements, MalformedRequirement> {
    let mut named = Requirements::default();
    let mut add = |kind: &str, value: &str| -> Result<(), MalformedRequirement> {
        let value = value.trim();
        if value.is_empty() || value.len() > MAX_REQUIREMENT_LEN {
            return Err(MalformedRequirement(
                "a required scope or audience is empty or too long",
            ));
        }
        if kind == "scope" {
            let scopes = ScopeSet::parse(value)
                .map_err(|_| MalformedRequirement("a required scope is not a scope"))?;
            named.scopes.extend(scopes.iter().map(str::to_owned));
        } else {
            if value.bytes().any(|b| !b.is_ascii_graphic()) {
                return Err(MalformedRequirement("a required audience is not a URI"));
            }
            named.audiences.push(value.to_owned());
        }
        if named.scopes.len() + named.audiences.len() > MAX_REQUIREMENTS {
            return Err(MalformedRequirement("too many requirements"));
        }
        Ok(())
    };
    for (name, value) in url::form_urlencoded::parse(query.as_bytes()) {
        match &*name {
            "scope" => add("scope", &value)?,
            "audience" => add("audience", &value)?,
            _ => {}
        }
    }
    for (header, kind) in [
        (REQUIRED_SCOPE_HEADER, "scope"),
        (REQUIRED_AUDIENCE_HEADER, "audience"),
    ] {
        for value in headers.get_all(header) {
            let value = value
                .to_str()
                .map_err(|_| MalformedRequirement("a requirement header is not visible ASCII"))?;
            add(kind, value)?;
        }
    }
    named.scopes.sort();
    named.scopes.dedup();
    named.audiences.sort();
    named.audiences.dedup();
    Ok(named)
}

/// Header carrying a refusal's JSON body on forward-auth refusals, for gateways that
/// keep the body of an authorization check from the client (nginx `auth_request`):
/// the gateway can answer with keygate's own body (see the README's nginx set-up).
pub const ERROR_BODY_HEADER: &str = "x-keygate-error";

/// Any method, `/v1/forward-auth[?scope=S][&audience=A]` — for gateways (nginx
/// `auth_request`, Traefik ForwardAuth, Envoy ext_authz) that pass on the original
/// request's headers: the credential is resolved (and rate limited) like any keygate
/// request. 200 with identity headers for the upstream, or 401/403/429 in the usual
/// envelope with its challenge (a 401's also naming the RFC 9728 metadata of the
/// resource checked, see `ProtectedResources::metadata_url`). Access tokens must
/// carry every audience the check names (`default_audience` when it names none); the
/// credential must hold every scope it names. See `requirements` for where they come
/// from.
#[utoipa::path(
    get,
    path = "/v1/forward-auth",
    tag = "identity",
    description = "Any method is accepted (and `/v1/forward-auth/{original_path}`, for Envoy); GET is described. Requirements: `scope` and `audience` in the query (repeatable) and the `X-Keygate-Required-Scope` / `X-Keygate-Required-Audience` headers; they only add up. Refusals carry their JSON body in `X-Keygate-Error` too; a 401's challenge names the RFC 9728 `resource_metadata` of the audience checked.",
    params(
        ("scope" = Option<String>, Query, description = "Scopes the credential must hold, space-separated (repeatable). An empty or malformed one is refused (400), never read as none", pattern = r"^[\x21\x23-\x5B\x5D-\x7E]+( [\x21\x23-\x5B\x5D-\x7E]+)*$", max_length = 1024),
        ("audience" = Option<String>, Query, description = "An audience access tokens must carry (repeatable); default: default_audience", pattern = r"^[\x21-\x7E]+$", max_length = 1024),
        ("X-Keygate-Required-Scope" = Option<String>, Header, description = "As `scope`, set by the gateway", pattern = r"^[\x21\x23-\x5B\x5D-\x7E]+( +[\x21\x23-\x5B\x5D-\x7E]+)*$", max_length = 1024),
        ("X-Keygate-Required-Audience" = Option<String>, Header, description = "As `audience`, set by the gateway", pattern = r"^[\x21-\x7E]+$", max_length = 1024),
    ),
    responses(
        (status = 200, description = "The credential resolved; identity headers for the upstream (each present, empty where it does not apply)", headers(
            ("X-Keygate-Subject" = String, description = "Client id or key id"),
            ("X-Keygate-Org" = String, description = "Organization id"),
            ("X-Keygate-Scopes" = String, description = "Space-separated scopes"),
            ("X-Keygate-Credential" = String, description = "api_key or access_token"),
            ("X-Keygate-Key-Id" = String, description = "The API key's id, or empty"),
            ("X-Keygate-Client-Id" = String, description = "The access token's client, or empty"),
        )),
        crate::openapi::responses::ResolverErrors,
    ),
    security(("bearer" = []), ("apiKey" = []))
)]
pub async fn forward_auth(
    req: HttpRequest,
    resolver: web::Data<Resolver>,
    resources: web::Data<ProtectedResources>,
) -> HttpResponse {
    let required = match requirements(req.query_string(), req.headers()) {
        Ok(required) => required,
        Err(why) => {
            tracing::warn!(
                reason = why.0,
                "forward-auth check with a malformed requirement: refused"
            );
            return refusal(&ApiError::invalid_request(why.0, Some("scope")), None);
        }
    };
    let audiences = if required.audiences.is_empty() {
        vec![resolver.default_audience().to_owned()]
    } else {
        required.audiences
    };
    // RFC 9728 §5.1: a 401 names the metadata of the resource this route's tokens
    // are for, so a client learns where to get one.
    let metadata = resources.metadata_url(&audiences);
    match check_forward_auth(&req, &required.scopes, audiences).await {
        Ok(response) => response,
        Err(error) => refusal(&error, Some(&metadata)),
    }
}

/// A refusal's response, its JSON body also in `ERROR_BODY_HEADER`.
fn refusal(error: &ApiError, resource_metadata: Option<&str>) -> HttpResponse {
    let mut response = error.response_naming_metadata(resource_metadata);
    if let Ok(body) = actix_web::http::header::HeaderValue::from_str(&error.envelope()) {
        response.headers_mut().insert(
            actix_web::http::header::HeaderName::from_static(ERROR_BODY_HEADER),
            body,
        );
    }
    response
}

async fn check_forward_auth(
    req: &HttpRequest,
    scopes: &[String],
    audiences: Vec<String>,
) -> Result<HttpResponse, ApiError> {
    let who = resolve_request(req, Audience::All(audiences)).await?;
    if let Some(missing) = scopes.iter().find(|s| !who.scopes.contains(s)) {
        return Err(ApiError::InsufficientScope {
            required: missing.clone(),
        });
    }
    // Every identity header on every answer, empty where it does not apply: a gateway
    // that copies them onto the upstream request (Envoy adds, never removes) then
    // overwrites whatever a client sent under the same names.
    let (kind, key_id, client_id) = match &who.credential {
        Credential::ApiKey { key_id } => ("api_key", key_id.as_str(), ""),
        Credential::AccessToken { client_id, .. } => ("access_token", "", client_id.as_str()),
    };
    let mut response = HttpResponse::Ok();
    response
        .insert_header(("Cache-Control", "no-store"))
        .insert_header(("X-Keygate-Subject", who.subject.as_str()))
        .insert_header(("X-Keygate-Org", who.org_id.as_str()))
        .insert_header(("X-Keygate-Scopes", who.scopes.to_string()))
        .insert_header(("X-Keygate-Credential", kind))
        .insert_header(("X-Keygate-Key-Id", key_id))
        .insert_header(("X-Keygate-Client-Id", client_id));
    Ok(response.finish())
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::http::header::{HeaderName, HeaderValue};

    fn headers(pairs: &[(&str, &[u8])]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_bytes(value).unwrap(),
            );
        }
        map
    }

    #[test]
    fn every_named_requirement_applies() {
        let named = requirements(
            "scope=read&scope=admin&audience=https%3A%2F%2Fapi",
            &headers(&[
                (REQUIRED_SCOPE_HEADER, b"write webhook"),
                (REQUIRED_SCOPE_HEADER, b"read"),
                (REQUIRED_AUDIENCE_HEADER, b"https://other"),
            ]),
        )
        .unwrap();
        assert_eq!(named.scopes, ["admin", "read", "webhook", "write"]);
        assert_eq!(named.audiences, ["https://api", "https://other"]);
    }

    #[test]
    fn a_malformed_requirement_is_never_no_requirement() {
        for (query, pairs) in [
            ("scope=", vec![]),
            ("scope=%22", vec![]),
            ("audience=", vec![]),
            ("", vec![(REQUIRED_SCOPE_HEADER, "admin\u{e9}".as_bytes())]),
            ("", vec![(REQUIRED_SCOPE_HEADER, b" ".as_slice())]),
            ("", vec![(REQUIRED_AUDIENCE_HEADER, b"a b".as_slice())]),
        ] {
            assert!(
                requirements(query, &headers(&pairs)).is_err(),
                "{query:?} {pairs:?}"
            );
        }
        let many = vec!["scope=a"; MAX_REQUIREMENTS + 1].join("&");
        let many = many
            .split('&')
            .enumerate()
            .map(|(n, _)| format!("scope=s{n}"))
            .collect::<Vec<_>>()
            .join("&");
        assert!(requirements(&many, &HeaderMap::new()).is_err());
    }
}
