//! Scope sets (RFC 6749 §3.3): parsing with the RFC's character rules, a canonical
//! sorted rendering, and subset checks. Shared by client registration and the grants.

use std::collections::BTreeSet;
use std::fmt;

/// Longest single scope token and most tokens in one set; beyond these a request is
/// hostile rather than useful.
pub const MAX_SCOPE_TOKEN_LEN: usize = 128;
pub const MAX_SCOPE_TOKENS: usize = 64;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ScopeSet(BTreeSet<String>);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ScopeError {
    #[error("scope contains a character outside RFC 6749 §3.3 (NQCHAR)")]
    InvalidCharacter,
    #[error("scope token longer than {MAX_SCOPE_TOKEN_LEN} characters")]
    TokenTooLong,
    #[error("more than {MAX_SCOPE_TOKENS} scope tokens")]
    TooMany,
}

impl ScopeSet {
    /// Parses a space-delimited list. Repeated tokens collapse; empty input is the
    /// empty set.
    pub fn parse(text: &str) -> Result<Self, ScopeError> {
        let mut tokens = BTreeSet::new();
        for token in text.split(' ').filter(|t| !t.is_empty()) {
            if !token.chars().all(is_nqchar) {
                return Err(ScopeError::InvalidCharacter);
            }
            if token.len() > MAX_SCOPE_TOKEN_LEN {
                return Err(ScopeError::TokenTooLong);
            }
            tokens.insert(token.to_owned());
            if tokens.len() > MAX_SCOPE_TOKENS {
                return Err(ScopeError::TooMany);
            }
        }
        Ok(Self(tokens))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn contains(&self, token: &str) -> bool {
        self.0.contains(token)
    }

    pub fn is_subset_of(&self, other: &ScopeSet) -> bool {
        self.0.is_subset(&other.0)
    }

    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }

    /// Every scope of either set.
    pub fn union(&self, other: &ScopeSet) -> ScopeSet {
        Self(self.0.union(&other.0).cloned().collect())
    }

    /// The scopes of both sets.
    pub fn intersection(&self, other: &ScopeSet) -> ScopeSet {
        Self(self.0.intersection(&other.0).cloned().collect())
    }
}

/// RFC 6749 §3.3: `scope-token = 1*( %x21 / %x23-5B / %x5D-7E )`.
fn is_nqchar(c: char) -> bool {
    matches!(c, '\x21' | '\x23'..='\x5b' | '\x5d'..='\x7e')
}

/// Space-separated, sorted: the same set always renders the same way.
impl fmt::Display for ScopeSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for token in &self.0 {
            if !first {
                f.write_str(" ")?;
            }
            f.write_str(token)?;
            first = false;
        }
        Ok(())
    }
}

/// The scopes keygate's own API asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    Read,
    Write,
    Admin,
    Webhook,
}

/// What granting `token` lets an app do, in plain words for a consent page; a
/// configured scope keygate has no words for is shown as itself.
pub fn in_plain_words(token: &str) -> &'static str {
    match token {
        "read" => "See your organization's data: its keys, applications, usage and settings",
        "write" => "Create and change things in your organization, such as API keys",
        "admin" => "Administer your organization: its members, settings and every credential",
        "webhook" => "Manage your organization's webhooks",
        _ => "A permission the platform defines",
    }
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::Write => "write",
            Self::Admin => "admin",
            Self::Webhook => "webhook",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_dedups_and_sorts() {
        let s = ScopeSet::parse("write  read write").unwrap();
        assert_eq!(s.to_string(), "read write");
        assert!(ScopeSet::parse("").unwrap().is_empty());
    }

    #[test]
    fn rejects_rfc_invalid_characters() {
        for bad in ["a\"b", "a\\b", "caf\u{e9}", "tab\there", "new\nline"] {
            assert_eq!(
                ScopeSet::parse(bad),
                Err(ScopeError::InvalidCharacter),
                "{bad:?}"
            );
        }
        assert!(ScopeSet::parse("urn:x:read api/write!#$").is_ok());
    }

    #[test]
    fn bounds_hostile_input() {
        let long = "a".repeat(MAX_SCOPE_TOKEN_LEN + 1);
        assert_eq!(ScopeSet::parse(&long), Err(ScopeError::TokenTooLong));
        let many: Vec<String> = (0..=MAX_SCOPE_TOKENS).map(|i| format!("s{i}")).collect();
        assert_eq!(ScopeSet::parse(&many.join(" ")), Err(ScopeError::TooMany));
    }

    #[test]
    fn subsets() {
        let all = ScopeSet::parse("read write admin").unwrap();
        assert!(ScopeSet::parse("read").unwrap().is_subset_of(&all));
        assert!(!ScopeSet::parse("read webhook").unwrap().is_subset_of(&all));
    }

    /// Parsing and narrowing over generated sets rather than a few examples.
    mod properties {
        use super::*;
        use proptest::collection::{btree_set, vec};
        use proptest::prelude::*;

        /// Any RFC 6749 scope-token (NQCHAR, 1–20 characters).
        fn token() -> impl Strategy<Value = String> {
            "[!#-\\[\\]-~]{1,20}"
        }

        /// Tokens from a small vocabulary, so subsets and overlaps are common.
        fn small_set() -> impl Strategy<Value = BTreeSet<String>> {
            btree_set(
                prop_oneof![
                    Just("read"),
                    Just("write"),
                    Just("admin"),
                    Just("webhook"),
                    Just("billing")
                ]
                .prop_map(str::to_owned),
                0..5,
            )
        }

        proptest! {
            #[test]
            fn rendering_is_canonical_and_parses_back(
                tokens in vec(token(), 0..MAX_SCOPE_TOKENS),
                spaces in vec(1usize..4, MAX_SCOPE_TOKENS),
            ) {
                // Any spacing and order and repetition: the same set, the same text.
                let text: String = tokens
                    .iter()
                    .zip(&spaces)
                    .map(|(t, n)| format!("{t}{}", " ".repeat(*n)))
                    .collect();
                let set = ScopeSet::parse(&text).unwrap();
                let expected: BTreeSet<String> = tokens.iter().cloned().collect();
                prop_assert_eq!(&set.0, &expected);
                let rendered = set.to_string();
                prop_assert_eq!(ScopeSet::parse(&rendered).unwrap(), set);
                prop_assert!(!rendered.starts_with(' ') && !rendered.contains("  "));
            }

            #[test]
            fn a_character_outside_nqchar_is_always_refused(
                before in token(),
                bad in any::<char>().prop_filter("not NQCHAR or space", |c| *c != ' ' && !is_nqchar(*c)),
                after in token(),
            ) {
                let text = format!("read {before}{bad}{after}");
                prop_assert_eq!(ScopeSet::parse(&text), Err(ScopeError::InvalidCharacter));
            }

            #[test]
            fn arbitrary_text_never_panics_and_respects_the_bounds(text in any::<String>()) {
                if let Ok(set) = ScopeSet::parse(&text) {
                    prop_assert!(set.0.len() <= MAX_SCOPE_TOKENS);
                    prop_assert!(set.iter().all(|t| t.len() <= MAX_SCOPE_TOKEN_LEN
                        && !t.is_empty()
                        && t.chars().all(is_nqchar)));
                }
            }

            #[test]
            fn subset_is_set_inclusion(a in small_set(), b in small_set(), c in small_set()) {
                let parse = |s: &BTreeSet<String>| {
                    ScopeSet::parse(&s.iter().cloned().collect::<Vec<_>>().join(" ")).unwrap()
                };
                let (sa, sb, sc) = (parse(&a), parse(&b), parse(&c));
                prop_assert_eq!(sa.is_subset_of(&sb), a.is_subset(&b));
                prop_assert!(sa.is_subset_of(&sa));
                if sa.is_subset_of(&sb) && sb.is_subset_of(&sc) {
                    prop_assert!(sa.is_subset_of(&sc));
                }
                prop_assert!(ScopeSet::default().is_subset_of(&sa));
            }
        }
    }
}
