//! OAuth clients: registration (validated metadata, a server-generated secret shown
//! once, stored as an argon2id PHC string), lookup, disabling, and the
//! verified-secret cache that keeps argon2 off the token endpoint's hot path.

pub mod model;
pub mod registration;
pub mod repo;
pub mod secret;
pub mod verifier;

pub use model::{Client, ClientId, ClientRegistration, GrantType, NewClient, RegistrationError};
pub use secret::{ClientSecret, SECRET_PREFIX};
pub use verifier::{Argon2Lease, SecretVerifier, Verdict};
