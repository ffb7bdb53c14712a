//! Why a request has no principal. `Unauthenticated` is the credential's fault and
//! each of its variants is a 401; `ApiError` carries it as it is (its messages are
//! the envelope's), and the OAuth endpoints that take a bearer credential answer it
//! in RFC 6750 form. `Debug` never shows a credential (none is held).

use chrono::{DateTime, Utc};

use crate::store::StoreError;

/// No accepted credential: what the RFC 6750 challenge calls `invalid_token` (or,
/// for `MissingCredentials`, no error at all).
#[derive(Debug, thiserror::Error)]
pub enum Unauthenticated {
    #[error("no credentials: send Authorization: Bearer <token or API key>, or X-API-Key")]
    MissingCredentials,
    #[error("{0}")]
    InvalidFormat(&'static str),
    #[error("the API key is not valid")]
    InvalidApiKey,
    #[error("the API key has expired")]
    ExpiredApiKey { expired_at: DateTime<Utc> },
    #[error("the API key has been revoked")]
    RevokedApiKey,
    #[error("{0}")]
    InvalidToken(&'static str),
    #[error("the access token has expired")]
    ExpiredToken,
}

impl Unauthenticated {
    /// The envelope's `code`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::MissingCredentials => "missing_credentials",
            Self::InvalidFormat(_) => "invalid_format",
            Self::InvalidApiKey => "invalid_api_key",
            Self::ExpiredApiKey { .. } => "expired_api_key",
            Self::RevokedApiKey => "revoked_api_key",
            Self::InvalidToken(_) => "invalid_token",
            Self::ExpiredToken => "expired_token",
        }
    }
}

/// Why resolving failed: the credential (`Unauthenticated`), a request that sends it
/// ambiguously, or the store.
#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    #[error(transparent)]
    Unauthenticated(#[from] Unauthenticated),
    #[error("Authorization and X-API-Key carry different credentials")]
    ConflictingCredentials,
    #[error("{0}")]
    DuplicateHeader(&'static str),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<diesel::result::Error> for ResolveError {
    fn from(error: diesel::result::Error) -> Self {
        Self::Store(error.into())
    }
}
