//! What a signing key is: its algorithm, lifecycle state and `<kid>.json` metadata,
//! the errors of handling keys, and the parsed private key (`KeyPair`) that signs.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{
    EcdsaKeyPair, Ed25519KeyPair, KeyPair as _, RsaKeyPair, ECDSA_P256_SHA256_FIXED_SIGNING,
    RSA_PKCS1_SHA256,
};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Utc};
use jsonwebtoken::jwk::Jwk;
use serde::{Deserialize, Serialize};

/// The algorithms keygate signs with; anything else is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum KeyAlg {
    ES256,
    RS256,
    EdDSA,
}

impl KeyAlg {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ES256 => "ES256",
            Self::RS256 => "RS256",
            Self::EdDSA => "EdDSA",
        }
    }

    pub fn jsonwebtoken(self) -> jsonwebtoken::Algorithm {
        match self {
            Self::ES256 => jsonwebtoken::Algorithm::ES256,
            Self::RS256 => jsonwebtoken::Algorithm::RS256,
            Self::EdDSA => jsonwebtoken::Algorithm::EdDSA,
        }
    }
}

impl FromStr for KeyAlg {
    type Err = KeyError;

    fn from_str(s: &str) -> Result<Self, KeyError> {
        match s {
            "ES256" => Ok(Self::ES256),
            "RS256" => Ok(Self::RS256),
            "EdDSA" => Ok(Self::EdDSA),
            other => Err(KeyError::UnsupportedAlg(other.to_owned())),
        }
    }
}

impl fmt::Display for KeyAlg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyState {
    Pending,
    Active,
    Retired,
}

/// The `<kid>.json` file: everything about a key except the key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyMeta {
    pub kid: String,
    pub alg: KeyAlg,
    pub state: KeyState,
    pub created_at: DateTime<Utc>,
    pub activated_at: Option<DateTime<Utc>>,
    pub retired_at: Option<DateTime<Utc>>,
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("unsupported signing algorithm '{0}'; use ES256, RS256 or EdDSA")]
    UnsupportedAlg(String),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {reason}")]
    Invalid { path: PathBuf, reason: String },
    #[error("key generation failed")]
    Generation,
    #[error("no signing key with kid '{0}'")]
    UnknownKid(String),
    #[error("{0} is the active signing key; generate and activate another key first")]
    RetireActive(String),
    #[error("key {kid} is {state:?}; only a {expected} key can be {action}")]
    WrongState {
        kid: String,
        state: KeyState,
        expected: &'static str,
        action: &'static str,
    },
    #[error(
        "key {kid} signed tokens that may be valid until {until}; removing it now would break them"
    )]
    StillNeeded { kid: String, until: DateTime<Utc> },
    #[error("more than one active signing key: {0:?}")]
    SeveralActive(Vec<String>),
    #[error("no active signing key in {0}; run `keygate signing-key generate`")]
    NoActive(PathBuf),
    #[error(
        "{} is open to other users (mode {mode:o}); run `chmod {fix} {}`, or set allow_loose_key_permissions if that is meant",
        .path.display(), .path.display()
    )]
    OpenToOthers {
        path: PathBuf,
        mode: u32,
        /// The mode to `chmod` it to.
        fix: &'static str,
    },
}

pub(super) fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> KeyError + '_ {
    move |source| KeyError::Io {
        path: path.to_owned(),
        source,
    }
}

pub(super) fn invalid(path: &Path, reason: impl fmt::Display) -> KeyError {
    KeyError::Invalid {
        path: path.to_owned(),
        reason: reason.to_string(),
    }
}

#[derive(Debug, thiserror::Error)]
#[error("signing failed")]
pub struct SignError;

/// A parsed private key, ready to sign.
pub(super) enum KeyPair {
    Es256(EcdsaKeyPair),
    Rs256(RsaKeyPair),
    EdDsa(Ed25519KeyPair),
}

impl KeyPair {
    pub(super) fn from_pkcs8(alg: KeyAlg, der: &[u8]) -> Result<Self, String> {
        let rejected = |e: aws_lc_rs::error::KeyRejected| format!("not a {alg} PKCS#8 key ({e})");
        Ok(match alg {
            KeyAlg::ES256 => Self::Es256(
                EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der)
                    .map_err(rejected)?,
            ),
            KeyAlg::RS256 => {
                let pair = RsaKeyPair::from_pkcs8(der).map_err(rejected)?;
                if pair.public_modulus_len() < 256 {
                    return Err("RSA keys must be at least 2048 bits".into());
                }
                Self::Rs256(pair)
            }
            KeyAlg::EdDSA => Self::EdDsa(Ed25519KeyPair::from_pkcs8(der).map_err(rejected)?),
        })
    }

    pub(super) fn generate(alg: KeyAlg) -> Result<Vec<u8>, KeyError> {
        let rng = SystemRandom::new();
        let der = match alg {
            KeyAlg::ES256 => EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
                .map(|doc| doc.as_ref().to_vec()),
            KeyAlg::RS256 => RsaKeyPair::generate(KeySize::Rsa2048)
                .and_then(|pair| pair.as_der())
                .map(|der| der.as_ref().to_vec()),
            KeyAlg::EdDSA => Ed25519KeyPair::generate_pkcs8(&rng).map(|doc| doc.as_ref().to_vec()),
        };
        der.map_err(|_| KeyError::Generation)
    }

    pub(super) fn sign(&self, message: &[u8]) -> Result<Vec<u8>, SignError> {
        match self {
            Self::Es256(pair) => pair
                .sign(&SystemRandom::new(), message)
                .map(|sig| sig.as_ref().to_vec())
                .map_err(|_| SignError),
            Self::Rs256(pair) => {
                let mut signature = vec![0; pair.public_modulus_len()];
                pair.sign(
                    &RSA_PKCS1_SHA256,
                    &SystemRandom::new(),
                    message,
                    &mut signature,
                )
                .map_err(|_| SignError)?;
                Ok(signature)
            }
            Self::EdDsa(pair) => Ok(pair.sign(message).as_ref().to_vec()),
        }
    }

    /// The public JWK (RFC 7517), without `kid`.
    pub(super) fn public_jwk(&self) -> Result<Jwk, String> {
        let b64 = |bytes: &[u8]| URL_SAFE_NO_PAD.encode(bytes);
        let json = match self {
            Self::Es256(pair) => {
                // Uncompressed SEC1 point: 0x04 ‖ x ‖ y.
                let point = pair.public_key().as_ref();
                if point.len() != 65 {
                    return Err("unexpected P-256 public key length".into());
                }
                serde_json::json!({"kty": "EC", "crv": "P-256",
                    "x": b64(&point[1..33]), "y": b64(&point[33..])})
            }
            Self::Rs256(pair) => {
                let public = pair.public_key();
                serde_json::json!({"kty": "RSA",
                    "n": b64(public.modulus().big_endian_without_leading_zero()),
                    "e": b64(public.exponent().big_endian_without_leading_zero())})
            }
            Self::EdDsa(pair) => {
                serde_json::json!({"kty": "OKP", "crv": "Ed25519", "x": b64(pair.public_key().as_ref())})
            }
        };
        serde_json::from_value(json).map_err(|e| e.to_string())
    }
}
