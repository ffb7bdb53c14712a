//! `TokenRequest::parse` and `TokenActionRequest::parse` (`/oauth/token`, `/revoke`,
//! `/introspect`): the form body, the `Authorization: Basic` header and the
//! Content-Type. Input: `keygate_fuzz::request`'s text framing.
//!
//! Never panics; an accepted request satisfies RFC 6749's rules as keygate reads them
//! (no query string, a form or JSON body, one authentication method, Basic credentials
//! decoded as §2.3.1 says, no empty parameter), and its `Debug` shows no secret.
#![no_main]

use actix_web::http::header::{HeaderMap, AUTHORIZATION, CONTENT_TYPE};
use actix_web::ResponseError;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use keygate::clients::GrantType;
use keygate::oauth::request::{AuthMethod, ClientCredentials, TokenActionRequest, TokenRequest};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let request = keygate_fuzz::request(data);
    let (headers, query, body) = (&request.headers, request.query.as_str(), request.body);

    match TokenRequest::parse(headers, query, body) {
        Ok(parsed) => {
            check_common(headers, query, &parsed.credentials);
            for consumed in ["grant_type", "client_id", "client_secret", "scope", "audience", "resource"] {
                assert_eq!(parsed.param(consumed), None, "{consumed} left in params");
            }
            if parsed.grant_type == GrantType::RefreshToken {
                assert!(parsed.param("refresh_token").is_some_and(|t| !t.is_empty()));
            }
            assert!(parsed.scope.as_ref().is_none_or(|s| !s.is_empty()));
            // One resource at most, an absolute URI without a fragment (RFC 8707 §2).
            assert!(parsed
                .resource
                .as_deref()
                .is_none_or(keygate::clients::model::is_valid_audience));
            let secret = parsed.credentials.secret.expose();
            let shown = format!(
                "{:?}{:?}{:?}{:?}",
                parsed.grant_type,
                parsed.credentials.client_id,
                parsed.credentials.method,
                parsed.scope
            );
            if secret.len() >= 8 && !shown.contains(secret) {
                assert!(
                    !format!("{parsed:?}").contains(secret),
                    "Debug shows the secret"
                );
            }
        }
        Err(error) => {
            let _ = error.to_string();
            let _ = error.error_response();
        }
    }

    match TokenActionRequest::parse(headers, query, body) {
        Ok(parsed) => {
            check_common(headers, query, &parsed.credentials);
            assert!(!parsed.token.expose().is_empty());
            assert!(parsed
                .token_type_hint
                .as_ref()
                .is_none_or(|h| !h.is_empty()));
            let _ = format!("{parsed:?}");
        }
        Err(error) => {
            let _ = error.error_response();
        }
    }
});

fn check_common(headers: &HeaderMap, query: &str, credentials: &ClientCredentials) {
    assert!(query.is_empty(), "accepted a query string");
    let content_type = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let essence = content_type.split(';').next().unwrap_or_default().trim();
    assert!(
        essence.eq_ignore_ascii_case("application/x-www-form-urlencoded")
            || essence.eq_ignore_ascii_case("application/json")
    );
    assert!(!credentials.client_id.is_empty());
    let authorizations = headers.get_all(AUTHORIZATION).count();
    match credentials.method {
        AuthMethod::ClientSecretPost => assert_eq!(authorizations, 0),
        AuthMethod::ClientSecretBasic => {
            assert_eq!(authorizations, 1);
            // An independent reading of RFC 6749 §2.3.1 as the oracle.
            let value = headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok());
            let (id, secret) = value
                .and_then(|v| v.split_once(' '))
                .and_then(|(_, encoded)| STANDARD.decode(encoded.trim()).ok())
                .and_then(|raw| {
                    let colon = raw.iter().position(|&b| b == b':')?;
                    Some((form_decode(&raw[..colon])?, form_decode(&raw[colon + 1..])?))
                })
                .unwrap_or_default();
            assert_eq!(credentials.client_id, id);
            assert!(credentials.secret.ct_eq(secret.as_bytes()));
        }
    }
}

fn form_decode(raw: &[u8]) -> Option<String> {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        let hex = |b: u8| char::from(b).to_digit(16);
        match raw[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < raw.len() => match (hex(raw[i + 1]), hex(raw[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push((h * 16 + l) as u8);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}
