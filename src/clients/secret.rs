//! Client secrets: generation (256 bits, URL-safe, recognisable prefix) and argon2id
//! hashing, exposed to oxide-auth as its `PasswordPolicy`.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use oxide_auth::primitives::registrar::{PasswordPolicy, RegistrarError};

use crate::secret::{RandomError, Secret};

/// Lets secret scanners recognise a leaked keygate client secret.
pub const SECRET_PREFIX: &str = "kgs_";
const SECRET_BYTES: usize = 32;

pub type ClientSecret = Secret;

pub fn generate_secret() -> Result<ClientSecret, RandomError> {
    Secret::generate(SECRET_PREFIX, SECRET_BYTES)
}

#[derive(Debug, thiserror::Error)]
#[error("hashing the client secret failed: {0}")]
pub struct HashError(String);

/// argon2id with the OWASP parameters (m = 19 MiB, t = 2, p = 1: the crate's
/// defaults), as a PHC string that records them, so parameters can be raised later
/// without invalidating stored hashes.
#[derive(Clone, Copy, Debug, Default)]
pub struct Argon2id;

impl Argon2id {
    pub fn hash(&self, secret: &[u8]) -> Result<String, HashError> {
        let mut salt = [0u8; 16];
        aws_lc_rs::rand::fill(&mut salt).map_err(|_| HashError("no randomness".into()))?;
        let salt = SaltString::encode_b64(&salt).map_err(|e| HashError(e.to_string()))?;
        Argon2::default()
            .hash_password(secret, &salt)
            .map(|hash| hash.to_string())
            .map_err(|e| HashError(e.to_string()))
    }

    /// Full argon2 verification: ~20 ms and ~19 MiB. Callers bound concurrency.
    pub fn verify(&self, secret: &[u8], phc: &str) -> bool {
        PasswordHash::new(phc)
            .map(|parsed| Argon2::default().verify_password(secret, &parsed).is_ok())
            .unwrap_or(false)
    }
}

impl PasswordPolicy for Argon2id {
    /// oxide-auth's signature has no error path; a failed hash yields an empty
    /// string, which no secret can ever verify against (fail closed). keygate itself
    /// registers clients through `Argon2id::hash`, which reports the error.
    fn store(&self, _client_id: &str, passphrase: &[u8]) -> Vec<u8> {
        self.hash(passphrase)
            .map(String::into_bytes)
            .unwrap_or_default()
    }

    fn check(
        &self,
        _client_id: &str,
        passphrase: &[u8],
        stored: &[u8],
    ) -> Result<(), RegistrarError> {
        let phc = std::str::from_utf8(stored).map_err(|_| RegistrarError::Unspecified)?;
        if self.verify(passphrase, phc) {
            Ok(())
        } else {
            Err(RegistrarError::Unspecified)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_argon2id_phc_and_verify() {
        let secret = generate_secret().unwrap();
        let phc = Argon2id.hash(secret.expose().as_bytes()).unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert!(!phc.contains(secret.expose()));
        assert!(Argon2id.verify(secret.expose().as_bytes(), &phc));
        assert!(!Argon2id.verify(b"kgs_wrong", &phc));
        assert!(!Argon2id.verify(secret.expose().as_bytes(), "not a phc string"));
        assert!(Argon2id
            .check("c", secret.expose().as_bytes(), phc.as_bytes())
            .is_ok());
        assert!(Argon2id.check("c", b"nope", phc.as_bytes()).is_err());
    }
}
