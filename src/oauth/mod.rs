//! The OAuth 2.0 HTTP edge: `POST /oauth/token` (RFC 6749; grant logic from
//! oxide-auth, see `grant`), `POST /oauth/revoke` (RFC 7009), `POST /oauth/introspect`
//! (RFC 7662), dynamic client registration (RFC 7591/7592), RFC 6749 §5.2 errors,
//! and the RFC 8414 metadata document.

pub mod client_auth;
pub mod error;
pub mod grant;
pub mod handlers;
pub mod introspection;
pub mod registration;
pub mod request;
pub mod revocation;

use std::sync::Arc;
use std::time::Duration;

use actix_web::http::header;
use actix_web::{web, HttpResponseBuilder};

use crate::argon2_budget::Argon2Budget;
use crate::clients::SecretVerifier;
use crate::clock::Clock;
use crate::config::{CredentialPolicy, Issuer, Settings};
use crate::routes::Endpoint;
use crate::tokens::SigningKeys;

pub use error::OAuthError;

/// What the OAuth endpoints need besides the store, in its parts; built once, in
/// `startup`.
pub struct OAuthState {
    pub issuance: TokenIssuance,
    pub client_auth: ClientAuthentication,
    /// Largest accepted request body, in bytes.
    pub max_body_bytes: usize,
    pub clock: Arc<dyn Clock>,
}

/// What issuing a token needs: who signs it, for whom, and for how long.
pub struct TokenIssuance {
    pub issuer: Issuer,
    pub default_audience: String,
    pub default_ttl: Duration,
    /// Bounds every token's lifetime (`max_token_ttl`).
    pub policy: web::Data<CredentialPolicy>,
    pub refresh_lifetimes: crate::refresh::Lifetimes,
    pub keys: web::Data<SigningKeys>,
}

impl TokenIssuance {
    pub fn new(
        settings: &Settings,
        keys: web::Data<SigningKeys>,
        policy: web::Data<CredentialPolicy>,
    ) -> Self {
        Self {
            issuer: settings.issuer.clone(),
            default_audience: settings.audience().to_owned(),
            default_ttl: settings.access_token_ttl,
            policy,
            refresh_lifetimes: settings.refresh_lifetimes(),
            keys,
        }
    }
}

/// What authenticating a client needs: the verified-secret cache, and the argon2
/// budget (leases, throttle) for a secret not in it.
pub struct ClientAuthentication {
    pub verifier: SecretVerifier,
    pub budget: web::Data<Argon2Budget>,
}

/// The RFC 8414 document, rendered once at start-up.
pub struct Metadata(String);

impl Metadata {
    pub fn render(settings: &Settings) -> Self {
        Self(handlers::metadata(settings).to_string())
    }

    pub fn json(&self) -> &str {
        &self.0
    }
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(Endpoint::oauth("/oauth/token").post(handlers::post_token))
        .service(Endpoint::oauth("/oauth/revoke").post(handlers::post_revoke))
        .service(Endpoint::oauth("/oauth/introspect").post(handlers::post_introspect))
        .service(Endpoint::oauth("/oauth/register").post(registration::post_register))
        .service(
            Endpoint::oauth("/oauth/register/{client_id}")
                .get(registration::get_registration)
                .put(registration::put_registration)
                .delete(registration::delete_registration),
        )
        .service(
            Endpoint::new("/.well-known/oauth-authorization-server").get(handlers::get_metadata),
        );
}

/// `response` with the headers of every answer that carries or describes a
/// credential: `Cache-Control: no-store` and `Pragma: no-cache` (RFC 6749 §5.1).
pub fn uncached(mut response: HttpResponseBuilder) -> HttpResponseBuilder {
    response
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::PRAGMA, "no-cache"));
    response
}
