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
use crate::routes::Endpoint;
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
        Endpoint::new("/v1/api-keys")
            .post(handlers::create_api_key)
            .get(handlers::list_api_keys),
    )
    .service(
        Endpoint::new("/v1/api-keys/{id}")
            .get(handlers::get_api_key)
            .patch(handlers::update_api_key)
            .delete(handlers::revoke_api_key),
    )
    .service(Endpoint::new("/v1/api-keys/{id}/rotate").post(handlers::rotate_api_key));
}
