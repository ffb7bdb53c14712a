//! The identity resolver: one `Principal` extractor for every keygate API, accepting a
//! JWT access token (`Authorization: Bearer`) or an API key (`Authorization: Bearer`
//! or `X-API-Key`), told apart by form. Also `GET /v1/me` and `/v1/forward-auth`, the
//! same resolution for gateways in front of other services.
//!
//! The modules depend one way: `presented` (what a credential is by its form) and
//! `access_token` (whether an access token is live) feed `resolver` (credential →
//! `Principal`), which `extract` (request → admitted `Principal`) and the handlers use.

pub mod access_token;
pub mod authority;
pub mod error;
pub mod extract;
pub mod handlers;
pub mod presented;
pub mod principal;
pub mod resolver;

pub use access_token::Audience;
pub use error::{ResolveError, Unauthenticated};
pub use presented::Presented;
pub use principal::{Credential, Principal};
pub use resolver::Resolver;
