//! API keys: the `kg_live_…`/`kg_test_…` format (`format`), their rows and validation
//! (`model`), storage as SHA-256 digests (`repo`), coalesced last-used times
//! (`last_used`), and the management API `/v1/api-keys` (`handlers`). Resolving a
//! presented key into a `Principal` is the identity resolver's job (`identity`).

pub mod format;
pub mod handlers;
pub mod last_used;
pub mod model;
pub mod repo;

use std::sync::Arc;

use actix_web::web;

use crate::clock::Clock;
use crate::scope::ScopeSet;

pub use format::Environment;
pub use last_used::LastUsed;
pub use model::{Actor, ApiKey, IssuedKey, KeyDraft, KeyRequest, KeyRequestError, KeyState};

/// What the management handlers need besides the store.
pub struct ApiKeysState {
    pub clock: Arc<dyn Clock>,
    /// The scopes a key may carry (the configured `scopes`).
    pub known_scopes: ScopeSet,
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/v1/api-keys")
            .route(web::post().to(handlers::create_api_key))
            .route(web::get().to(handlers::list_api_keys))
            .default_service(web::to(crate::error::method_not_allowed)),
    )
    .service(
        web::resource("/v1/api-keys/{id}")
            .route(web::get().to(handlers::get_api_key))
            .route(web::patch().to(handlers::update_api_key))
            .route(web::delete().to(handlers::revoke_api_key))
            .default_service(web::to(crate::error::method_not_allowed)),
    )
    .service(
        web::resource("/v1/api-keys/{id}/rotate")
            .route(web::post().to(handlers::rotate_api_key))
            .default_service(web::to(crate::error::method_not_allowed)),
    );
}
