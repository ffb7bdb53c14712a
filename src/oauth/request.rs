//! Parsing of token-endpoint requests, owned by keygate rather than oxide-auth's
//! adapters because RFC 6749 asks for more than they do: Basic credentials are
//! form-urlencoded before base64 (§2.3.1) and must be decoded; a client uses exactly one
//! authentication method (§2.3); parameters appear at most once and empty ones count
//! as absent (§3.1); the body is `application/x-www-form-urlencoded`.

use std::collections::HashMap;

use actix_web::http::header::{self, HeaderMap};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use percent_encoding::percent_decode;

use super::error::OAuthError;
use crate::clients::GrantType;
use crate::scope::ScopeSet;
use crate::secret::Secret;

/// More distinct parameters than any grant uses, by a wide margin.
const MAX_PARAMETERS: usize = 32;

pub use crate::clients::AuthMethod;

/// A client's presented credentials, however they were sent.
#[derive(Debug)]
pub struct ClientCredentials {
    pub client_id: String,
    pub secret: Secret,
    pub method: AuthMethod,
}

/// A syntactically valid token request. `Debug` shows neither credentials nor the
/// remaining parameters (a refresh token is one).
pub struct TokenRequest {
    pub grant_type: GrantType,
    pub credentials: ClientCredentials,
    /// The requested scope, syntax-checked; `None` when absent or empty.
    pub scope: Option<ScopeSet>,
    params: HashMap<String, String>,
}

impl std::fmt::Debug for TokenRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenRequest")
            .field("grant_type", &self.grant_type)
            .field("client_id", &self.credentials.client_id)
            .field("method", &self.credentials.method)
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

impl TokenRequest {
    /// `query` is the request URI's query string (refused if not empty).
    pub fn parse(headers: &HeaderMap, query: &str, body: &[u8]) -> Result<Self, OAuthError> {
        let mut params = parse_client_form(headers, query, body)?;
        let grant_type = match params.remove("grant_type") {
            None => return Err(OAuthError::invalid_request("missing grant_type")),
            Some(g) if g == "client_credentials" => GrantType::ClientCredentials,
            Some(g) if g == "refresh_token" => GrantType::RefreshToken,
            Some(_) => {
                return Err(OAuthError::unsupported_grant_type(
                    "supported grant types: client_credentials, refresh_token",
                ))
            }
        };
        if grant_type == GrantType::RefreshToken && !params.contains_key("refresh_token") {
            return Err(OAuthError::invalid_request("missing refresh_token"));
        }
        let credentials = client_credentials(headers, &mut params)?;
        // RFC 6749 §5.2: a malformed scope is `invalid_scope`, not `invalid_request`.
        let scope = params
            .remove("scope")
            .map(|text| ScopeSet::parse(&text))
            .transpose()
            .map_err(|e| OAuthError::invalid_scope(e.to_string()))?
            .filter(|scope| !scope.is_empty());
        Ok(Self {
            grant_type,
            credentials,
            scope,
            params,
        })
    }

    pub fn param(&self, name: &str) -> Option<&str> {
        self.params.get(name).map(String::as_str)
    }

    pub fn client_id(&self) -> &str {
        &self.credentials.client_id
    }
}

/// A request to `/oauth/revoke` (RFC 7009 §2.1) or `/oauth/introspect` (RFC 7662
/// §2.1): an authenticated client naming a token. `Debug` shows neither.
pub struct TokenActionRequest {
    pub credentials: ClientCredentials,
    pub token: Secret,
    /// Honoured as a hint only: keygate tells tokens apart by their form.
    pub token_type_hint: Option<String>,
}

impl std::fmt::Debug for TokenActionRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenActionRequest")
            .field("client_id", &self.credentials.client_id)
            .field("token_type_hint", &self.token_type_hint)
            .finish_non_exhaustive()
    }
}

impl TokenActionRequest {
    pub fn parse(headers: &HeaderMap, query: &str, body: &[u8]) -> Result<Self, OAuthError> {
        let mut params = parse_client_form(headers, query, body)?;
        let credentials = client_credentials(headers, &mut params)?;
        let token = params
            .remove("token")
            .map(Secret::new)
            .ok_or_else(|| OAuthError::invalid_request("missing token"))?;
        Ok(Self {
            credentials,
            token,
            token_type_hint: params.remove("token_type_hint"),
        })
    }
}

/// The checks every `/oauth/*` POST shares: no query string — RFC 6749 §2.3.1 forbids
/// credentials in the URI and keygate's endpoints take no query parameters, so any is
/// refused rather than a secret in it silently accepted (and logged by proxies) — a
/// form-encoded body, and its parameters.
fn parse_client_form(
    headers: &HeaderMap,
    query: &str,
    body: &[u8],
) -> Result<HashMap<String, String>, OAuthError> {
    if !query.is_empty() {
        return Err(OAuthError::invalid_request(
            "parameters belong in the form-encoded body, not the URL",
        ));
    }
    require_form_content_type(headers)?;
    parse_form(body)
}

fn require_form_content_type(headers: &HeaderMap) -> Result<(), OAuthError> {
    let essence = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase());
    match essence.as_deref() {
        Some("application/x-www-form-urlencoded") => Ok(()),
        _ => Err(OAuthError::invalid_request(
            "content type must be application/x-www-form-urlencoded",
        )),
    }
}

/// `application/x-www-form-urlencoded` with strict UTF-8 (the common decoders replace
/// invalid bytes silently) and the RFC's single-occurrence rule.
fn parse_form(body: &[u8]) -> Result<HashMap<String, String>, OAuthError> {
    let mut params = HashMap::new();
    for pair in body.split(|&b| b == b'&').filter(|p| !p.is_empty()) {
        let (name, value) = match pair.iter().position(|&b| b == b'=') {
            Some(i) => (&pair[..i], &pair[i + 1..]),
            None => (pair, &b""[..]),
        };
        let name = form_decode(name)?;
        let value = form_decode(value)?;
        if params.contains_key(&name) {
            return Err(OAuthError::invalid_request(format!(
                "parameter '{}' is given more than once",
                printable(&name)
            )));
        }
        // RFC 6749 §3.1: parameters sent without a value are treated as omitted; the
        // name still counts for the repetition rule above.
        params.insert(name, value);
        if params.len() > MAX_PARAMETERS {
            return Err(OAuthError::invalid_request("too many parameters"));
        }
    }
    params.retain(|_, value| !value.is_empty());
    Ok(params)
}

fn form_decode(raw: &[u8]) -> Result<String, OAuthError> {
    let plus_as_space: Vec<u8> = raw
        .iter()
        .map(|&b| if b == b'+' { b' ' } else { b })
        .collect();
    let decoded: Vec<u8> = percent_decode(&plus_as_space).collect();
    String::from_utf8(decoded).map_err(|_| OAuthError::invalid_request("parameters must be UTF-8"))
}

/// A parameter name safe to echo in an error description.
fn printable(name: &str) -> String {
    name.chars()
        .filter(|c| c.is_ascii_graphic())
        .take(40)
        .collect()
}

/// RFC 6749 §2.3: exactly one of `client_secret_basic` and `client_secret_post`.
fn client_credentials(
    headers: &HeaderMap,
    params: &mut HashMap<String, String>,
) -> Result<ClientCredentials, OAuthError> {
    let basic = basic_credentials(headers)?;
    let body_id = params.remove("client_id");
    let body_secret = params.remove("client_secret").map(Secret::new);
    match (basic, body_id, body_secret) {
        (Some(_), _, Some(_)) => Err(OAuthError::invalid_request(
            "use one client authentication method, not both Basic and client_secret",
        )),
        (Some(basic), Some(id), None) if id != basic.client_id => Err(OAuthError::invalid_request(
            "client_id in the body differs from the Basic credentials",
        )),
        (Some(basic), _, None) => Ok(basic),
        (None, Some(client_id), Some(secret)) => Ok(ClientCredentials {
            client_id,
            secret,
            method: AuthMethod::ClientSecretPost,
        }),
        (None, None, Some(_)) => Err(OAuthError::invalid_request(
            "client_secret without client_id",
        )),
        (None, _, None) => Err(OAuthError::invalid_client(
            "client authentication required: client_secret_basic or client_secret_post",
        )),
    }
}

/// `Authorization: Basic base64(urlencode(id) ":" urlencode(secret))` (RFC 6749 §2.3.1).
fn basic_credentials(headers: &HeaderMap) -> Result<Option<ClientCredentials>, OAuthError> {
    let mut values = headers.get_all(header::AUTHORIZATION);
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(OAuthError::invalid_request(
            "more than one Authorization header",
        ));
    }
    let malformed = || OAuthError::invalid_client("malformed Basic credentials");
    let value = value.to_str().map_err(|_| malformed())?;
    let (scheme, encoded) = value.split_once(' ').unwrap_or((value, ""));
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(OAuthError::invalid_client(
            "unsupported client authentication scheme; use Basic or client_secret_post",
        ));
    }
    let decoded = STANDARD.decode(encoded.trim()).map_err(|_| malformed())?;
    let (raw_id, raw_secret) = decoded
        .iter()
        .position(|&b| b == b':')
        .map(|i| (&decoded[..i], &decoded[i + 1..]))
        .ok_or_else(malformed)?;
    let client_id = form_decode(raw_id).map_err(|_| malformed())?;
    let secret = form_decode(raw_secret).map_err(|_| malformed())?;
    if client_id.is_empty() {
        return Err(malformed());
    }
    Ok(Some(ClientCredentials {
        client_id,
        secret: Secret::new(secret),
        method: AuthMethod::ClientSecretBasic,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oauth::error::ErrorCode;
    use actix_web::http::header::HeaderValue;

    fn headers(auth: Option<&str>) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/x-www-form-urlencoded; charset=UTF-8"),
        );
        if let Some(a) = auth {
            h.insert(header::AUTHORIZATION, HeaderValue::from_str(a).unwrap());
        }
        h
    }

    fn basic(id: &str, secret: &str) -> String {
        format!("Basic {}", STANDARD.encode(format!("{id}:{secret}")))
    }

    fn code(result: Result<TokenRequest, OAuthError>) -> ErrorCode {
        result.unwrap_err().code()
    }

    #[test]
    fn basic_credentials_are_form_decoded() {
        let h = headers(Some(&basic("my%20client", "p%3Ass+w%2Bd")));
        let r = TokenRequest::parse(&h, "", b"grant_type=client_credentials").unwrap();
        assert_eq!(r.credentials.client_id, "my client");
        assert!(r.credentials.secret.ct_eq(b"p:ss w+d"));
        assert_eq!(r.credentials.method, AuthMethod::ClientSecretBasic);
    }

    #[test]
    fn post_credentials_and_empty_values_count_as_absent() {
        let r = TokenRequest::parse(
            &headers(None),
            "",
            b"grant_type=client_credentials&client_id=c&client_secret=kgs_topsecret&scope=",
        )
        .unwrap();
        assert_eq!(r.credentials.method, AuthMethod::ClientSecretPost);
        assert_eq!(r.scope, None);
        assert!(!format!("{r:?}").contains("topsecret"));
        let in_query = TokenRequest::parse(
            &headers(None),
            "client_secret=s",
            b"grant_type=client_credentials",
        );
        assert_eq!(code(in_query), ErrorCode::InvalidRequest);
    }

    #[test]
    fn request_errors_follow_rfc_6749() {
        let post = "&client_id=c&client_secret=s";
        let cases: Vec<(HeaderMap, String, ErrorCode)> = vec![
            (
                headers(None),
                format!("scope=read{post}"),
                ErrorCode::InvalidRequest,
            ),
            (
                headers(None),
                format!("grant_type=password{post}"),
                ErrorCode::UnsupportedGrantType,
            ),
            (
                headers(None),
                format!("grant_type=client_credentials&grant_type=client_credentials{post}"),
                ErrorCode::InvalidRequest,
            ),
            (
                headers(None),
                "grant_type=client_credentials".into(),
                ErrorCode::InvalidClient,
            ),
            (
                headers(None),
                "grant_type=client_credentials&client_id=c".into(),
                ErrorCode::InvalidClient,
            ),
            (
                headers(None),
                "grant_type=client_credentials&client_secret=s".into(),
                ErrorCode::InvalidRequest,
            ),
            (
                headers(Some(&basic("c", "s"))),
                format!("grant_type=client_credentials{post}"),
                ErrorCode::InvalidRequest,
            ),
            (
                headers(Some(&basic("c", "s"))),
                "grant_type=client_credentials&client_id=other".into(),
                ErrorCode::InvalidRequest,
            ),
            (
                headers(Some("Basic !!!")),
                "grant_type=client_credentials".into(),
                ErrorCode::InvalidClient,
            ),
            (
                headers(Some(&format!("Basic {}", STANDARD.encode("no-colon")))),
                "grant_type=client_credentials".into(),
                ErrorCode::InvalidClient,
            ),
            (
                headers(Some("Bearer abc")),
                "grant_type=client_credentials".into(),
                ErrorCode::InvalidClient,
            ),
            (
                headers(None),
                format!("grant_type=client_credentials{post}&x=%FF"),
                ErrorCode::InvalidRequest,
            ),
        ];
        for (h, body, expected) in cases {
            assert_eq!(
                code(TokenRequest::parse(&h, "", body.as_bytes())),
                expected,
                "{body}"
            );
        }
        let mut json = headers(None);
        json.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        assert_eq!(
            code(TokenRequest::parse(&json, "", b"{}")),
            ErrorCode::InvalidRequest
        );
        let many: String = (0..40).map(|i| format!("p{i}=v&")).collect();
        assert_eq!(
            code(TokenRequest::parse(&headers(None), "", many.as_bytes())),
            ErrorCode::InvalidRequest
        );
    }
}
