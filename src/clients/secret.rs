//! Client secrets: generation (256 bits, URL-safe, recognisable prefix) and the
//! hint stored beside each hash. Hashing and verifying them is `argon2_budget`'s.

use crate::secret::{RandomError, Secret};
use crate::tokens::TokenKind;

/// Lets secret scanners recognise a leaked keygate client secret.
const SECRET_BYTES: usize = 32;

pub type ClientSecret = Secret;

pub fn generate_secret() -> Result<ClientSecret, RandomError> {
    Secret::generate(TokenKind::ClientSecret.prefix(), SECRET_BYTES)
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
