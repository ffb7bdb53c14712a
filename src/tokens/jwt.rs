//! RFC 9068 access tokens. Encoding is done here rather than by
//! `jsonwebtoken::encode`, which re-parses the private key on every call; the key
//! pair and the encoded header are prepared once per key at load (see `signing_keys::ring`).
//! Verification (resource servers, and keygate's own resolver) uses `jsonwebtoken`.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::Serialize;

use super::signing_keys::{LoadedKey, SignError};

/// The claims of a keygate access token (RFC 9068 §2.2, plus `org`).
#[derive(Debug, Serialize)]
pub struct AccessTokenClaims<'a> {
    pub iss: &'a str,
    pub sub: &'a str,
    pub aud: &'a str,
    pub client_id: &'a str,
    pub scope: &'a str,
    pub iat: i64,
    pub exp: i64,
    pub jti: &'a str,
    pub org: &'a str,
}

/// `header.claims.signature`, signed with `key`.
pub fn encode(key: &LoadedKey, claims: &impl Serialize) -> Result<String, SignError> {
    let claims = serde_json::to_vec(claims).map_err(|_| SignError)?;
    let header = key.encoded_header();
    let mut token = String::with_capacity(header.len() + claims.len() * 4 / 3 + 128);
    token.push_str(header);
    token.push('.');
    URL_SAFE_NO_PAD.encode_string(&claims, &mut token);
    let signature = key.sign(token.as_bytes())?;
    token.push('.');
    URL_SAFE_NO_PAD.encode_string(&signature, &mut token);
    Ok(token)
}
