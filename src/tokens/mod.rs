//! Signed access tokens: signing keys kept as PEM files in `keys/` (generate,
//! activate, retire, remove), parsed once into a `KeyRing`; RFC 9068 JWT encoding
//! with the active key; and the JWKS that publishes every key not yet removed.

pub mod handlers;
pub mod jwt;
pub mod keys;
pub mod revoked;
pub mod ring;
pub mod verify;

use actix_web::web;

pub use jwt::AccessTokenClaims;
pub use keys::{KeyAlg, KeyRing, KeyState};
pub use ring::SigningKeys;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(crate::routes::Endpoint::new("/.well-known/jwks.json").get(handlers::get_jwks));
}
