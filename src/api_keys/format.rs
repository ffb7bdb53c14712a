//! The API-key format: `kg_<env>_<random><check>`.
//!
//! - `kg_` makes every keygate key recognisable; `<env>` is `live` or `test`;
//! - `<random>`: 43 base62 characters from the OS CSPRNG (43 × log2 62 ≈ 256.03 bits);
//! - `<check>`: 6 base62 characters of the CRC-32 of everything before it.
//!
//! Base62 keeps a key one "word" (double-click selects all of it, no URL escaping).
//! The checksum lets keygate refuse a mistyped or truncated key without a database
//! read, and lets secret scanners tell a real key from look-alike text, as GitHub's
//! token format does. CRC-32 detects every error confined to one byte, so any single
//! wrong character is caught (a property test checks it).

use std::fmt;

use crate::secret::{RandomError, Secret};
use crate::tokens::TokenKind;

/// `kg_`, from the table of token kinds.
const KEY_PREFIX: &str = TokenKind::ApiKey.prefix();
const RANDOM_CHARS: usize = 43;
const CHECK_CHARS: usize = 6;
/// `kg_` + `live`/`test` + `_` + random + checksum.
pub const KEY_LEN: usize = KEY_PREFIX.len() + 4 + 1 + RANDOM_CHARS + CHECK_CHARS;

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Which environment a key is for; part of the key itself, so a test key pasted into
/// production is recognisable at a glance.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Environment {
    Live,
    Test,
}

impl Environment {
    pub const ALL: [Self; 2] = [Self::Live, Self::Test];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Live => "live",
            Self::Test => "test",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "live" => Some(Self::Live),
            "test" => Some(Self::Test),
            _ => None,
        }
    }
}

impl fmt::Display for Environment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a string is not an API key. Decided from the text alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FormatError {
    #[error("an API key starts with kg_live_ or kg_test_")]
    Prefix,
    #[error("an API key is {KEY_LEN} characters long")]
    Length,
    #[error("an API key contains only letters and digits after its prefix")]
    Alphabet,
    #[error("the API key's checksum does not match: it was mistyped or truncated")]
    Checksum,
}

/// Generates a new key for `env`.
pub fn generate(env: Environment) -> Result<Secret, RandomError> {
    let mut key = String::with_capacity(KEY_LEN);
    key.push_str(KEY_PREFIX);
    key.push_str(env.as_str());
    key.push('_');
    let mut buf = [0u8; 64];
    let mut produced = 0;
    while produced < RANDOM_CHARS {
        aws_lc_rs::rand::fill(&mut buf).map_err(|_| RandomError)?;
        // Rejection sampling: bytes ≥ 248 (4 × 62) would bias the first characters.
        for &byte in buf.iter().filter(|&&b| b < 248) {
            if produced == RANDOM_CHARS {
                break;
            }
            key.push(char::from(BASE62[usize::from(byte % 62)]));
            produced += 1;
        }
    }
    let check = checksum(&key);
    key.push_str(&check);
    Ok(Secret::new(key))
}

/// Whether `text` looks like an API key at all (its prefix) — how the resolver tells
/// an API key from a JWT in `Authorization: Bearer` without trying both.
pub fn has_key_prefix(text: &str) -> bool {
    text.strip_prefix(KEY_PREFIX)
        .and_then(|rest| rest.get(..5))
        .is_some_and(|env| {
            Environment::ALL
                .iter()
                .any(|e| env.strip_suffix('_') == Some(e.as_str()))
        })
}

/// Checks the format and checksum; returns the key's environment.
pub fn parse(text: &str) -> Result<Environment, FormatError> {
    let env = text
        .strip_prefix(KEY_PREFIX)
        .and_then(|rest| rest.get(..4))
        .and_then(Environment::parse)
        .filter(|_| text.as_bytes().get(KEY_PREFIX.len() + 4) == Some(&b'_'))
        .ok_or(FormatError::Prefix)?;
    if text.len() != KEY_LEN {
        return Err(FormatError::Length);
    }
    // Bytes, not chars: after this every byte is ASCII, so the split below cannot
    // land inside a multi-byte character.
    if !text.as_bytes()[KEY_PREFIX.len() + 5..]
        .iter()
        .all(u8::is_ascii_alphanumeric)
    {
        return Err(FormatError::Alphabet);
    }
    let (body, check) = text.split_at(KEY_LEN - CHECK_CHARS);
    if checksum(body) != check {
        return Err(FormatError::Checksum);
    }
    Ok(env)
}

/// What a listing shows instead of the key: `kg_live_…a1b2`.
pub fn masked(env: Environment, last_four: &str) -> String {
    format!("{KEY_PREFIX}{env}_…{last_four}")
}

/// The last four characters, stored so the masked form never needs the key.
pub fn last_four(key: &str) -> String {
    // By characters, not bytes: a byte slice could split a multi-byte character.
    let mut tail: Vec<char> = key.chars().rev().take(4).collect();
    tail.reverse();
    tail.into_iter().collect()
}

fn checksum(body: &str) -> String {
    let mut value = u64::from(crc32fast::hash(body.as_bytes()));
    let mut out = [b'0'; CHECK_CHARS];
    for slot in out.iter_mut().rev() {
        *slot = BASE62[(value % 62) as usize];
        value /= 62;
    }
    out.iter().map(|&b| char::from(b)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_parse_and_carry_their_environment() {
        for env in [Environment::Live, Environment::Test] {
            let key = generate(env).unwrap();
            let text = key.expose();
            assert_eq!(text.len(), KEY_LEN);
            assert!(text.starts_with(&format!("kg_{env}_")));
            assert_eq!(parse(text), Ok(env));
            assert!(has_key_prefix(text));
        }
        let (a, b) = (
            generate(Environment::Live).unwrap(),
            generate(Environment::Live).unwrap(),
        );
        assert_ne!(a.expose(), b.expose());
    }

    #[test]
    fn every_single_character_error_is_caught() {
        let key = generate(Environment::Live).unwrap();
        let text = key.expose().as_bytes().to_vec();
        for position in 0..text.len() {
            for &replacement in BASE62.iter().chain(b"_-.") {
                if replacement == text[position] {
                    continue;
                }
                let mut typo = text.clone();
                typo[position] = replacement;
                let typo = String::from_utf8(typo).unwrap();
                assert!(parse(&typo).is_err(), "{typo} passed");
            }
        }
    }

    #[test]
    fn malformed_keys_say_why() {
        let key = generate(Environment::Test).unwrap();
        let text = key.expose();
        assert_eq!(parse("kg_prod_abc"), Err(FormatError::Prefix));
        assert_eq!(parse("eyJhbGciOi.x.y"), Err(FormatError::Prefix));
        assert_eq!(parse(&text[..KEY_LEN - 1]), Err(FormatError::Length));
        assert_eq!(parse(&format!("{text}A")), Err(FormatError::Length));
        let mut accented = text[..KEY_LEN - 2].to_owned();
        accented.push('é');
        assert_eq!(parse(&accented), Err(FormatError::Alphabet));
        assert_eq!(parse(""), Err(FormatError::Prefix));
    }

    #[test]
    fn masked_form_shows_prefix_and_last_four_only() {
        let key = generate(Environment::Live).unwrap();
        let shown = masked(Environment::Live, &last_four(key.expose()));
        assert!(shown.starts_with("kg_live_…"));
        assert!(shown.ends_with(&key.expose()[KEY_LEN - 4..]));
        assert_eq!(shown.chars().count(), "kg_live_…".chars().count() + 4);
        assert_eq!(last_four("ab…é"), "ab…é");
        assert_eq!(last_four("xyzab…é"), "ab…é");
        assert_eq!(last_four("é"), "é");
    }

    /// The checksum's promises over many keys, not one: any single wrong character
    /// (whatever it is replaced with), any swap of two different neighbours, and any
    /// dropped or doubled character is refused; parsing arbitrary text never panics.
    mod properties {
        use super::*;
        use proptest::prelude::*;

        fn any_key() -> impl Strategy<Value = String> {
            prop_oneof![Just(Environment::Live), Just(Environment::Test)]
                .prop_map(|env| generate(env).unwrap().expose().to_owned())
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(512))]

            #[test]
            fn any_single_character_substitution_is_refused(
                key in any_key(),
                position in 0..KEY_LEN,
                replacement in any::<char>(),
            ) {
                let mut chars: Vec<char> = key.chars().collect();
                prop_assume!(chars[position] != replacement);
                chars[position] = replacement;
                let typo: String = chars.into_iter().collect();
                prop_assert!(parse(&typo).is_err(), "{typo:?} passed");
            }

            #[test]
            fn any_swap_of_different_neighbours_is_refused(
                key in any_key(),
                position in 0..KEY_LEN - 1,
            ) {
                let mut bytes = key.clone().into_bytes();
                prop_assume!(bytes[position] != bytes[position + 1]);
                bytes.swap(position, position + 1);
                let swapped = String::from_utf8(bytes).unwrap();
                prop_assert!(parse(&swapped).is_err(), "{swapped:?} passed");
            }

            #[test]
            fn dropped_or_doubled_characters_are_refused(
                key in any_key(),
                position in 0..KEY_LEN,
            ) {
                let mut dropped = key.clone();
                dropped.remove(position);
                prop_assert!(parse(&dropped).is_err());
                let mut doubled = key.clone();
                doubled.insert(position, key.as_bytes()[position] as char);
                prop_assert!(parse(&doubled).is_err());
            }

            #[test]
            fn a_base62_body_with_its_checksum_always_parses(
                env in prop_oneof![Just(Environment::Live), Just(Environment::Test)],
                body in "[0-9A-Za-z]{43}",
            ) {
                let mut key = format!("kg_{env}_{body}");
                key.push_str(&checksum(&key));
                prop_assert_eq!(parse(&key), Ok(env));
            }

            #[test]
            fn arbitrary_text_never_panics_and_only_keys_parse(text in any::<String>()) {
                if parse(&text).is_ok() {
                    prop_assert!(has_key_prefix(&text) && text.len() == KEY_LEN);
                }
            }

            #[test]
            fn key_shaped_text_never_panics(text in "kg_(live|test)_\\PC{0,60}") {
                let _ = parse(&text);
            }
        }
    }
}
