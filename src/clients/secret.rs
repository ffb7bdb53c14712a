//! Client secrets and RFC 7592 registration access tokens: generation (256 bits,
//! URL-safe, recognisable prefixes) and what is stored of each — a secret's argon2id
//! hash and its hint, a registration token's SHA-256 digest. Verifying a secret is
//! `argon2_budget`'s and `verifier`'s.

use crate::argon2_budget::{Argon2id, HashError};
use crate::secret::{digest, RandomError, Secret};
use crate::tokens::TokenKind;

/// A secret's random bytes (256 bits), after its `kgs_` prefix, which lets secret
/// scanners recognise a leaked one.
const SECRET_BYTES: usize = 32;
/// A registration access token's random bytes, after its `kgrat_` prefix.
const REGISTRATION_TOKEN_BYTES: usize = 32;

pub type ClientSecret = Secret;

pub fn generate_secret() -> Result<ClientSecret, RandomError> {
    Secret::generate(TokenKind::ClientSecret.prefix(), SECRET_BYTES)
}

/// What is stored of a client secret: its argon2id hash and its `hint`.
pub struct StoredSecret {
    pub hash: String,
    pub hint: String,
}

impl StoredSecret {
    /// Hashes `secret` with argon2id (~20 ms of CPU and its memory): call it with no
    /// database connection held.
    pub fn of(secret: &ClientSecret) -> Result<Self, HashError> {
        let bytes = secret.expose().as_bytes();
        Ok(Self {
            hash: Argon2id.hash(bytes)?,
            hint: hint(bytes),
        })
    }
}

/// A short public tag of a secret: the first 8 bytes of a domain-separated SHA-256,
/// in hex. Stored beside each argon2 hash, it tells which of a client's hashes a
/// presented secret can match, so verification always costs one argon2 run. It
/// gives nothing away: the secret has 256 random bits, and 64 bits of a hash of it
/// cannot narrow a search of 2^256.
pub fn hint(secret: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::new()
        .chain_update(b"keygate client secret hint\0")
        .chain_update(secret)
        .finalize();
    digest[..8].iter().map(|b| format!("{b:02x}")).collect()
}

/// A new RFC 7592 registration access token and the digest that is stored of it.
pub fn new_registration_token() -> Result<(Secret, String), RandomError> {
    let token = Secret::generate(
        TokenKind::RegistrationAccessToken.prefix(),
        REGISTRATION_TOKEN_BYTES,
    )?;
    let hash = digest(token.expose());
    Ok((token, hash))
}
