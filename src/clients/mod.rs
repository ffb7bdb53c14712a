//! OAuth clients: their rows, registration metadata and its validation, and what an
//! update changes (`model`); secrets — generated, stored as argon2id PHC strings with
//! a hint, shown once — and RFC 7592 registration access tokens (`secret`); the SQL
//! (`repo`); the use cases every door calls — register, update, replace a
//! registration, disable, rotate the secret, find, each with its audit event
//! (`service`); how a client is shown (`view`); the verified-secret cache that keeps
//! argon2 off the token endpoint's hot path (`verifier`); and the management API
//! `/v1/clients` (`handlers`). RFC 7591/7592 registration is `oauth::registration`'s
//! door to the same use cases. Which redirect URIs a client may register for the
//! authorization code grant, and how a presented one is matched, is `redirect_uri`'s.

pub mod handlers;
pub mod model;
pub mod redirect_uri;
pub mod repo;
pub mod secret;
pub mod service;
pub mod verifier;
pub mod view;

pub use model::{
    AuthMethod, Client, ClientRegistration, ClientUpdate, GrantType, NewClient, RegistrationError,
};
pub use secret::ClientSecret;
pub use service::ClientError;
pub use verifier::{SecretVerifier, Verdict};
pub use view::ClientView;
