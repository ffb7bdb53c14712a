//! The identity resolver: one `Principal` extractor for every keygate API, accepting a
//! JWT access token (`Authorization: Bearer`) or an API key (`Authorization: Bearer`
//! or `X-API-Key`), told apart by form. Also `GET /v1/me`.

pub mod handlers;
pub mod principal;
pub mod resolver;

use actix_web::web;

pub use principal::{Credential, Principal, Scope};
pub use resolver::{Presented, ResolveError, Resolver};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/v1/me", web::get().to(handlers::get_me));
}
