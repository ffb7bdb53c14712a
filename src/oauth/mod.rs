//! The OAuth 2.0 HTTP edge: `POST /oauth/token` (RFC 6749; grant logic from
//! oxide-auth, see `grant`), `POST /oauth/revoke` (RFC 7009), `POST /oauth/introspect`
//! (RFC 7662), dynamic client registration (RFC 7591/7592), RFC 6749 §5.2 errors,
//! the RFC 8414 metadata document, and the RFC 9728 documents of the resources it
//! issues tokens for (`resource_metadata`). `pkce` checks RFC 7636 S256 challenges
//! for the authorization code grant.

pub mod authorization;
pub mod authorization_code;
pub mod client_auth;
pub mod error;
pub mod grant;
pub mod handlers;
pub mod introspection;
pub mod pkce;
pub mod registration;
pub mod request;
pub mod resource_metadata;
pub mod revocation;

pub mod response;
pub mod state;

pub use error::OAuthError;
pub use response::uncached;
pub use state::{ClientAuthentication, OAuthState, TokenIssuance};
