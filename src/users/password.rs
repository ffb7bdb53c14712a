//! People's passwords, by NIST SP 800-63B §5.1.1: 12 to 128 characters (counted as
//! characters, not bytes: `é` or an emoji is one), any characters at all and no
//! composition rules ("one digit, one symbol"), but not one of the commonest
//! passwords (`common_passwords.txt`, a few hundred, compared ignoring case) and not
//! the person's own email or its local part. Hashed with argon2id at the same
//! parameters as client secrets (`argon2_budget::Argon2id`); verified at sign-in
//! through the argon2 budget (`sign_in`).

use crate::argon2_budget::{Argon2id, HashError};

pub const MIN_CHARS: usize = 12;
pub const MAX_CHARS: usize = 128;

/// The commonest passwords, one a line, lowercase (compared lowercased).
const COMMON: &str = include_str!("common_passwords.txt");

/// Why a password is refused, in words to show the person.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PasswordError {
    #[error("the password must be at least {MIN_CHARS} characters long")]
    TooShort,
    #[error("the password must be at most {MAX_CHARS} characters long")]
    TooLong,
    #[error("this password is one of the most common ones; choose another")]
    Common,
    #[error("the password must not be your email address")]
    SameAsEmail,
}

/// Whether `password` may be the password of the person with `email`.
pub fn validate(password: &str, email: &str) -> Result<(), PasswordError> {
    let chars = password.chars().count();
    if chars < MIN_CHARS {
        return Err(PasswordError::TooShort);
    }
    if chars > MAX_CHARS {
        return Err(PasswordError::TooLong);
    }
    let lower = password.to_lowercase();
    let email = email.trim().to_lowercase();
    let local = email.rsplit_once('@').map_or(email.as_str(), |(l, _)| l);
    if lower == email || lower == local {
        return Err(PasswordError::SameAsEmail);
    }
    if is_common(&lower) {
        return Err(PasswordError::Common);
    }
    Ok(())
}

fn is_common(lower: &str) -> bool {
    COMMON.lines().any(|line| line.trim() == lower)
}

/// The argon2id PHC string of `password` (~20 ms, ~19 MiB: run it off the executor,
/// e.g. in `web::block`, and before the transaction that stores it).
pub fn hash(password: &str) -> Result<String, HashError> {
    Argon2id.hash(password.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn length_is_counted_in_characters() {
        let email = "ada@example.com";
        assert_eq!(validate("short", email), Err(PasswordError::TooShort));
        assert_eq!(validate("elevenchars", email), Err(PasswordError::TooShort));
        assert_eq!(validate("twelve chars", email), Ok(()));
        // Eleven emoji are 44 bytes but eleven characters; twelve are enough.
        assert_eq!(
            validate(&"🔑".repeat(11), email),
            Err(PasswordError::TooShort)
        );
        assert_eq!(validate(&"🔑".repeat(12), email), Ok(()));
        assert_eq!(validate(&"é".repeat(128), email), Ok(()));
        assert_eq!(
            validate(&"é".repeat(129), email),
            Err(PasswordError::TooLong)
        );
    }

    #[test]
    fn no_composition_rules_but_no_common_passwords() {
        let email = "ada@example.com";
        assert_eq!(validate("all lowercase words here", email), Ok(()));
        for common in [
            "password1234",
            "PASSWORD1234",
            "Qwerty123456",
            "123456789012",
        ] {
            assert_eq!(
                validate(common, email),
                Err(PasswordError::Common),
                "{common}"
            );
        }
        assert!(COMMON.lines().count() >= 300);
        assert!(COMMON.lines().all(|l| l == l.to_lowercase().trim()));
    }

    #[test]
    fn the_email_or_its_local_part_is_refused() {
        let email = "Ada.Lovelace@Example.com";
        for same in ["ada.lovelace@example.com", "ADA.LOVELACE", "ada.lovelace"] {
            assert_eq!(
                validate(same, email),
                Err(PasswordError::SameAsEmail),
                "{same}"
            );
        }
        assert_eq!(validate("ada.lovelace!", email), Ok(()));
        assert!(PasswordError::TooShort.to_string().contains("12"));
    }

    #[test]
    fn hashes_verify() {
        let phc = hash("a long enough password").unwrap();
        assert!(phc.starts_with("$argon2id$"));
        assert!(Argon2id.verify(b"a long enough password", &phc));
    }
}
