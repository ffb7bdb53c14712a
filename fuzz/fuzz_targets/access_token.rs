//! `KeyRing::verify_access_token`, against a ring of three keys generated at start-up
//! (ES256 active, RS256 and EdDSA pending). The first line of the input picks a mode;
//! `$KID0`…`$KID2` in the rest stand for the keys' ids (random per run):
//!
//! - `raw` — the rest is the token text. Never accepted.
//! - `forge` — lines: header JSON, payload bytes, signature bytes; base64url-encoded
//!   and joined. Never accepted (no one here holds a key).
//! - `sign N` — the rest is the payload, signed by key N with keygate's own header.
//! - `sign-header N` — lines: header JSON, payload; signed by key N. A genuine
//!   signature under any header the fuzzer likes (algorithm, `typ`, `kid`, `jwk`…).
//!
//! Never panics; a signed token is accepted only under the signing key's own `kid`
//! and algorithm with `typ` at+jwt, keygate's issuer and a current lifetime.
#![no_main]

use std::sync::OnceLock;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Utc};
use keygate::tokens::verify::LEEWAY_SECS;
use keygate::tokens::{signing_keys, KeyAlg, KeyRing};
use libfuzzer_sys::fuzz_target;

const ISSUER: &str = "https://keygate.test";
const NOW: i64 = 1_750_000_000;

struct Fixture {
    _dir: tempfile::TempDir,
    ring: KeyRing,
    kids: Vec<String>,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let dir = tempfile::tempdir().expect("temp dir");
        let created = DateTime::from_timestamp(NOW - 3600, 0).expect("time");
        let kids = [KeyAlg::ES256, KeyAlg::RS256, KeyAlg::EdDSA]
            .into_iter()
            .map(|alg| signing_keys::generate(dir.path(), alg, created).expect("key").kid)
            .collect();
        let ring = KeyRing::load(dir.path()).expect("ring");
        Fixture {
            _dir: dir,
            ring,
            kids,
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let fixture = fixture();
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut text = text.to_owned();
    for (i, kid) in fixture.kids.iter().enumerate() {
        text = text.replace(&format!("$KID{i}"), kid);
    }
    let (mode, rest) = text.split_once('\n').unwrap_or((&text, ""));
    let now = DateTime::from_timestamp(NOW, 0).expect("time");
    let b64 = |bytes: &[u8]| URL_SAFE_NO_PAD.encode(bytes);
    let mut parts = mode.split(' ');
    let (mode, key) = (parts.next().unwrap_or_default(), parts.next());
    let signer = key
        .and_then(|n| n.parse::<usize>().ok())
        .and_then(|n| fixture.kids.get(n % 3))
        .and_then(|kid| fixture.ring.find(kid));

    let verdict = |token: &str| fixture.ring.verify_access_token(token, ISSUER, now);
    match (mode, signer) {
        ("raw", _) => assert!(verdict(rest).is_err(), "accepted raw text"),
        ("forge", _) => {
            let mut lines = rest.splitn(3, '\n');
            let (header, payload, signature) = (
                lines.next().unwrap_or_default(),
                lines.next().unwrap_or_default(),
                lines.next().unwrap_or_default(),
            );
            let token = format!(
                "{}.{}.{}",
                b64(header.as_bytes()),
                b64(payload.as_bytes()),
                b64(signature.as_bytes())
            );
            assert!(verdict(&token).is_err(), "accepted a forged token");
        }
        ("sign", Some(key)) => {
            let message = format!("{}.{}", key.encoded_header(), b64(rest.as_bytes()));
            check_signed(&message, key, true, now);
        }
        ("sign-header", Some(key)) => {
            let (header, payload) = rest.split_once('\n').unwrap_or((rest, ""));
            let message = format!("{}.{}", b64(header.as_bytes()), b64(payload.as_bytes()));
            let own_header = serde_json::from_str::<serde_json::Value>(header)
                .ok()
                .is_some_and(|h| {
                    let typ = h["typ"].as_str().map(str::to_ascii_lowercase);
                    h["alg"].as_str() == Some(key.meta().alg.as_str())
                        && h["kid"].as_str() == Some(key.kid())
                        && matches!(typ.as_deref(), Some("at+jwt" | "application/at+jwt"))
                });
            check_signed(&message, key, own_header, now);
        }
        _ => {}
    }
});

/// Signs `message` with `key` and checks what the verifier makes of it.
fn check_signed(message: &str, key: &signing_keys::LoadedKey, own_header: bool, now: DateTime<Utc>) {
    let Ok(signature) = key.sign(message.as_bytes()) else {
        return;
    };
    let token = format!("{message}.{}", URL_SAFE_NO_PAD.encode(signature));
    let Ok(claims) = fixture().ring.verify_access_token(&token, ISSUER, now) else {
        return;
    };
    assert!(own_header, "accepted a header not keygate's: {token}");
    assert_eq!(claims.iss, ISSUER);
    let (now, leeway) = (i128::from(now.timestamp()), i128::from(LEEWAY_SECS));
    assert!(
        i128::from(claims.exp) + leeway > now,
        "accepted an expired token"
    );
    assert!(i128::from(claims.iat) - leeway <= now);
    assert!(claims.nbf.is_none_or(|nbf| i128::from(nbf) - leeway <= now));
}
