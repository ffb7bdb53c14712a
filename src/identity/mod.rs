//! The identity resolver: one `Principal` extractor for every keygate API, accepting a
//! JWT access token (`Authorization: Bearer`) or an API key (`Authorization: Bearer`
//! or `X-API-Key`), told apart by form. Also `GET /v1/me` and `/v1/forward-auth`, the
//! same resolution for gateways in front of other services.

pub mod authority;
pub mod handlers;
pub mod principal;
pub mod resolver;

use actix_web::web;

pub use principal::{Credential, Principal, Scope};
pub use resolver::{Audience, Presented, ResolveError, Resolver};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(crate::routes::Endpoint::new("/v1/me").get(handlers::get_me))
        // Any method, by design: a gateway checks whatever its client sent.
        .route("/v1/forward-auth", web::route().to(handlers::forward_auth))
        // Envoy's ext_authz appends the original path to its `path_prefix`.
        .route(
            "/v1/forward-auth/{original_path:.*}",
            web::route().to(handlers::forward_auth),
        );
}
