//! JWTs as a resource server and as an attacker see them: verification against the
//! published JWKS, a token's segments decoded, and tokens put together by hand —
//! tampered payloads, forged headers, and headers only the checks after the
//! signature can refuse, signed with the app's own active key.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{DecodingKey, Validation};
use serde_json::Value;

use super::{TestApp, ISSUER};

impl TestApp {
    pub async fn jwks(&self) -> JwkSet {
        let jwks = self.public_json("/.well-known/jwks.json").await;
        serde_json::from_value(jwks).unwrap()
    }

    /// Verifies an access token as a resource server would: key from the published
    /// JWKS by `kid`, algorithm pinned to the key's, `iss`, `aud` and `exp` checked.
    pub async fn verify(&self, token: &str, audience: &str) -> Value {
        let header = jsonwebtoken::decode_header(token).unwrap();
        assert_eq!(header.typ.as_deref(), Some("at+jwt"));
        let jwks = self.jwks().await;
        let jwk = jwks
            .find(header.kid.as_deref().unwrap())
            .expect("kid published in JWKS");
        let alg = jwk
            .common
            .key_algorithm
            .unwrap()
            .to_string()
            .parse()
            .unwrap();
        assert_eq!(header.alg, alg);
        let mut validation = Validation::new(alg);
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        jsonwebtoken::decode::<Value>(token, &DecodingKey::from_jwk(jwk).unwrap(), &validation)
            .unwrap()
            .claims
    }
}

/// Segment `index` of a JWT (0: the header, 1: the claims), decoded.
pub fn segment(token: &str, index: usize) -> Value {
    let part = token.split('.').nth(index).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

/// The `kid` in a JWT's header.
pub fn kid_of(token: &str) -> String {
    segment(token, 0)["kid"].as_str().unwrap().to_owned()
}

/// A JSON value as a JWT segment (base64url, no padding).
pub fn encode_segment(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(value.to_string())
}

/// `header.claims.signature`, each encoded; an empty `signature` leaves the last
/// segment empty (`alg: none`).
pub fn assemble(header: &Value, claims: &Value, signature: &[u8]) -> String {
    format!(
        "{}.{}.{}",
        encode_segment(header),
        encode_segment(claims),
        URL_SAFE_NO_PAD.encode(signature)
    )
}

/// `token` with its claims replaced and its header and signature kept (a tampered
/// payload).
pub fn with_claims(token: &str, claims: &Value) -> String {
    let parts: Vec<&str> = token.split('.').collect();
    format!("{}.{}.{}", parts[0], encode_segment(claims), parts[2])
}

/// `header` and `claims` signed with the app's active key.
pub fn signed_by_keygate(app: &TestApp, header: &Value, claims: &Value) -> String {
    let ring = keygate::tokens::KeyRing::load(&app.settings.keys_dir).unwrap();
    let message = format!("{}.{}", encode_segment(header), encode_segment(claims));
    let signature = ring.active().sign(message.as_bytes()).unwrap();
    format!("{message}.{}", URL_SAFE_NO_PAD.encode(signature))
}
