//! The OpenAPI 3.1 description of keygate's HTTP API, served at `GET /openapi.json`.
//! It is generated (utoipa) from the handlers' own `#[utoipa::path]` annotations and
//! the types they read and answer with: path parameters and JSON bodies from their
//! extractors, query parameters from their query structs, success bodies from the
//! views they serialize, error bodies from the two error shapes (`error::Envelope`
//! for the management API, `oauth::error::Body` for RFC 6749). The reusable error
//! responses and the security schemes are declared here, once. A test calls every
//! documented operation against the real application, so a route that is documented
//! but not served (or served under another method) fails CI; schemathesis
//! (`.ci/schemathesis.sh`) checks the answers against the document. The shared
//! error responses are `responses`', the shared schemas `schemas`'.

pub mod responses;
pub mod schemas;

use std::sync::OnceLock;

use actix_web::{web, HttpResponse};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

use schemas::TokenEndpointAuthMethod;

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
        crate::oauth::resource_metadata::get_resource_metadata,
        crate::oauth::resource_metadata::get_resource_path_metadata,
        crate::tokens::handlers::get_jwks,
        crate::identity::handlers::get_me,
        crate::identity::handlers::forward_auth,
        crate::api_keys::handlers::create_api_key,
        crate::api_keys::handlers::list_api_keys,
        crate::api_keys::handlers::get_api_key,
        crate::api_keys::handlers::update_api_key,
        crate::api_keys::handlers::revoke_api_key,
        crate::api_keys::handlers::rotate_api_key,
        crate::api_keys::handlers::get_api_key_policy,
        crate::api_keys::handlers::put_api_key_policy,
        crate::clients::handlers::register_client,
        crate::clients::handlers::list_clients,
        crate::clients::handlers::get_client,
        crate::clients::handlers::update_client,
        crate::clients::handlers::disable_client,
        crate::clients::handlers::rotate_client_secret,
        crate::users::handlers::list_members,
        crate::users::handlers::invite_member,
        crate::users::handlers::change_member_role,
        crate::users::handlers::remove_member,
        crate::orgs::handlers::get_organization,
        crate::orgs::handlers::update_organization,
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
        (name = "oauth", description = "RFC 6749 token endpoint, RFC 7009 revocation, RFC 7662 introspection, RFC 7591/7592 registration, RFC 8414 and RFC 9728 metadata and the JWKS; errors are RFC 6749 §5.2 JSON"),
        (name = "identity", description = "The identity resolver: the caller's principal, and forward-auth for gateways"),
        (name = "api-keys", description = "API-key management (scope admin)"),
        (name = "clients", description = "Client management (scope admin)"),
        (name = "organization", description = "The caller's own organization (read: scope read; changes: scope admin)"),
        (name = "members", description = "The organization's people (list: scope read; changes: scope admin, acting as an admin)"),
        (name = "usage", description = "Usage and the audit log (scope admin)"),
        (name = "operations", description = "Health, readiness, metrics and this document"),
    )
)]
pub struct ApiDoc;

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
