//! argon2id itself: hashing a secret into a PHC string and verifying one, in
//! caller-owned working memory. The work is bounded by `Argon2Budget`; nothing here
//! waits or counts.

use argon2::password_hash::{PasswordHash, PasswordHasher, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use subtle::ConstantTimeEq;

#[derive(Debug, thiserror::Error)]
#[error("hashing the secret failed: {0}")]
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

    /// Full argon2 verification (~20 ms, ~19 MiB) with freshly allocated memory.
    pub fn verify(&self, secret: &[u8], phc: &str) -> bool {
        self.verify_with_memory(secret, phc, &mut Vec::new())
    }

    /// Full argon2 verification in caller-owned working memory, grown as the stored
    /// parameters require. Reusing the memory keeps the process's footprint at
    /// (concurrent verifications × m_cost) instead of letting the allocator hold on to
    /// a fresh 19 MiB per call. The final comparison is constant-time.
    pub fn verify_with_memory(&self, secret: &[u8], phc: &str, memory: &mut Vec<Block>) -> bool {
        self.try_verify(secret, phc, memory).unwrap_or(false)
    }

    fn try_verify(&self, secret: &[u8], phc: &str, memory: &mut Vec<Block>) -> Option<bool> {
        let hash = PasswordHash::new(phc).ok()?;
        let algorithm = Algorithm::try_from(hash.algorithm).ok()?;
        let version = match hash.version {
            Some(v) => Version::try_from(v).ok()?,
            None => Version::default(),
        };
        let params = Params::try_from(&hash).ok()?;
        let blocks = params.block_count();
        if blocks > MAX_MEMORY_BLOCKS {
            return None;
        }
        let expected = hash.hash?;
        let mut salt_buf = [0u8; 64];
        let salt = hash.salt?.decode_b64(&mut salt_buf).ok()?;
        if memory.len() < blocks {
            memory.resize(blocks, Block::default());
        }
        let mut out = vec![0u8; expected.len()];
        Argon2::new(algorithm, version, params)
            .hash_password_into_with_memory(secret, salt, &mut out, &mut memory[..blocks])
            .ok()?;
        Some(out.ct_eq(expected.as_bytes()).into())
    }
}

/// A stored hash asking for more than 256 MiB is refused rather than honoured.
const MAX_MEMORY_BLOCKS: usize = 256 * 1024;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_argon2id_phc_and_verify() {
        let secret = crate::secret::Secret::generate("kgs_", 32).unwrap();
        let phc = Argon2id.hash(secret.expose().as_bytes()).unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert!(!phc.contains(secret.expose()));
        assert!(Argon2id.verify(secret.expose().as_bytes(), &phc));
        assert!(!Argon2id.verify(b"kgs_wrong", &phc));
        assert!(!Argon2id.verify(secret.expose().as_bytes(), "not a phc string"));
        let mut memory = Vec::new();
        assert!(Argon2id.verify_with_memory(secret.expose().as_bytes(), &phc, &mut memory));
        assert_eq!(memory.len(), 19456, "m = 19 MiB in 1 KiB blocks");
        assert!(!Argon2id.verify_with_memory(b"kgs_wrong", &phc, &mut memory));
        // Hashes with other parameters (e.g. raised later) still verify.
        let stronger = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(32768, 3, 1, None).unwrap(),
        )
        .hash_password(b"pw", &SaltString::encode_b64(b"0123456789abcdef").unwrap())
        .unwrap()
        .to_string();
        assert!(Argon2id.verify_with_memory(b"pw", &stronger, &mut memory));
        assert_eq!(memory.len(), 32768);
    }
}
