//! The OAuth 2.0 HTTP edge: `POST /oauth/token` (RFC 6749; grant logic from
//! oxide-auth, see `grant`), `POST /oauth/revoke` (RFC 7009), `POST /oauth/introspect`
//! (RFC 7662), dynamic client registration (RFC 7591/7592), RFC 6749 §5.2 errors,
//! and the RFC 8414 metadata document.

pub mod client_auth;
pub mod error;
pub mod grant;
pub mod handlers;
pub mod introspection;
pub mod primitives;
pub mod registration;
pub mod request;
pub mod revocation;

use std::sync::Arc;
use std::time::Duration;

use actix_web::http::header;
use actix_web::{web, HttpResponseBuilder};

use crate::clients::SecretVerifier;
use crate::clock::Clock;
use crate::config::Settings;
use crate::limits::FailedAuthThrottle;
use crate::routes::Endpoint;
use crate::tokens::SigningKeys;

pub use error::OAuthError;

/// Everything the token endpoint needs besides the store; built once at start-up.
pub struct OAuthState {
    pub issuer: String,
    pub issuer_url: url::Url,
    pub default_audience: String,
    pub default_ttl: Duration,
    pub max_ttl: Duration,
    pub refresh_lifetimes: crate::refresh::Lifetimes,
    pub argon2_max_wait: Duration,
    pub max_body_bytes: usize,
    pub keys: web::Data<SigningKeys>,
    pub verifier: SecretVerifier,
    /// Brute-force throttling of client authentication.
    pub failed_auth: FailedAuthThrottle,
    pub clock: Arc<dyn Clock>,
    /// The RFC 8414 document, rendered once.
    pub metadata_json: String,
}

impl OAuthState {
    pub fn new(
        settings: &Settings,
        keys: web::Data<SigningKeys>,
        verifier: SecretVerifier,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, url::ParseError> {
        let issuer_url = url::Url::parse(&settings.issuer)?;
        let metadata_json = handlers::metadata(settings).to_string();
        Ok(Self {
            issuer: settings.issuer.clone(),
            issuer_url,
            default_audience: settings.audience().to_owned(),
            default_ttl: settings.access_token_ttl,
            max_ttl: settings.access_token_ttl_max,
            refresh_lifetimes: settings.refresh_lifetimes(),
            argon2_max_wait: settings.argon2_max_wait,
            max_body_bytes: settings.max_body_bytes,
            keys,
            verifier,
            failed_auth: FailedAuthThrottle::new(
                settings.auth_failures_per_minute,
                settings.auth_failures_per_minute_per_source,
                clock.clone(),
            ),
            clock,
            metadata_json,
        })
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
