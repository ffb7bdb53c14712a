//! What keygate issues: the table of every token and id kind with its prefix
//! (`kind`), and signed access tokens — signing keys kept as PEM files in `keys/`
//! (`signing_keys`: generate, activate, retire, remove), parsed once into a
//! `KeyRing`; RFC 9068 JWT encoding with the active key and its verification; the
//! `jti`s revoked before their expiry; and the JWKS that publishes every key not yet
//! removed.

pub mod handlers;
pub mod jwt;
pub mod kind;
pub mod revoked;
pub mod signing_keys;
pub mod verify;

pub use jwt::AccessTokenClaims;
pub use kind::TokenKind;
pub use signing_keys::{KeyAlg, KeyRing, KeyState, SigningKeys};
