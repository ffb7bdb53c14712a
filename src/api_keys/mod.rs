//! API keys: the `kg_live_…`/`kg_test_…` format (`format`), their rows and validation
//! (`model`), storage as SHA-256 digests (`repo`), coalesced last-used times
//! (`last_used`), and the management API `/v1/api-keys` (`handlers`). Resolving a
//! presented key into a `Principal` is the identity resolver's job (`identity`).

pub mod format;
pub mod handlers;
pub mod last_used;
pub mod model;
pub mod repo;

use actix_web::web;

use crate::routes::Endpoint;

pub use format::Environment;
pub use last_used::LastUsed;
pub use model::{Actor, ApiKey, IssuedKey, KeyDraft, KeyRequest, KeyRequestError, KeyState};

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
