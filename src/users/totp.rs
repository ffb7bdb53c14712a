//! TOTP second factor (RFC 6238 over RFC 4226 HOTP): HMAC-SHA-1, 6 digits, a 30 s step,
//! one step of drift either way. The HMAC is aws-lc-rs's (already a direct dependency for
//! JWT signing), so no new crate enters the tree for it; base32 (RFC 4648, no padding) is
//! the few lines below. A code is single use: `verify` refuses any step at or before the
//! last one accepted, which the caller stores with the enrolment.

use aws_lc_rs::hmac;
use subtle::ConstantTimeEq;

/// Length of a TOTP step in seconds (RFC 6238 default).
pub const STEP_SECONDS: i64 = 30;
/// Digits in a code.
pub const DIGITS: u32 = 6;
/// Steps of clock drift accepted either side of the current one.
pub const DRIFT_STEPS: i64 = 1;
/// Bytes of a generated secret (160 bits, RFC 4226 §4 recommends ≥ 128, SHA-1's block).
pub const SECRET_BYTES: usize = 20;

/// A TOTP shared secret. Redacting `Debug`, no `Serialize`.
#[derive(Clone, PartialEq, Eq)]
pub struct TotpSecret(Vec<u8>);

impl std::fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TotpSecret(<redacted>)")
    }
}

impl TotpSecret {
    /// A fresh random secret from the system's CSPRNG.
    pub fn generate() -> Result<Self, aws_lc_rs::error::Unspecified> {
        let mut bytes = vec![0u8; SECRET_BYTES];
        aws_lc_rs::rand::fill(&mut bytes)?;
        Ok(Self(bytes))
    }

    /// A secret from its raw bytes (as decrypted from storage).
    pub fn from_bytes(bytes: Vec<u8>) -> Self {
        Self(bytes)
    }

    /// The raw bytes (to be encrypted for storage — never stored as they are).
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The secret as base32 text, what an authenticator app accepts typed in.
    pub fn to_base32(&self) -> String {
        base32_encode(&self.0)
    }

    /// The `otpauth://totp/…` URI an authenticator app imports (Key Uri Format).
    pub fn otpauth_uri(&self, issuer: &str, account: &str) -> String {
        format!(
            "otpauth://totp/{}:{}?secret={}&issuer={}&algorithm=SHA1&digits={DIGITS}&period={STEP_SECONDS}",
            uri_escape(issuer),
            uri_escape(account),
            self.to_base32(),
            uri_escape(issuer),
        )
    }
}

/// The TOTP step a Unix time (seconds) falls in.
pub fn step_of(unix_seconds: i64) -> i64 {
    unix_seconds.div_euclid(STEP_SECONDS)
}

/// The HOTP value (RFC 4226 §5.3) of `secret` at counter `step`, as a number < 10^DIGITS.
pub fn code_at(secret: &TotpSecret, step: i64) -> u32 {
    let key = hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, secret.as_bytes());
    let tag = hmac::sign(&key, &step.to_be_bytes());
    let mac = tag.as_ref();
    let offset = usize::from(mac[mac.len() - 1] & 0x0f);
    let binary = (u32::from(mac[offset]) & 0x7f) << 24
        | u32::from(mac[offset + 1]) << 16
        | u32::from(mac[offset + 2]) << 8
        | u32::from(mac[offset + 3]);
    binary % 10u32.pow(DIGITS)
}

/// The code for `step`, zero-padded to DIGITS characters.
pub fn code_text(secret: &TotpSecret, step: i64) -> String {
    format!("{:0width$}", code_at(secret, step), width = DIGITS as usize)
}

/// Checks `code` at `unix_seconds` within the drift window, refusing every step at or
/// before `last_used_step` (replay). Returns the step that matched, which the caller
/// stores as the new `last_used_step`. A code that is not exactly DIGITS ASCII digits
/// (spaces are ignored) never matches. Every candidate step is compared in constant time.
pub fn verify(
    secret: &TotpSecret,
    code: &str,
    unix_seconds: i64,
    last_used_step: Option<i64>,
) -> Option<i64> {
    let typed: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    if typed.len() != DIGITS as usize || !typed.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let now = step_of(unix_seconds);
    let mut matched = None;
    for step in (now - DRIFT_STEPS)..=(now + DRIFT_STEPS) {
        let equal: bool = code_text(secret, step)
            .as_bytes()
            .ct_eq(typed.as_bytes())
            .into();
        let fresh = last_used_step.is_none_or(|last| step > last);
        if equal && fresh && matched.is_none() {
            matched = Some(step);
        }
    }
    matched
}

const BASE32_ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// RFC 4648 base32, upper case, no padding.
pub fn base32_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(5) * 8);
    let (mut buffer, mut bits) = (0u32, 0u32);
    for &byte in bytes {
        buffer = (buffer << 8) | u32::from(byte);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(
                BASE32_ALPHABET[((buffer >> bits) & 31) as usize],
            ));
        }
    }
    if bits > 0 {
        out.push(char::from(
            BASE32_ALPHABET[((buffer << (5 - bits)) & 31) as usize],
        ));
    }
    out
}

/// Decodes RFC 4648 base32 (case-insensitive; spaces and `=` padding ignored). `None` on
/// any other character.
pub fn base32_decode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() * 5 / 8);
    let (mut buffer, mut bits) = (0u32, 0u32);
    for c in text.chars().filter(|c| !c.is_whitespace() && *c != '=') {
        let upper = c.to_ascii_uppercase();
        let value = BASE32_ALPHABET
            .iter()
            .position(|&a| char::from(a) == upper)?;
        buffer = (buffer << 5) | value as u32;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push(((buffer >> bits) & 0xff) as u8);
        }
    }
    Some(out)
}

/// Percent-encodes everything but RFC 3986 unreserved characters.
fn uri_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 Appendix B's SHA-1 seed: ASCII "12345678901234567890".
    fn rfc_secret() -> TotpSecret {
        TotpSecret::from_bytes(b"12345678901234567890".to_vec())
    }

    /// RFC 6238 Appendix B, SHA-1 rows: (time, 8-digit TOTP); the 6-digit code is the
    /// last six digits (the same truncation modulo 10^6).
    const VECTORS: [(i64, &str); 6] = [
        (59, "94287082"),
        (1_111_111_109, "07081804"),
        (1_111_111_111, "14050471"),
        (1_234_567_890, "89005924"),
        (2_000_000_000, "69279037"),
        (20_000_000_000, "65353130"),
    ];

    #[test]
    fn rfc_6238_sha1_test_vectors() {
        for (time, expected) in VECTORS {
            assert_eq!(
                code_text(&rfc_secret(), step_of(time)),
                expected[2..],
                "t={time}"
            );
        }
    }

    #[test]
    fn rfc_4226_hotp_test_vectors() {
        // RFC 4226 Appendix D: counters 0..9, 6 digits.
        let expected = [
            "755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583",
            "399871", "520489",
        ];
        for (counter, code) in expected.iter().enumerate() {
            assert_eq!(code_text(&rfc_secret(), counter as i64), *code);
        }
    }

    #[test]
    fn verify_accepts_one_step_of_drift_and_no_more() {
        let secret = rfc_secret();
        let now = 1_234_567_890;
        let step = step_of(now);
        for delta in -1..=1 {
            let code = code_text(&secret, step + delta);
            assert_eq!(verify(&secret, &code, now, None), Some(step + delta));
        }
        for delta in [-2, 2] {
            assert_eq!(
                verify(&secret, &code_text(&secret, step + delta), now, None),
                None
            );
        }
    }

    #[test]
    fn verify_refuses_a_replayed_or_older_step() {
        let secret = rfc_secret();
        let now = 1_234_567_890;
        let step = step_of(now);
        let code = code_text(&secret, step);
        assert_eq!(verify(&secret, &code, now, Some(step)), None);
        assert_eq!(
            verify(&secret, &code_text(&secret, step - 1), now, Some(step)),
            None
        );
        assert_eq!(
            verify(&secret, &code_text(&secret, step + 1), now, Some(step)),
            Some(step + 1)
        );
    }

    #[test]
    fn verify_refuses_malformed_codes() {
        let secret = rfc_secret();
        for code in ["", "12345", "1234567", "12a456", "１２３４５６", "-12345"] {
            assert_eq!(verify(&secret, code, 59, None), None, "{code:?}");
        }
        let spaced = format!(
            "{} {}",
            &code_text(&secret, 1)[..3],
            &code_text(&secret, 1)[3..]
        );
        assert_eq!(verify(&secret, &spaced, 59, None), Some(1));
    }

    #[test]
    fn base32_round_trips_and_matches_rfc_4648() {
        assert_eq!(base32_encode(b"foobar"), "MZXW6YTBOI");
        assert_eq!(base32_decode("mzxw6ytboi======"), Some(b"foobar".to_vec()));
        assert_eq!(base32_decode("MZX!"), None);
        let secret = TotpSecret::generate().unwrap();
        assert_eq!(
            base32_decode(&secret.to_base32()),
            Some(secret.as_bytes().to_vec())
        );
    }

    #[test]
    fn otpauth_uri_escapes_its_labels_and_debug_redacts() {
        let secret = rfc_secret();
        let uri = secret.otpauth_uri("keygate", "ada@example.com");
        assert!(uri.starts_with("otpauth://totp/keygate:ada%40example.com?secret="));
        assert!(uri.contains("&digits=6&period=30"));
        assert_eq!(format!("{secret:?}"), "TotpSecret(<redacted>)");
    }
}
