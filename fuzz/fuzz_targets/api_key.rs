//! `api_keys::format::parse`: any text. Never panics; an accepted key is
//! `KEY_LEN` characters, `kg_live_`/`kg_test_` matching its environment, then letters
//! and digits; `has_key_prefix` agrees with the prefix check; and every single
//! character changed in an accepted key makes it fail (the CRC-32 claim).
#![no_main]

use keygate::api_keys::format::{self, Environment, FormatError, KEY_LEN};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let result = format::parse(text);
    assert_eq!(
        result == Err(FormatError::Prefix),
        !format::has_key_prefix(text),
        "has_key_prefix disagrees with parse"
    );
    let Ok(env) = result else {
        return;
    };
    assert_eq!(text.len(), KEY_LEN);
    let prefix = match env {
        Environment::Live => "kg_live_",
        Environment::Test => "kg_test_",
    };
    assert!(text.starts_with(prefix));
    assert!(text.as_bytes()[prefix.len()..]
        .iter()
        .all(u8::is_ascii_alphanumeric));
    let _ = format::masked(env, &format::last_four(text));
    let bytes = text.as_bytes();
    for position in prefix.len()..bytes.len() {
        for replacement in [b'0', b'A', b'z', bytes[position] ^ 1] {
            if replacement == bytes[position] || !replacement.is_ascii_alphanumeric() {
                continue;
            }
            let mut typo = bytes.to_vec();
            typo[position] = replacement;
            let typo = String::from_utf8(typo).unwrap_or_default();
            assert!(format::parse(&typo).is_err(), "a one-character typo passed");
        }
    }
});
