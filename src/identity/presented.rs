//! Which credential a request presents, and what a credential is by its form alone:
//! an API key by its `kg_live_`/`kg_test_` prefix and checksum, a JWT by its three
//! segments, keygate's other tokens by their prefixes (`tokens::kind`) — never by
//! trying one lookup and then another. No I/O: malformed input is refused here,
//! before any database read. `classify` is the one place a credential's kind is
//! decided, for the resolver, introspection, revocation and the refresh grant.

use std::borrow::Cow;

use actix_web::http::header::{HeaderMap, HeaderValue, AUTHORIZATION};

use super::error::{ResolveError, Unauthenticated};
use crate::api_keys::format;
use crate::secret::ct_eq_str;
use crate::tokens::TokenKind;

/// Longer header values are not credentials keygate issues.
const MAX_CREDENTIAL_LEN: usize = 8 * 1024;
pub const X_API_KEY: &str = "x-api-key";

/// A credential as presented, classified by form. `Debug` shows the kind only.
#[derive(Clone, PartialEq, Eq)]
pub enum Presented<'a> {
    ApiKey(Cow<'a, str>),
    AccessToken(Cow<'a, str>),
}

impl std::fmt::Debug for Presented<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::ApiKey(_) => "ApiKey([redacted])",
            Self::AccessToken(_) => "AccessToken([redacted])",
        })
    }
}

impl Presented<'_> {
    pub fn into_owned(self) -> Presented<'static> {
        match self {
            Self::ApiKey(k) => Presented::ApiKey(Cow::Owned(k.into_owned())),
            Self::AccessToken(t) => Presented::AccessToken(Cow::Owned(t.into_owned())),
        }
    }
}

/// A credential by its form alone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Form {
    /// `kg_live_…`/`kg_test_…` (its checksum is `format::parse`'s to check).
    ApiKey,
    /// Three dot-separated segments: a JWS, perhaps one of keygate's access tokens.
    Jwt,
    /// The prefix of another kind keygate issues (`kgr_…`, `kgrat_…`, …).
    Other(TokenKind),
    Unknown,
}

/// What `text` is by its form. API keys first, then JWTs (no token keygate mints
/// contains a dot, so a dotted string is a JWT whatever it starts with), then the
/// other prefixes.
pub fn classify(text: &str) -> Form {
    if format::has_key_prefix(text) {
        Form::ApiKey
    } else if text.split('.').count() == 3 {
        Form::Jwt
    } else {
        // `kg_` without an environment is not an API key's form.
        TokenKind::of_prefix(text)
            .filter(|&kind| kind != TokenKind::ApiKey)
            .map_or(Form::Unknown, Form::Other)
    }
}

/// Whether `text` is a refresh token by its form.
pub fn is_refresh_token(text: &str) -> bool {
    classify(text) == Form::Other(TokenKind::RefreshToken)
}

/// Reads and classifies the credential in `Authorization: Bearer` and/or `X-API-Key`.
/// No I/O: malformed input is refused here, before any database read.
pub fn presented_credential(headers: &HeaderMap) -> Result<Presented<'_>, ResolveError> {
    let bearer = single_header(headers, AUTHORIZATION.as_str())?
        .map(bearer_token)
        .transpose()?;
    let api_key = single_header(headers, X_API_KEY)?
        .map(|value| header_text(value).map(str::trim))
        .transpose()?;
    let text = match (bearer, api_key) {
        (None, None) => return Err(Unauthenticated::MissingCredentials.into()),
        (Some(a), Some(b)) if !ct_eq_str(a, b) => return Err(ResolveError::ConflictingCredentials),
        (Some(token), _) => token,
        (None, Some(key)) => {
            if classify(key) != Form::ApiKey {
                return Err(invalid_format(
                    "X-API-Key takes an API key (kg_live_… or kg_test_…)",
                ));
            }
            key
        }
    };
    if text.len() > MAX_CREDENTIAL_LEN {
        return Err(invalid_format("the credential is too long"));
    }
    match classify(text) {
        Form::ApiKey => {
            format::parse(text).map_err(|e| invalid_format(format_message(e)))?;
            Ok(Presented::ApiKey(Cow::Borrowed(text)))
        }
        Form::Jwt => Ok(Presented::AccessToken(Cow::Borrowed(text))),
        Form::Other(_) | Form::Unknown => Err(invalid_format(
            "the credential is neither an API key (kg_live_…) nor a JWT access token",
        )),
    }
}

fn invalid_format(why: &'static str) -> ResolveError {
    Unauthenticated::InvalidFormat(why).into()
}

/// The token of `Authorization: Bearer <token>`, if the header is there; for
/// credentials that are neither API keys nor access tokens (RFC 7592's registration
/// access token).
pub fn bearer_credential(headers: &HeaderMap) -> Result<Option<&str>, ResolveError> {
    single_header(headers, AUTHORIZATION.as_str())?
        .map(bearer_token)
        .transpose()
}

fn format_message(error: format::FormatError) -> &'static str {
    match error {
        format::FormatError::Prefix => "an API key starts with kg_live_ or kg_test_",
        format::FormatError::Length => "the API key has the wrong length",
        format::FormatError::Alphabet => "the API key contains characters keys never have",
        format::FormatError::Checksum => {
            "the API key's checksum does not match: it was mistyped or truncated"
        }
    }
}

fn single_header<'h>(
    headers: &'h HeaderMap,
    name: &'static str,
) -> Result<Option<&'h HeaderValue>, ResolveError> {
    let mut values = headers.get_all(name);
    let first = values.next();
    if values.next().is_some() {
        return Err(ResolveError::DuplicateHeader(if name == X_API_KEY {
            "more than one X-API-Key header"
        } else {
            "more than one Authorization header"
        }));
    }
    Ok(first)
}

fn header_text(value: &HeaderValue) -> Result<&str, ResolveError> {
    value
        .to_str()
        .map_err(|_| invalid_format("the credential header is not visible ASCII"))
}

/// `Bearer <token>` (RFC 6750 §2.1; the scheme is case-insensitive, RFC 9110 §11.1).
/// Basic carries no credential keygate's API takes: that is `MissingCredentials`,
/// answered with a bare Bearer challenge (RFC 6750 §3.1). A credential sent with no
/// scheme, or under a scheme other providers document (`Token`, `ApiKey`), was sent
/// all the same: the answer says how to send it.
fn bearer_token(value: &HeaderValue) -> Result<&str, ResolveError> {
    let text = header_text(value)?;
    let (scheme, token) = text.split_once(' ').unwrap_or((text, ""));
    if !scheme.eq_ignore_ascii_case("bearer") {
        if scheme.eq_ignore_ascii_case("basic") {
            return Err(Unauthenticated::MissingCredentials.into());
        }
        if token.is_empty() && matches!(classify(scheme), Form::ApiKey | Form::Jwt) {
            return Err(invalid_format(
                "the Authorization header has no scheme: send Authorization: Bearer <credential> (or an API key as X-API-Key: <key>)",
            ));
        }
        return Err(invalid_format(
            "the Authorization scheme is not Bearer: send Authorization: Bearer <credential> (or an API key as X-API-Key: <key>)",
        ));
    }
    let token = token.trim();
    // RFC 6750 b64token.
    let b64token = token
        .trim_end_matches('=')
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"-._~+/".contains(&b));
    if token.is_empty() || !b64token {
        return Err(invalid_format(
            "the Bearer credential is empty or contains characters credentials never have",
        ));
    }
    Ok(token)
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::http::header::{HeaderName, HeaderValue};

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        map
    }

    fn key() -> String {
        format::generate(format::Environment::Live)
            .unwrap()
            .expose()
            .to_owned()
    }

    #[test]
    fn credentials_are_told_apart_by_form() {
        let key = key();
        let bearer = format!("Bearer {key}");
        assert!(matches!(
            presented_credential(&headers(&[("authorization", &bearer)])),
            Ok(Presented::ApiKey(_))
        ));
        assert!(matches!(
            presented_credential(&headers(&[("x-api-key", &key)])),
            Ok(Presented::ApiKey(_))
        ));
        assert!(matches!(
            presented_credential(&headers(&[("authorization", "bearer a.b.c")])),
            Ok(Presented::AccessToken(_))
        ));
        // The same key in both headers is one credential.
        assert!(
            presented_credential(&headers(&[("authorization", &bearer), ("x-api-key", &key)]))
                .is_ok()
        );
    }

    #[test]
    fn malformed_and_conflicting_credentials_are_refused_without_io() {
        let key = key();
        let mut typo = key.clone();
        typo.replace_range(20..21, if &key[20..21] == "A" { "B" } else { "A" });
        for (pairs, expected) in [
            (vec![], "MissingCredentials"),
            (
                vec![("authorization", "Basic Zm9vOmJhcg==")],
                "MissingCredentials",
            ),
            (vec![("authorization", "Token abc")], "InvalidFormat"),
            (vec![("authorization", "ApiKey abc")], "InvalidFormat"),
            (vec![("authorization", "a.b.c")], "InvalidFormat"),
            (vec![("authorization", "Bearer")], "InvalidFormat"),
            (
                vec![("authorization", "Bearer not-a-token")],
                "InvalidFormat",
            ),
            (vec![("x-api-key", "a.b.c")], "InvalidFormat"),
            (vec![("x-api-key", typo.as_str())], "InvalidFormat"),
            (
                vec![
                    ("authorization", "Bearer a.b.c"),
                    ("x-api-key", key.as_str()),
                ],
                "ConflictingCredentials",
            ),
            (
                vec![("x-api-key", key.as_str()), ("x-api-key", key.as_str())],
                "DuplicateHeader",
            ),
        ] {
            let error = presented_credential(&headers(&pairs)).unwrap_err();
            let debug = format!("{error:?}");
            assert!(
                debug
                    .strip_prefix("Unauthenticated(")
                    .unwrap_or(&debug)
                    .starts_with(expected),
                "{pairs:?}: {error:?}"
            );
        }
        let long = format!("Bearer {}.b.c", "a".repeat(MAX_CREDENTIAL_LEN));
        assert!(matches!(
            presented_credential(&headers(&[("authorization", &long)])),
            Err(ResolveError::Unauthenticated(
                Unauthenticated::InvalidFormat(_)
            ))
        ));
    }

    #[test]
    fn classification_by_form() {
        assert_eq!(classify(&key()), Form::ApiKey);
        assert_eq!(classify("kg_prod_abc"), Form::Unknown);
        assert_eq!(classify("eyJhbGciOi.e30.sig"), Form::Jwt);
        assert_eq!(classify("kgr_abc"), Form::Other(TokenKind::RefreshToken));
        assert_eq!(
            classify("kgrat_abc"),
            Form::Other(TokenKind::RegistrationAccessToken)
        );
        // A dotted string is a JWT whatever its prefix: no minted token has a dot.
        assert_eq!(classify("kgr_a.b.c"), Form::Jwt);
        assert!(is_refresh_token("kgr_abc") && !is_refresh_token("kgrat_abc"));
        assert_eq!(classify("garbage"), Form::Unknown);
    }
}
