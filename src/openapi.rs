//! The OpenAPI 3.1 description of keygate's HTTP API, served at `GET /openapi.json`.
//! It is generated (utoipa) from the handlers' own `#[utoipa::path]` annotations and
//! the types they read and answer with: path parameters and JSON bodies from their
//! extractors, query parameters from their query structs, success bodies from the
//! views they serialize, error bodies from the two error shapes (`error::Envelope`
//! for the management API, `oauth::error::Body` for RFC 6749). The reusable error
//! responses and the security schemes are declared here, once. A test calls every
//! documented operation against the real application, so a route that is documented
//! but not served (or served under another method) fails CI; schemathesis
//! (`.ci/schemathesis.sh`) checks the answers against the document.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use actix_web::{web, HttpResponse};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::{
    Content, Header, ObjectBuilder, Ref, RefOr, Response, ResponseBuilder, Type,
};
use utoipa::{IntoResponses, Modify, OpenApi};

/// The document's root: every operation keygate serves, by handler.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "keygate",
        description = "OAuth 2.0 authorization server with API-key fallback. See the README for each route's rules."
    ),
    paths(
        crate::oauth::handlers::post_token,
        crate::oauth::handlers::post_revoke,
        crate::oauth::handlers::post_introspect,
        crate::oauth::registration::post_register,
        crate::oauth::registration::get_registration,
        crate::oauth::registration::put_registration,
        crate::oauth::registration::delete_registration,
        crate::oauth::handlers::get_metadata,
        crate::tokens::handlers::get_jwks,
        crate::identity::handlers::get_me,
        crate::identity::handlers::forward_auth,
        crate::api_keys::handlers::create_api_key,
        crate::api_keys::handlers::list_api_keys,
        crate::api_keys::handlers::get_api_key,
        crate::api_keys::handlers::update_api_key,
        crate::api_keys::handlers::revoke_api_key,
        crate::api_keys::handlers::rotate_api_key,
        crate::clients::handlers::register_client,
        crate::clients::handlers::list_clients,
        crate::clients::handlers::get_client,
        crate::clients::handlers::update_client,
        crate::clients::handlers::disable_client,
        crate::clients::handlers::rotate_client_secret,
        crate::usage::handlers::get_usage,
        crate::audit::handlers::list_audit_events,
        crate::health::get_healthz,
        crate::health::get_readyz,
        crate::metrics::get_metrics,
        get_openapi,
    ),
    components(schemas(crate::error::Envelope, crate::oauth::error::Body, TokenEndpointAuthMethod)),
    modifiers(&SecuritySchemes),
    tags(
        (name = "oauth", description = "RFC 6749 token endpoint, RFC 7009 revocation, RFC 7662 introspection, RFC 7591/7592 registration, RFC 8414 metadata and the JWKS; errors are RFC 6749 §5.2 JSON"),
        (name = "identity", description = "The identity resolver: the caller's principal, and forward-auth for gateways"),
        (name = "api-keys", description = "API-key management (scope admin)"),
        (name = "clients", description = "Client management (scope admin)"),
        (name = "usage", description = "Usage and the audit log (scope admin)"),
        (name = "operations", description = "Health, readiness, metrics and this document"),
    )
)]
pub struct ApiDoc;

// ---------------------------------------------------------------------------------
// Schemas several operations share.

/// A client's one authentication method at the token endpoint (RFC 7591 §2).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)] // a schema: the handlers read the method as text and validate it
pub enum TokenEndpointAuthMethod {
    #[schema(rename = "client_secret_basic")]
    ClientSecretBasic,
    #[schema(rename = "client_secret_post")]
    ClientSecretPost,
}

/// What the server takes for an audience (RFC 8707 resource): an absolute URI without
/// a fragment, whitespace or control characters, at most 512 bytes
/// (`clients::model::is_valid_audience`, which decides).
const AUDIENCE_PATTERN: &str = r"^[A-Za-z][A-Za-z0-9+.\-]*:[^#\s\x00-\x1F\x7F-\x9F]*$";

/// An audience (`schema_with` of the DTOs that name one).
pub fn audience() -> utoipa::openapi::Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .max_length(Some(512))
        .pattern(Some(AUDIENCE_PATTERN))
        .examples(["https://api.example.com"])
        .build()
}

/// An audience, or empty: a token-endpoint parameter, where empty counts as absent.
pub fn audience_or_empty() -> utoipa::openapi::Object {
    let mut schema = audience();
    schema.pattern = Some(format!(
        "^({})?$",
        &AUDIENCE_PATTERN[1..AUDIENCE_PATTERN.len() - 1]
    ));
    schema
}

/// An audience, or `null` (which clears it).
pub fn nullable_audience() -> utoipa::openapi::Schema {
    utoipa::openapi::schema::OneOfBuilder::new()
        .item(audience())
        .item(ObjectBuilder::new().schema_type(Type::Null))
        .build()
        .into()
}

/// A list of audiences (repeats are dropped; at most 16 distinct).
pub fn audiences() -> utoipa::openapi::Schema {
    utoipa::openapi::schema::ArrayBuilder::new()
        .items(audience())
        .build()
        .into()
}

/// The security schemes operations name.
struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let bearer = Http::builder()
            .scheme(HttpAuthScheme::Bearer)
            .description(Some(
                "A JWT access token (for the management API: aud = management_audience) or an API key",
            ))
            .build();
        components.add_security_scheme("bearer", SecurityScheme::Http(bearer));
        components.add_security_scheme(
            "apiKey",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "X-API-Key",
                "An API key (kg_live_… or kg_test_…)",
            ))),
        );
        let basic = Http::builder()
            .scheme(HttpAuthScheme::Basic)
            .description(Some(
                "client_secret_basic: base64(urlencode(client_id):urlencode(client_secret)), RFC 6749 §2.3.1. \
                 client_secret_post (client_id and client_secret as form fields) is no security scheme: \
                 those fields are in the request body's schema",
            ))
            .build();
        components.add_security_scheme("clientSecretBasic", SecurityScheme::Http(basic));
        let registration = Http::builder()
            .scheme(HttpAuthScheme::Bearer)
            .description(Some(
                "RFC 7592's registration access token (kgrat_…), returned by registration",
            ))
            .build();
        components.add_security_scheme(
            "registrationAccessToken",
            SecurityScheme::Http(registration),
        );
    }
}

/// The document, generated once.
pub fn document() -> &'static utoipa::openapi::OpenApi {
    static DOCUMENT: OnceLock<utoipa::openapi::OpenApi> = OnceLock::new();
    DOCUMENT.get_or_init(ApiDoc::openapi)
}

/// GET /openapi.json — public: this document.
#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "operations",
    responses((status = 200, description = "The OpenAPI 3.1 document", content_type = "application/json", body = Object))
)]
pub async fn get_openapi() -> HttpResponse {
    HttpResponse::Ok().json(document())
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(crate::routes::Endpoint::new("/openapi.json").get(get_openapi));
}

// ---------------------------------------------------------------------------------
// Error responses, for `responses(...)` of the operations. Each is a set of status
// codes with the body of its shape and the headers that come with it.

fn string_header(description: &str) -> Header {
    Header::builder()
        .schema(Some(ObjectBuilder::new().schema_type(Type::String)))
        .description(Some(description))
        .build()
}

fn integer_header(description: &str) -> Header {
    Header::builder()
        .schema(Some(
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .minimum(Some(0)),
        ))
        .description(Some(description))
        .build()
}

fn error_response(schema: &str, description: &str, headers: &[(&str, Header)]) -> Response {
    let mut response = ResponseBuilder::new().description(description).content(
        "application/json",
        Content::new(Some(Ref::from_schema_name(schema))),
    );
    for (name, header) in headers {
        response = response.header(*name, header.clone());
    }
    response.build()
}

fn set(entries: Vec<(&str, Response)>) -> BTreeMap<String, RefOr<Response>> {
    entries
        .into_iter()
        .map(|(status, response)| (status.to_owned(), RefOr::T(response)))
        .collect()
}

const ENVELOPE: &str = "Envelope";
const OAUTH: &str = "Body";

fn rate_limited() -> Response {
    error_response(
        ENVELOPE,
        "rate_limit_exceeded: the credential's or its organization's limit",
        &[
            (
                "Retry-After",
                integer_header("Seconds until a retry can pass"),
            ),
            ("RateLimit-Limit", integer_header("Requests per minute")),
            ("RateLimit-Remaining", integer_header("Always 0 here")),
            (
                "RateLimit-Reset",
                integer_header("Seconds until the allowance is whole"),
            ),
        ],
    )
}

fn unavailable(schema: &str, description: &str) -> Response {
    error_response(
        schema,
        description,
        &[("Retry-After", integer_header("Seconds"))],
    )
}

/// What every operation behind the identity resolver may answer: a malformed
/// credential request (400), no or a bad credential (401), a missing scope (403), a
/// rate limit (429), the database unreachable (503), an internal error (500).
pub struct ResolverErrors;

impl IntoResponses for ResolverErrors {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        set(vec![
            ("400", error_response(ENVELOPE, "invalid_request: e.g. two different credentials, a header given twice, a malformed parameter or body (details.field names it)", &[])),
            ("401", error_response(ENVELOPE, "missing_credentials, invalid_format, invalid_api_key, expired_api_key, revoked_api_key, invalid_token or expired_token", &[(
                "WWW-Authenticate",
                string_header("RFC 6750 challenge: Bearer realm=\"keygate\", error=\"invalid_token\" when a credential was sent"),
            )])),
            ("403", error_response(ENVELOPE, "insufficient_scope (details.required_scope) or exceeds_authority", &[(
                "WWW-Authenticate",
                string_header("Bearer realm=\"keygate\", error=\"insufficient_scope\", scope=\"…\""),
            )])),
            ("429", rate_limited()),
            ("500", error_response(ENVELOPE, "internal_error (no detail: it goes to the log)", &[])),
            ("503", unavailable(ENVELOPE, "service_unavailable: the database does not answer")),
        ])
    }
}

/// 404 `not_found`: no such resource in the caller's organization.
pub struct NotFound;

impl IntoResponses for NotFound {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        set(vec![(
            "404",
            error_response(ENVELOPE, "not_found: no such resource in the caller's organization (another organization's included)", &[]),
        )])
    }
}

/// 409 `conflict`.
pub struct Conflict;

impl IntoResponses for Conflict {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        set(vec![(
            "409",
            error_response(
                ENVELOPE,
                "conflict: the resource changed meanwhile, or is not in a state for this",
                &[],
            ),
        )])
    }
}

/// What a JSON body may draw: 413 past `max_body_bytes`, 415 unless JSON.
pub struct JsonBodyErrors;

impl IntoResponses for JsonBodyErrors {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        set(vec![
            (
                "413",
                error_response(
                    ENVELOPE,
                    "payload_too_large: the body is over max_body_bytes",
                    &[],
                ),
            ),
            (
                "415",
                error_response(
                    ENVELOPE,
                    "unsupported_media_type: the body is not application/json",
                    &[],
                ),
            ),
        ])
    }
}

/// What the token endpoint may answer (RFC 6749 §5.2, RFC 8707 §2).
pub struct TokenErrors;

impl IntoResponses for TokenErrors {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        client_authenticated_errors(
            "invalid_request, invalid_grant, unauthorized_client, unsupported_grant_type, \
             invalid_scope, or invalid_target (RFC 8707: a resource that is malformed, not \
             one of the client's audiences, or several different ones)",
        )
    }
}

/// What revocation and introspection may answer (RFC 7009 §2.2.1, RFC 7662 §2.3).
pub struct OAuthClientErrors;

impl IntoResponses for OAuthClientErrors {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        client_authenticated_errors(
            "invalid_request: e.g. no token, a parameter twice, a query string",
        )
    }
}

/// The answers of the endpoints that authenticate a client (RFC 6749 §5.2), with
/// `bad_request` describing their 400s.
fn client_authenticated_errors(bad_request: &str) -> BTreeMap<String, RefOr<Response>> {
    set(vec![
            ("400", error_response(OAUTH, bad_request, &[])),
            ("401", error_response(OAUTH, "invalid_client: no, unknown, wrong or disabled client credentials, all alike", &[(
                "WWW-Authenticate",
                string_header("Basic realm=\"keygate\", charset=\"UTF-8\""),
            )])),
            ("413", error_response(OAUTH, "invalid_request: the body is over max_body_bytes", &[])),
            ("429", error_response(OAUTH, "rate_limit_exceeded: too many failed authentications for this client id or from this address", &[(
                "Retry-After",
                integer_header("Seconds"),
            )])),
            ("500", error_response(OAUTH, "server_error (no detail)", &[])),
            ("503", unavailable(OAUTH, "temporarily_unavailable: the database does not answer, or no argon2 slot freed in time")),
        ])
}

/// What `/oauth/register` and RFC 7592 may answer: RFC 7591 §3.2.2 and RFC 6750.
pub struct RegistrationErrors;

impl IntoResponses for RegistrationErrors {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        set(vec![
            ("400", error_response(OAUTH, "invalid_client_metadata, invalid_redirect_uri or invalid_request", &[])),
            ("401", error_response(OAUTH, "invalid_token: no, a wrong or an unknown bearer token", &[(
                "WWW-Authenticate",
                string_header("RFC 6750 challenge: Bearer realm=\"keygate\"[, error=\"invalid_token\"]"),
            )])),
            ("413", error_response(OAUTH, "invalid_request: the body is over max_body_bytes", &[])),
            ("429", error_response(OAUTH, "rate_limit_exceeded", &[("Retry-After", integer_header("Seconds"))])),
            ("500", error_response(OAUTH, "server_error (no detail)", &[])),
            ("503", unavailable(OAUTH, "temporarily_unavailable")),
        ])
    }
}

/// 403 `insufficient_scope` of `POST /oauth/register`'s initial access token.
pub struct RegistrationForbidden;

impl IntoResponses for RegistrationForbidden {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        set(vec![(
            "403",
            error_response(
                OAUTH,
                "insufficient_scope: the initial access token lacks admin",
                &[(
                    "WWW-Authenticate",
                    string_header(
                        "Bearer realm=\"keygate\", error=\"insufficient_scope\", scope=\"admin\"",
                    ),
                )],
            ),
        )])
    }
}

/// 503 of the public documents and probes that read the database.
pub struct Unavailable;

impl IntoResponses for Unavailable {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        set(vec![(
            "503",
            unavailable(
                ENVELOPE,
                "service_unavailable: the database does not answer",
            ),
        )])
    }
}
