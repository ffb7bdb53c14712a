//! Registering a client end to end: validate the metadata, resolve the organization,
//! generate and hash the secret, insert (`register`, for the CLI and the tests), and
//! the part before the insert (`prepare`, for the HTTP handlers, which hash with no
//! connection held).

use chrono::NaiveDateTime;

use super::model::{
    Client, ClientId, ClientRegistration, NewClient, RegistrationError, ValidRegistration,
};
use super::secret::{self, ClientSecret};
use crate::argon2_budget::{Argon2id, HashError};
use crate::config::CredentialPolicy;
use crate::orgs;
use crate::secret::RandomError;
use crate::store::{DbConn, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum RegisterError {
    #[error(transparent)]
    Invalid(#[from] RegistrationError),
    #[error("organization '{0}' does not exist")]
    UnknownOrg(String),
    #[error(transparent)]
    Hash(#[from] HashError),
    #[error(transparent)]
    Random(#[from] RandomError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<diesel::result::Error> for RegisterError {
    fn from(e: diesel::result::Error) -> Self {
        Self::Store(e.into())
    }
}

/// Registers a client in the organization with slug `org_slug`. Returns the stored
/// client and its secret, which exists nowhere else: show it once.
pub fn register(
    conn: &mut DbConn,
    registration: ClientRegistration,
    org_slug: &str,
    policy: &CredentialPolicy,
    now: NaiveDateTime,
) -> Result<(Client, ClientSecret), RegisterError> {
    let org = orgs::repo::find_by_slug(conn, org_slug)?
        .ok_or_else(|| RegisterError::UnknownOrg(org_slug.to_owned()))?;
    let valid = registration.validate(org.id(), &policy.known_scopes, policy.max_token_ttl)?;
    let (new, client_secret) = prepare(valid, now)?;
    let client = super::repo::create(conn, &new)?;
    Ok((client, client_secret))
}

/// Everything before the insert — a new id, a new secret and its argon2id hash
/// (~20 ms) — so that an HTTP handler can do it without holding a connection.
pub fn prepare(
    valid: ValidRegistration,
    now: NaiveDateTime,
) -> Result<(NewClient, ClientSecret), RegisterError> {
    let (client_secret, stored) = new_secret()?;
    let mut new = valid.into_new_client(ClientId::generate(), stored.hash, now);
    new.secret_hint = Some(stored.hint);
    Ok((new, client_secret))
}

/// What is stored of a client secret: its argon2id hash and its `secret::hint`.
pub struct StoredSecret {
    pub hash: String,
    pub hint: String,
}

/// A new secret and what is stored of it.
pub fn new_secret() -> Result<(ClientSecret, StoredSecret), RegisterError> {
    let client_secret = secret::generate_secret()?;
    let bytes = client_secret.expose().as_bytes();
    let stored = StoredSecret {
        hash: Argon2id.hash(bytes)?,
        hint: secret::hint(bytes),
    };
    Ok((client_secret, stored))
}
