//! PKCE (RFC 7636) as keygate requires it for the authorization code grant: `S256`
//! only (`plain` is refused — RFC 9700 §2.1.1 — and so is a request without a
//! challenge), a challenge kept with the code, and the verifier checked against it
//! at the token endpoint in constant time.
//!
//! The authorization endpoint parses `code_challenge` + `code_challenge_method` into a
//! `CodeChallenge` (`CodeChallenge::parse`); the token endpoint calls
//! `CodeChallenge::verify` with the presented `code_verifier`.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sha2::{Digest, Sha256};

use crate::secret::ct_eq_str;

/// A code verifier is 43 to 128 characters (RFC 7636 §4.1).
const VERIFIER_CHARS: std::ops::RangeInclusive<usize> = 43..=128;
/// An S256 challenge is the unpadded base64url of 32 bytes: 43 characters.
const S256_CHALLENGE_CHARS: usize = 43;

/// Why an authorization request's PKCE parameters are refused. Each maps to an RFC
/// 6749 §4.1.2.1 `invalid_request` whose description is this message.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum ChallengeError {
    #[error(
        "code_challenge is required: keygate requires PKCE (RFC 7636) with S256 for every client"
    )]
    Missing,
    #[error("code_challenge_method must be S256 ('plain' is not accepted)")]
    MethodNotS256,
    #[error("code_challenge must be the base64url SHA-256 of the verifier: 43 characters of A-Z a-z 0-9 - _")]
    Malformed,
}

/// The S256 challenge an authorization code is bound to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CodeChallenge(String);

impl CodeChallenge {
    /// From the authorization request's `code_challenge` and `code_challenge_method`.
    /// RFC 7636 §4.3 makes a missing method mean `plain`, which keygate refuses:
    /// the client must say `S256`.
    pub fn parse(challenge: Option<&str>, method: Option<&str>) -> Result<Self, ChallengeError> {
        let challenge = challenge
            .filter(|c| !c.is_empty())
            .ok_or(ChallengeError::Missing)?;
        if method != Some("S256") {
            return Err(ChallengeError::MethodNotS256);
        }
        let well_formed = challenge.len() == S256_CHALLENGE_CHARS
            && challenge.bytes().all(is_base64url)
            && URL_SAFE_NO_PAD
                .decode(challenge)
                .is_ok_and(|bytes| bytes.len() == 32);
        if !well_formed {
            return Err(ChallengeError::Malformed);
        }
        Ok(Self(challenge.to_owned()))
    }

    /// The challenge as stored with the code.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A challenge read back from storage (written by `parse`).
    pub fn from_stored(text: &str) -> Self {
        Self(text.to_owned())
    }

    /// Whether `verifier` (the token request's `code_verifier`) is the one this
    /// challenge was made from: well formed (RFC 7636 §4.1) and
    /// `BASE64URL(SHA256(verifier)) == challenge`, compared in constant time.
    pub fn verify(&self, verifier: &str) -> bool {
        if !VERIFIER_CHARS.contains(&verifier.len()) || !verifier.bytes().all(is_unreserved) {
            return false;
        }
        let computed = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
        ct_eq_str(&computed, &self.0)
    }
}

/// `ALPHA / DIGIT / "-" / "." / "_" / "~"` (RFC 7636 §4.1).
fn is_unreserved(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~')
}

fn is_base64url(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 7636 Appendix B.
    const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    #[test]
    fn the_rfc_7636_example_verifies() {
        let challenge = CodeChallenge::parse(Some(CHALLENGE), Some("S256")).unwrap();
        assert!(challenge.verify(VERIFIER));
        assert_eq!(CodeChallenge::from_stored(challenge.as_str()), challenge);
    }

    #[test]
    fn a_wrong_or_malformed_verifier_does_not() {
        let challenge = CodeChallenge::parse(Some(CHALLENGE), Some("S256")).unwrap();
        let mut wrong = VERIFIER.to_owned();
        wrong.replace_range(0..1, "e");
        for verifier in [
            wrong.as_str(),
            "",
            // The challenge itself, as a `plain` client would send it.
            CHALLENGE,
            // Too short, too long, and outside the unreserved set.
            &VERIFIER[..42],
            &"a".repeat(129),
            "dBjftJeZ4CVP+mB92K27uhbUJU1p1r/wW1gFWFOEjXk",
        ] {
            assert!(!challenge.verify(verifier), "{verifier}");
        }
    }

    #[test]
    fn plain_a_missing_method_and_a_missing_challenge_are_refused() {
        assert_eq!(
            CodeChallenge::parse(Some(CHALLENGE), Some("plain")),
            Err(ChallengeError::MethodNotS256)
        );
        assert_eq!(
            CodeChallenge::parse(Some(CHALLENGE), None),
            Err(ChallengeError::MethodNotS256)
        );
        assert_eq!(
            CodeChallenge::parse(Some(CHALLENGE), Some("s256")),
            Err(ChallengeError::MethodNotS256)
        );
        assert_eq!(
            CodeChallenge::parse(None, Some("S256")),
            Err(ChallengeError::Missing)
        );
        assert_eq!(
            CodeChallenge::parse(Some(""), Some("S256")),
            Err(ChallengeError::Missing)
        );
    }

    #[test]
    fn a_challenge_that_is_no_sha256_is_refused() {
        for challenge in [
            &CHALLENGE[..42],
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM=",
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw+cM",
            VERIFIER.trim_end_matches('k'),
            &"A".repeat(128),
        ] {
            assert_eq!(
                CodeChallenge::parse(Some(challenge), Some("S256")),
                Err(ChallengeError::Malformed),
                "{challenge}"
            );
        }
    }
}
