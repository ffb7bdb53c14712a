//! The OAuth endpoints' handlers: the token endpoint (RFC 6749), revocation (RFC 7009),
//! introspection (RFC 7662) and the RFC 8414 metadata document, and the routes of
//! every `/oauth/*` endpoint and metadata document (registration's handlers are
//! `registration`'s, the RFC 9728 documents' `resource_metadata`'s).

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Serialize;

use super::error::OAuthError;
use super::grant;
use super::registration;
use super::request::{TokenActionRequest, TokenRequest};
use super::response::uncached;
use super::state::OAuthState;
use super::{client_auth, introspection, resource_metadata, revocation};
use crate::audit::Source;
use crate::clients::Client;
use crate::config::Settings;
use crate::identity::Resolver;
use crate::metrics::Metrics;
use crate::routes::Endpoint;
use crate::secret::Secret;
use crate::store::Store;
use crate::usage::Meter;

/// RFC 6749 §5.1's successful token response.
#[derive(Serialize, utoipa::ToSchema)]
struct TokenResponse<'a> {
    /// A JWT (RFC 9068).
    access_token: &'a str,
    /// Always `Bearer`.
    #[schema(example = "Bearer")]
    token_type: &'static str,
    /// Seconds.
    expires_in: i64,
    scope: &'a str,
    /// Only for clients registered with the refresh_token grant.
    #[serde(skip_serializing_if = "Option::is_none")]
    refresh_token: Option<&'a str>,
}

// The request and response bodies below are parsed or built by hand (see
// `request` and `introspection`: RFC 6749 asks more of a form than a derive gives);
// these types are their schemas. Each request body is one schema for both content
// types: the form (`application/x-www-form-urlencoded`, RFC 6749) and keygate's JSON
// extension (`application/json`, one object of string parameters), which `request`
// holds to the same rules.

/// RFC 8707 §2 `resource`: one URI, or (repeated in the form, an array in JSON) the
/// same URI more than once; two different ones are `invalid_target`, as keygate's
/// tokens carry one `aud`.
fn resource_param() -> utoipa::openapi::Schema {
    use utoipa::openapi::schema::{ArrayBuilder, OneOfBuilder};
    OneOfBuilder::new()
        .item(crate::openapi::schemas::audience_or_empty())
        .item(
            ArrayBuilder::new()
                .items(crate::openapi::schemas::audience_or_empty())
                .max_items(Some(32)),
        )
        .description(Some(
            "RFC 8707 resource indicator: the audience the token is for (one of the client's \
             registered audiences; omitted: its default). Repeating it is allowed only with \
             the same value.",
        ))
        .build()
        .into()
}

/// Auth0's `audience`, a synonym of one `resource` (both given: the same value).
fn audience_param() -> utoipa::openapi::Object {
    let mut schema = crate::openapi::schemas::audience_or_empty();
    schema.description = Some("Auth0's name for resource: the same rules".to_owned());
    schema
}

/// A token request, as `TokenRequest::parse` reads it, form-encoded or as JSON. Each
/// parameter at most once (but `resource`); an empty one counts as absent. Client
/// authentication: HTTP Basic (`client_secret_basic`) or `client_id` and
/// `client_secret` here (`client_secret_post`), exactly one of them.
#[derive(serde::Deserialize, utoipa::ToSchema)]
#[serde(tag = "grant_type", rename_all = "snake_case")]
#[allow(dead_code)]
pub enum TokenForm {
    /// RFC 6749 §4.4.2.
    ClientCredentials {
        /// Space-separated scopes; omitted or empty: the client's default scope.
        #[schema(pattern = r"^([\x21\x23-\x5B\x5D-\x7E]+( [\x21\x23-\x5B\x5D-\x7E]+)*)?$")]
        scope: Option<String>,
        #[schema(schema_with = resource_param)]
        resource: Option<Vec<String>>,
        #[schema(schema_with = audience_param)]
        audience: Option<String>,
        /// client_secret_post.
        client_id: Option<String>,
        /// client_secret_post.
        client_secret: Option<String>,
    },
    /// RFC 6749 §6.
    RefreshToken {
        #[schema(min_length = 1)]
        refresh_token: String,
        /// At most the family's scope; omitted or empty: all of it.
        #[schema(pattern = r"^([\x21\x23-\x5B\x5D-\x7E]+( [\x21\x23-\x5B\x5D-\x7E]+)*)?$")]
        scope: Option<String>,
        /// A family bound to a resource takes only that one; a family whose grant
        /// named none, any audience the client has (omitted: its default).
        #[schema(schema_with = resource_param)]
        resource: Option<Vec<String>>,
        #[schema(schema_with = audience_param)]
        audience: Option<String>,
        client_id: Option<String>,
        client_secret: Option<String>,
    },
}

/// A revocation (RFC 7009 §2.1) or introspection (RFC 7662 §2.1) request, form-encoded
/// or as JSON, as `TokenActionRequest::parse` reads it; client authentication as on
/// the token endpoint.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct TokenActionForm {
    /// An access token, refresh token or (introspection) API key.
    #[schema(min_length = 1)]
    token: String,
    /// Ignored: tokens are recognised by form.
    token_type_hint: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
}

/// RFC 7662 §2.2's answer, as `introspection::introspect` builds it: exactly
/// `{"active": false}` for anything not live, else the members of its kind.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct IntrospectionResponse {
    active: bool,
    /// `Bearer`, for access tokens and API keys (none for refresh tokens).
    token_type: Option<String>,
    /// `access_token`, `refresh_token` or `api_key`.
    credential_kind: Option<String>,
    scope: Option<String>,
    client_id: Option<String>,
    sub: Option<String>,
    /// An API key's id.
    key_id: Option<String>,
    #[schema(value_type = Option<Object>)]
    aud: Option<serde_json::Value>,
    iss: Option<String>,
    exp: Option<i64>,
    iat: Option<i64>,
    nbf: Option<i64>,
    jti: Option<String>,
    org: Option<String>,
}

/// The RFC 8414 document, as `metadata` builds it: only registered members, each
/// true of keygate.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct ServerMetadata {
    /// The `iss` of every token (RFC 8414 §2); its `/.well-known/` path serves this.
    issuer: String,
    token_endpoint: String,
    /// The public signing keys (JWKS), several `kid`s during a rotation.
    jwks_uri: String,
    #[schema(example = json!(["client_credentials", "refresh_token"]))]
    grant_types_supported: Vec<String>,
    #[schema(value_type = Vec<crate::openapi::schemas::TokenEndpointAuthMethod>)]
    token_endpoint_auth_methods_supported: Vec<String>,
    /// RFC 7009.
    revocation_endpoint: String,
    #[schema(value_type = Vec<crate::openapi::schemas::TokenEndpointAuthMethod>)]
    revocation_endpoint_auth_methods_supported: Vec<String>,
    /// RFC 7662.
    introspection_endpoint: String,
    #[schema(value_type = Vec<crate::openapi::schemas::TokenEndpointAuthMethod>)]
    introspection_endpoint_auth_methods_supported: Vec<String>,
    /// RFC 7591 (an admin API key or token as the initial access token).
    registration_endpoint: String,
    /// The configured scopes.
    scopes_supported: Vec<String>,
    /// RFC 6749 §4.1, with PKCE and consent.
    authorization_endpoint: String,
    /// Always `["code"]`.
    #[schema(example = json!(["code"]))]
    response_types_supported: Vec<String>,
    /// Always `["S256"]` (RFC 7636; `plain` is refused).
    #[schema(example = json!(["S256"]))]
    code_challenge_methods_supported: Vec<String>,
    /// Always `true`: authorization responses carry `iss` (RFC 9207).
    authorization_response_iss_parameter_supported: bool,
}

/// The routes of the OAuth endpoints, the RFC 8414 document and the RFC 9728 ones.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(Endpoint::oauth("/oauth/token").post(post_token))
        .service(Endpoint::oauth("/oauth/revoke").post(post_revoke))
        .service(Endpoint::oauth("/oauth/introspect").post(post_introspect))
        .service(Endpoint::oauth("/oauth/register").post(registration::post_register))
        .service(
            Endpoint::oauth("/oauth/register/{client_id}")
                .get(registration::get_registration)
                .put(registration::put_registration)
                .delete(registration::delete_registration),
        )
        .service(Endpoint::new("/.well-known/oauth-authorization-server").get(get_metadata))
        .service(
            Endpoint::new(resource_metadata::WELL_KNOWN)
                .get(resource_metadata::get_resource_metadata),
        )
        .service(
            Endpoint::new("/.well-known/oauth-protected-resource/{resource_path:.*}")
                .get(resource_metadata::get_resource_path_metadata),
        );
}

/// The RFC 8414 document, rendered once at start-up.
pub struct Metadata(String);

impl Metadata {
    pub fn render(settings: &Settings) -> Self {
        Self(metadata(settings).to_string())
    }

    pub fn json(&self) -> &str {
        &self.0
    }
}

/// POST /oauth/token — client authentication: `client_secret_basic` or
/// `client_secret_post`. Grants: `client_credentials`, `refresh_token`.
#[tracing::instrument(name = "token", skip_all, fields(client_id = tracing::field::Empty, grant_type = tracing::field::Empty))]
#[utoipa::path(
    post,
    path = "/oauth/token",
    tag = "oauth",
    request_body(content(
        (TokenForm = "application/x-www-form-urlencoded"),
        (TokenForm = "application/json"),
    )),
    responses(
        (status = 200, description = "An access token (no-store)", body = TokenResponse, headers(
            ("Cache-Control" = String, description = "no-store"),
        )),
        crate::openapi::responses::TokenErrors,
    ),
    security(("clientSecretBasic" = []), ())
)]
pub async fn post_token(
    req: HttpRequest,
    body: web::Payload,
    state: web::Data<OAuthState>,
    store: web::Data<Store>,
) -> Result<HttpResponse, OAuthError> {
    let body = read_body(&req, body, state.max_body_bytes).await?;
    let request = TokenRequest::parse(req.headers(), req.query_string(), &body)?;
    let span = tracing::Span::current();
    let client_id = crate::telemetry::bounded(request.client_id(), crate::telemetry::MAX_LOGGED_ID);
    span.record("client_id", client_id.as_str());
    span.record("grant_type", request.grant_type.as_str());

    let grant_type = request.grant_type.as_str();
    let meter = req
        .app_data::<web::Data<Meter>>()
        .filter(|meter| meter.enabled());
    let metered_client = meter.map(|_| request.client_id().to_owned());
    let issued = grant::issue_token(state, store, request, Source::of(&req)).await;
    let outcome = match &issued {
        Ok(_) => crate::usage::ISSUED,
        Err(error) => error.code().as_str(),
    };
    if let Some(metrics) = req.app_data::<web::Data<Metrics>>() {
        metrics.token(grant_type, outcome);
    }
    // Per client, for `GET /v1/usage`: in memory, written with the usage counts.
    if let (Some(meter), Some(client_id)) = (meter, metered_client) {
        meter.count_token(&client_id, outcome);
    }
    let issued = issued?;
    tracing::debug!(scope = %issued.scope, "access token issued");
    Ok(uncached(HttpResponse::Ok()).json(TokenResponse {
        access_token: &issued.access_token,
        token_type: "Bearer",
        expires_in: issued.expires_in,
        scope: &issued.scope,
        refresh_token: issued.refresh_token.as_ref().map(|t| t.expose()),
    }))
}

/// POST /oauth/revoke — RFC 7009; client authentication as on the token endpoint.
/// A client revokes only its own tokens; anything else is answered 200 as well.
#[tracing::instrument(name = "revoke", skip_all, fields(client_id = tracing::field::Empty))]
#[utoipa::path(
    post,
    path = "/oauth/revoke",
    tag = "oauth",
    request_body(content(
        (TokenActionForm = "application/x-www-form-urlencoded"),
        (TokenActionForm = "application/json"),
    )),
    responses(
        (status = 200, description = "Revoked, or nothing to revoke (RFC 7009 §2.2); no body"),
        crate::openapi::responses::OAuthClientErrors,
    ),
    security(("clientSecretBasic" = []), ())
)]
pub async fn post_revoke(
    req: HttpRequest,
    body: web::Payload,
    state: web::Data<OAuthState>,
    resolver: web::Data<Resolver>,
    store: web::Data<Store>,
) -> Result<HttpResponse, OAuthError> {
    let (client, token) = authenticated_token_action(&req, body, &state, &store).await?;
    let now = state.clock.now();
    store
        .write(move |tx| {
            revocation::revoke(tx, resolver.access_tokens(), &client, token.expose(), now)
        })
        .await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish())
}

/// POST /oauth/introspect — RFC 7662; client authentication as on the token endpoint.
#[tracing::instrument(name = "introspect", skip_all, fields(client_id = tracing::field::Empty))]
#[utoipa::path(
    post,
    path = "/oauth/introspect",
    tag = "oauth",
    request_body(content(
        (TokenActionForm = "application/x-www-form-urlencoded"),
        (TokenActionForm = "application/json"),
    )),
    responses(
        (status = 200, description = "The token described, or {\"active\": false}", body = IntrospectionResponse),
        crate::openapi::responses::OAuthClientErrors,
    ),
    security(("clientSecretBasic" = []), ())
)]
pub async fn post_introspect(
    req: HttpRequest,
    body: web::Payload,
    state: web::Data<OAuthState>,
    resolver: web::Data<Resolver>,
    store: web::Data<Store>,
) -> Result<HttpResponse, OAuthError> {
    let (client, token) = authenticated_token_action(&req, body, &state, &store).await?;
    let now = state.clock.now();
    let described = store
        .read(move |tx| {
            introspection::introspect(tx, &state, &resolver, &client, token.expose(), now)
        })
        .await?;
    Ok(uncached(HttpResponse::Ok()).json(described))
}

/// Reads and parses a revoke/introspect request and authenticates its client;
/// returns the client and the token it names.
async fn authenticated_token_action(
    req: &HttpRequest,
    body: web::Payload,
    state: &web::Data<OAuthState>,
    store: &web::Data<Store>,
) -> Result<(Client, Secret), OAuthError> {
    let body = read_body(req, body, state.max_body_bytes).await?;
    let request = TokenActionRequest::parse(req.headers(), req.query_string(), &body)?;
    let client_id = crate::telemetry::bounded(
        &request.credentials.client_id,
        crate::telemetry::MAX_LOGGED_ID,
    );
    tracing::Span::current().record("client_id", client_id.as_str());
    let client = client_auth::authenticate(
        state.clone(),
        store.clone(),
        request.credentials,
        Source::of(req),
    )
    .await?;
    Ok((client, request.token))
}

/// The request body, at most `limit` bytes (413 beyond, checked against
/// Content-Length first and again while reading a chunked body).
async fn read_body(
    req: &HttpRequest,
    body: web::Payload,
    limit: usize,
) -> Result<web::Bytes, OAuthError> {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|len| len > limit) {
        return Err(OAuthError::body_too_large(limit));
    }
    body.to_bytes_limited(limit)
        .await
        .map_err(|_| OAuthError::body_too_large(limit))?
        .map_err(|_| OAuthError::invalid_request("could not read the request body"))
}

/// GET /.well-known/oauth-authorization-server — public (RFC 8414).
#[utoipa::path(
    get,
    path = "/.well-known/oauth-authorization-server",
    tag = "oauth",
    responses((status = 200, description = "RFC 8414 authorization server metadata", body = ServerMetadata))
)]
pub async fn get_metadata(metadata: web::Data<Metadata>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .body(metadata.json().to_owned())
}

/// The RFC 8414 document for these settings and keys.
///
/// Only registered members, each true of keygate. What is left out on purpose:
/// RFC 8707 (resource indicators, which the token endpoint honours) defines no
/// authorization-server metadata, and `resource_indicators_supported` is registered
/// nowhere; RFC 9728's `protected_resources` is for authorization servers whose
/// resources are enumerable, and keygate's include each client's own audiences, not
/// a public list (the two configured ones describe themselves, see
/// `resource_metadata`). The JSON request bodies are a keygate extension, not
/// announced.
pub fn metadata(settings: &Settings) -> serde_json::Value {
    let base = settings.issuer_base();
    serde_json::json!({
        "issuer": settings.issuer.as_str(),
        "token_endpoint": format!("{base}/oauth/token"),
        "jwks_uri": format!("{base}/.well-known/jwks.json"),
        "grant_types_supported": crate::clients::GrantType::ALL.map(|g| g.as_str()),
        // `none`: public clients, at the token endpoint only (with PKCE).
        "token_endpoint_auth_methods_supported": crate::clients::AuthMethod::ALL.map(|m| m.as_str()),
        "revocation_endpoint": format!("{base}/oauth/revoke"),
        "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "introspection_endpoint": format!("{base}/oauth/introspect"),
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "registration_endpoint": format!("{base}/oauth/register"),
        "scopes_supported": settings.scopes.iter().collect::<Vec<_>>(),
        "authorization_endpoint": format!("{base}/oauth/authorize"),
        "response_types_supported": ["code"],
        "code_challenge_methods_supported": ["S256"],
        "authorization_response_iss_parameter_supported": true,
    })
}
