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
pub use secret::ClientSecret;
pub use verifier::{SecretVerifier, Verdict};

use actix_web::web;

use crate::routes::Endpoint;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        Endpoint::new("/v1/clients")
            .post(handlers::register_client)
            .get(handlers::list_clients),
    )
    .service(
        Endpoint::new("/v1/clients/{id}")
            .get(handlers::get_client)
            .patch(handlers::update_client),
    )
    .service(Endpoint::new("/v1/clients/{id}/disable").post(handlers::disable_client))
    .service(Endpoint::new("/v1/clients/{id}/rotate-secret").post(handlers::rotate_client_secret));
}
