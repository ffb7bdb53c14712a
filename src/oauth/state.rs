//! What the OAuth endpoints share besides the store, built once in `startup`: how
//! tokens are issued and how clients are authenticated.

use std::sync::Arc;
use std::time::Duration;

use actix_web::web;

use crate::argon2_budget::Argon2Budget;
use crate::clients::SecretVerifier;
use crate::clock::Clock;
use crate::config::{CredentialPolicy, Issuer, Settings};
use crate::tokens::SigningKeys;

/// What the OAuth endpoints need besides the store, in its parts; built once, in
/// `startup`.
pub struct OAuthState {
    pub issuance: TokenIssuance,
    pub client_auth: ClientAuthentication,
    /// Largest accepted request body, in bytes.
    pub max_body_bytes: usize,
    pub clock: Arc<dyn Clock>,
    /// RFC 7591 registration without an initial access token, when turned on.
    pub open_registration: Option<super::registration::OpenRegistration>,
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
