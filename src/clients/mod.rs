//! OAuth clients: registration (validated metadata, a server-generated secret shown
//! once, stored as an argon2id PHC string), lookup, disabling, and the
//! verified-secret cache that keeps argon2 off the token endpoint's hot path, and
//! the management API `/v1/clients` (`handlers`).

pub mod handlers;
pub mod model;
pub mod registration;
pub mod repo;
pub mod secret;
pub mod verifier;

pub use model::{
    AuthMethod, Client, ClientId, ClientRegistration, GrantType, NewClient, RegistrationError,
};
pub use secret::{ClientSecret, SECRET_PREFIX};
pub use verifier::{Argon2Lease, SecretVerifier, Verdict};

use std::sync::Arc;
use std::time::Duration;

use actix_web::web;

use crate::clock::Clock;
use crate::scope::ScopeSet;

/// What the management handlers need besides the store.
pub struct ClientsState {
    pub clock: Arc<dyn Clock>,
    pub known_scopes: ScopeSet,
    pub max_token_ttl: Duration,
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    let not_allowed = || web::to(crate::error::method_not_allowed);
    cfg.service(
        web::resource("/v1/clients")
            .route(web::post().to(handlers::register_client))
            .route(web::get().to(handlers::list_clients))
            .default_service(not_allowed()),
    )
    .service(
        web::resource("/v1/clients/{id}")
            .route(web::get().to(handlers::get_client))
            .route(web::patch().to(handlers::update_client))
            .default_service(not_allowed()),
    )
    .service(
        web::resource("/v1/clients/{id}/disable")
            .route(web::post().to(handlers::disable_client))
            .default_service(not_allowed()),
    )
    .service(
        web::resource("/v1/clients/{id}/rotate-secret")
            .route(web::post().to(handlers::rotate_client_secret))
            .default_service(not_allowed()),
    );
}
