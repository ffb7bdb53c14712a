//! Secret values (client secrets, and later API keys and refresh tokens): a newtype
//! that never prints, never serializes and compares in constant time, and the one
//! source of server-generated randomness.

use std::fmt;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// A secret string. `Debug` is redacted and there is deliberately no `Serialize`,
/// `Display` or `Clone`: the only way to the bytes is `expose`, at the one place
/// that shows or hashes them.
pub struct Secret(String);

impl Secret {
    pub fn new(value: String) -> Self {
        Self(value)
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Constant-time equality, for comparing against a presented value.
    pub fn ct_eq(&self, other: &[u8]) -> bool {
        self.0.as_bytes().ct_eq(other).into()
    }

    /// `prefix` followed by `bytes` bytes from the operating system's CSPRNG, in
    /// URL-safe base64 without padding.
    pub fn generate(prefix: &str, bytes: usize) -> Result<Self, RandomError> {
        let mut buf = vec![0u8; bytes];
        aws_lc_rs::rand::fill(&mut buf).map_err(|_| RandomError)?;
        Ok(Self(format!("{prefix}{}", URL_SAFE_NO_PAD.encode(&buf))))
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

/// What is stored and looked up for a high-entropy token (API key, refresh token):
/// base64url(SHA-256(token)). With 256 bits of entropy a fast hash is the right one
/// (GitHub, crates.io and Unkey do the same); argon2 is for human-chosen or
/// long-lived client secrets.
pub fn digest(token: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(token.as_bytes()))
}

/// Constant-time equality of two digests (or any two byte strings).
pub fn ct_eq_str(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

#[derive(Debug, thiserror::Error)]
#[error("the system random number generator failed")]
pub struct RandomError;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_is_redacted() {
        let s = Secret::new("kgs_topsecret".into());
        assert_eq!(format!("{s:?}"), "Secret([redacted])");
        assert!(!format!("{:?}", Some(&s)).contains("topsecret"));
    }

    #[test]
    fn generated_secrets_are_long_urlsafe_and_distinct() {
        let a = Secret::generate("kgs_", 32).unwrap();
        let b = Secret::generate("kgs_", 32).unwrap();
        assert!(a.expose().starts_with("kgs_"));
        assert_eq!(a.expose().len(), 4 + 43); // 256 bits
        assert!(a.expose()[4..]
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
        assert!(!a.ct_eq(b.expose().as_bytes()));
        assert!(a.ct_eq(a.expose().as_bytes()));
    }
}
