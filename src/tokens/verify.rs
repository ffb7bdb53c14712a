//! Verifying keygate's own access tokens, the first step of the one liveness check
//! (`identity::access_token`) behind the resolver, forward-auth, introspection and
//! revocation: the key is chosen by `kid` among published keys, the algorithm is
//! pinned to that key's (never the header's say-so, so `none` and
//! HMAC-with-a-public-key cannot pass), `typ` must be `at+jwt` (RFC 9068 §4), `iss`
//! must be ours, `exp` is checked against keygate's clock exactly and `nbf`/`iat` with
//! a small leeway for clock skew. Embedded or referenced keys (`jwk`, `jku`, `x5u`)
//! are never used, and a header with `crit` is refused: keygate's tokens use no JWS
//! extensions, so any listed one is one keygate does not understand (RFC 7515
//! §4.1.11).

use chrono::{DateTime, Utc};
use jsonwebtoken::Validation;
use serde::{Deserialize, Serialize};

use super::KeyRing;
use crate::ids::{ClientId, OrgId};

/// Clock skew tolerated on `nbf` and `iat` (a token a little ahead of this instance's
/// clock); never on `exp`.
pub const LEEWAY_SECS: i64 = 30;
/// Longer input is not a keygate token; refuse before parsing.
const MAX_TOKEN_LEN: usize = 8 * 1024;

/// The claims of a verified keygate access token.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
pub struct VerifiedClaims {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    pub client_id: ClientId,
    pub scope: String,
    pub iat: i64,
    pub exp: i64,
    pub jti: String,
    pub org: OrgId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum VerifyError {
    #[error("not a well-formed keygate access token")]
    Malformed,
    #[error("signed with an unknown key")]
    UnknownKey,
    #[error("algorithm does not match the key's")]
    AlgorithmMismatch,
    #[error("not an access token (typ)")]
    WrongType,
    #[error("signature or claims invalid")]
    Invalid,
    #[error("issued by another issuer")]
    WrongIssuer,
    #[error("expired")]
    Expired,
    #[error("not yet valid")]
    NotYetValid,
    #[error("uses a JWS extension keygate does not support (crit)")]
    UnsupportedExtension,
}

impl KeyRing {
    pub fn verify_access_token(
        &self,
        token: &str,
        issuer: &str,
        now: DateTime<Utc>,
    ) -> Result<VerifiedClaims, VerifyError> {
        if token.len() > MAX_TOKEN_LEN || token.bytes().filter(|&b| b == b'.').count() != 2 {
            return Err(VerifyError::Malformed);
        }
        let header = jsonwebtoken::decode_header(token).map_err(|_| VerifyError::Malformed)?;
        if header.crit.is_some() {
            return Err(VerifyError::UnsupportedExtension);
        }
        let kid = header.kid.as_deref().ok_or(VerifyError::UnknownKey)?;
        let key = self.find(kid).ok_or(VerifyError::UnknownKey)?;
        let alg = key.meta().alg.jsonwebtoken();
        if header.alg != alg {
            return Err(VerifyError::AlgorithmMismatch);
        }
        let typ = header
            .typ
            .as_deref()
            .unwrap_or_default()
            .to_ascii_lowercase();
        if typ != "at+jwt" && typ != "application/at+jwt" {
            return Err(VerifyError::WrongType);
        }
        let mut validation = Validation::new(alg);
        validation.validate_exp = false; // checked below against keygate's clock
        validation.validate_nbf = false;
        validation.validate_aud = false; // introspection reports it; callers decide
        validation.set_required_spec_claims(&["exp", "iss", "sub"]);
        let claims = jsonwebtoken::decode::<VerifiedClaims>(token, key.decoding_key(), &validation)
            .map_err(|_| VerifyError::Invalid)?
            .claims;
        if claims.iss != issuer {
            return Err(VerifyError::WrongIssuer);
        }
        // Saturating: the claims are attacker-chosen numbers until the signature checks
        // out, and a signed one at i64's ends must still be refused, not overflow.
        let now = now.timestamp();
        if claims.exp <= now {
            return Err(VerifyError::Expired);
        }
        if claims
            .nbf
            .is_some_and(|nbf| nbf.saturating_sub(LEEWAY_SECS) > now)
            || claims.iat.saturating_sub(LEEWAY_SECS) > now
        {
            return Err(VerifyError::NotYetValid);
        }
        Ok(claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tokens::{jwt, signing_keys, KeyAlg};
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;

    const ISS: &str = "https://keygate.test";

    fn ring() -> (tempfile::TempDir, KeyRing) {
        let dir = tempfile::tempdir().unwrap();
        signing_keys::generate(dir.path(), KeyAlg::ES256, Utc::now()).unwrap();
        let ring = KeyRing::load(dir.path()).unwrap();
        (dir, ring)
    }

    fn claims(now: i64) -> serde_json::Value {
        serde_json::json!({"iss": ISS, "sub": "kgc_1", "aud": ISS, "client_id": "kgc_1",
            "scope": "read", "iat": now, "exp": now + 300, "jti": "j1", "org": "org_1"})
    }

    fn forge(header: serde_json::Value, claims: &serde_json::Value, signature: &[u8]) -> String {
        format!(
            "{}.{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string()),
            URL_SAFE_NO_PAD.encode(signature)
        )
    }

    #[test]
    fn accepts_its_own_tokens_until_exp_and_not_before_with_leeway() {
        let (_dir, ring) = ring();
        let now = Utc::now();
        let token = jwt::encode(ring.active(), &claims(now.timestamp())).unwrap();
        assert_eq!(
            ring.verify_access_token(&token, ISS, now)
                .unwrap()
                .client_id,
            "kgc_1"
        );
        let later = now + chrono::Duration::seconds(299);
        assert!(ring.verify_access_token(&token, ISS, later).is_ok());
        let expired = now + chrono::Duration::seconds(300);
        assert_eq!(
            ring.verify_access_token(&token, ISS, expired),
            Err(VerifyError::Expired)
        );
        let early = now - chrono::Duration::seconds(LEEWAY_SECS + 1);
        assert_eq!(
            ring.verify_access_token(&token, ISS, early),
            Err(VerifyError::NotYetValid)
        );
        assert_eq!(
            ring.verify_access_token(&token, "https://other", now),
            Err(VerifyError::WrongIssuer)
        );
    }

    #[test]
    fn refuses_hostile_tokens() {
        let (_dir, ring) = ring();
        let now = Utc::now();
        let kid = ring.active().kid().to_owned();
        let c = claims(now.timestamp());
        let none = forge(
            serde_json::json!({"alg": "none", "typ": "at+jwt", "kid": kid}),
            &c,
            b"",
        );
        assert_eq!(
            ring.verify_access_token(&none, ISS, now),
            Err(VerifyError::Malformed)
        );
        // HMAC keyed with the public key: refused by the pinned algorithm.
        let hs = forge(
            serde_json::json!({"alg": "HS256", "typ": "at+jwt", "kid": kid}),
            &c,
            b"sig",
        );
        assert_eq!(
            ring.verify_access_token(&hs, ISS, now),
            Err(VerifyError::AlgorithmMismatch)
        );
        let unknown = forge(
            serde_json::json!({"alg": "ES256", "typ": "at+jwt", "kid": "nope"}),
            &c,
            b"sig",
        );
        assert_eq!(
            ring.verify_access_token(&unknown, ISS, now),
            Err(VerifyError::UnknownKey)
        );
        let typ = forge(
            serde_json::json!({"alg": "ES256", "typ": "JWT", "kid": kid}),
            &c,
            b"sig",
        );
        assert_eq!(
            ring.verify_access_token(&typ, ISS, now),
            Err(VerifyError::WrongType)
        );
        // An embedded key is ignored; the signature is checked against ours.
        let embedded = forge(
            serde_json::json!({"alg": "ES256", "typ": "at+jwt", "kid": kid, "jwk": {"kty": "EC"}, "jku": "https://evil"}),
            &c,
            &[0u8; 64],
        );
        assert_eq!(
            ring.verify_access_token(&embedded, ISS, now),
            Err(VerifyError::Invalid)
        );
        // A tampered payload.
        let token = jwt::encode(ring.active(), &c).unwrap();
        let mut parts: Vec<&str> = token.split('.').collect();
        let mut widened = c.clone();
        widened["scope"] = "admin".into();
        let payload = URL_SAFE_NO_PAD.encode(widened.to_string());
        parts[1] = &payload;
        assert_eq!(
            ring.verify_access_token(&parts.join("."), ISS, now),
            Err(VerifyError::Invalid)
        );
        for garbage in ["", "a.b", "a.b.c", &"x".repeat(10_000)] {
            assert!(ring.verify_access_token(garbage, ISS, now).is_err());
        }
    }

    /// Signed with keygate's own key, so only the checks after the signature decide.
    fn signed(ring: &KeyRing, header: serde_json::Value, claims: &serde_json::Value) -> String {
        let message = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let signature = ring.active().sign(message.as_bytes()).unwrap();
        format!("{message}.{}", URL_SAFE_NO_PAD.encode(signature))
    }

    #[test]
    fn refuses_critical_extensions_even_when_signed() {
        let (_dir, ring) = ring();
        let now = Utc::now();
        let kid = ring.active().kid().to_owned();
        let c = claims(now.timestamp());
        let plain = signed(
            &ring,
            serde_json::json!({"alg": "ES256", "typ": "at+jwt", "kid": kid}),
            &c,
        );
        assert!(ring.verify_access_token(&plain, ISS, now).is_ok());
        for (crit, expected) in [
            (
                serde_json::json!(["exp"]),
                VerifyError::UnsupportedExtension,
            ),
            (serde_json::json!([]), VerifyError::UnsupportedExtension),
            (serde_json::json!("b64"), VerifyError::Malformed),
        ] {
            let token = signed(
                &ring,
                serde_json::json!({"alg": "ES256", "typ": "at+jwt", "kid": kid, "crit": crit}),
                &c,
            );
            assert_eq!(
                ring.verify_access_token(&token, ISS, now),
                Err(expected),
                "{crit}"
            );
        }
        // A referenced key is ignored, not fetched: the token verifies against ours.
        let referenced = signed(
            &ring,
            serde_json::json!({"alg": "ES256", "typ": "at+jwt", "kid": kid, "jku": "https://evil.example/jwks", "x5u": "https://evil.example/cert"}),
            &c,
        );
        assert!(ring.verify_access_token(&referenced, ISS, now).is_ok());
    }

    #[test]
    fn far_and_extreme_timestamps_are_refused_without_overflow() {
        let (_dir, ring) = ring();
        let now = Utc::now();
        let kid = ring.active().kid().to_owned();
        let header = serde_json::json!({"alg": "ES256", "typ": "at+jwt", "kid": kid});
        let year_3000 = 32_503_680_000_i64;
        let cases = [
            (
                "iat",
                serde_json::json!(year_3000),
                VerifyError::NotYetValid,
            ),
            (
                "nbf",
                serde_json::json!(year_3000),
                VerifyError::NotYetValid,
            ),
            ("iat", serde_json::json!(i64::MAX), VerifyError::NotYetValid),
            ("nbf", serde_json::json!(i64::MAX), VerifyError::NotYetValid),
            // Negative, or not an integer at all: the claims do not validate.
            ("exp", serde_json::json!(i64::MIN), VerifyError::Invalid),
            ("exp", serde_json::json!(1e300), VerifyError::Invalid),
            ("iat", serde_json::json!("tomorrow"), VerifyError::Invalid),
        ];
        for (claim, value, expected) in cases {
            let mut c = claims(now.timestamp());
            c[claim] = value;
            let token = signed(&ring, header.clone(), &c);
            assert_eq!(
                ring.verify_access_token(&token, ISS, now),
                Err(expected),
                "{claim}"
            );
        }
        // iat at i64::MIN and exp at i64::MAX are absurd but only keygate can sign
        // them; what matters is that the arithmetic does not overflow.
        let mut c = claims(now.timestamp());
        c["iat"] = i64::MIN.into();
        c["exp"] = i64::MAX.into();
        assert!(ring
            .verify_access_token(&signed(&ring, header, &c), ISS, now)
            .is_ok());
    }
}
