//! Parsing of token-endpoint requests, owned by keygate rather than oxide-auth's
//! adapters because RFC 6749 asks for more than they do: Basic credentials are
//! form-urlencoded before base64 (§2.3.1) and must be decoded; a client uses exactly one
//! authentication method (§2.3); parameters appear at most once — but for RFC 8707's
//! `resource`, which may repeat — and empty ones count as absent (§3.1); the body is
//! `application/x-www-form-urlencoded`.
//!
//! A documented extension (Auth0 has it, and some platforms' documentation sends it):
//! the same parameters as one JSON object of strings, with `Content-Type:
//! application/json`, under the same rules and limits. A JSON body sent as form data
//! (what `curl -d '{…}'` does) is told what to send instead.

use std::collections::hash_map::Entry;
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
    /// The RFC 8707 `resource` (or Auth0's `audience`) the token is asked for: one
    /// absolute URI, or `None` for the client's default.
    pub resource: Option<String>,
    params: HashMap<String, String>,
}

impl std::fmt::Debug for TokenRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenRequest")
            .field("grant_type", &self.grant_type)
            .field("client_id", &self.credentials.client_id)
            .field("method", &self.credentials.method)
            .field("scope", &self.scope)
            .field("resource", &self.resource)
            .finish_non_exhaustive()
    }
}

impl TokenRequest {
    /// `query` is the request URI's query string (refused if not empty).
    pub fn parse(headers: &HeaderMap, query: &str, body: &[u8]) -> Result<Self, OAuthError> {
        let (mut params, resources) = parse_client_form(headers, query, body)?;
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
        let resource = requested_resource(resources, params.remove("audience"))?;
        Ok(Self {
            grant_type,
            credentials,
            scope,
            resource,
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
        // RFC 7009 and RFC 7662 take no `resource`: one sent is ignored, like any
        // other unknown parameter.
        let (mut params, _) = parse_client_form(headers, query, body)?;
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

/// RFC 8707 §2 `resource` — or `audience`, as Auth0's clients send it: at most one
/// distinct value (keygate's tokens carry one `aud`, so it does not implement RFC
/// 8707's several resources per token), an absolute URI without a fragment. Whether
/// the client may have it is the grant's question, asked after authentication.
fn requested_resource(
    mut named: Vec<String>,
    audience: Option<String>,
) -> Result<Option<String>, OAuthError> {
    named.extend(audience);
    named.sort();
    named.dedup();
    if named.len() > 1 {
        return Err(OAuthError::invalid_target(
            "name one resource: keygate's access tokens carry a single aud, so a request \
             for several resources (resource repeated, or resource and audience differing) \
             is refused; ask for one token per resource",
        ));
    }
    match named.pop() {
        Some(resource) if !crate::clients::model::is_valid_audience(&resource) => {
            Err(OAuthError::invalid_target(
                "resource must be an absolute URI without a fragment (RFC 8707 §2)",
            ))
        }
        resource => Ok(resource),
    }
}

/// A request's parameters: each named once, and the values of RFC 8707's `resource`,
/// which may repeat.
type Parsed = (HashMap<String, String>, Vec<String>);

/// The checks every `/oauth/*` POST shares: no query string — RFC 6749 §2.3.1 forbids
/// credentials in the URI and keygate's endpoints take no query parameters, so any is
/// refused rather than a secret in it silently accepted (and logged by proxies) — a
/// form-encoded (or JSON) body, and its parameters.
fn parse_client_form(headers: &HeaderMap, query: &str, body: &[u8]) -> Result<Parsed, OAuthError> {
    if !query.is_empty() {
        return Err(OAuthError::invalid_request(
            "parameters belong in the form-encoded body, not the URL",
        ));
    }
    match body_format(headers)? {
        BodyFormat::Form if looks_like_json(body) => Err(OAuthError::invalid_request(JSON_AS_FORM)),
        BodyFormat::Form => parse_form(body),
        BodyFormat::Json => parse_json(body),
    }
}

/// What a JSON body sent as form data is told (curl's `-d` sends form data).
const JSON_AS_FORM: &str = "the body is JSON but the Content-Type is \
    application/x-www-form-urlencoded: send it with Content-Type: application/json, or \
    form-encode the parameters, e.g. \
    grant_type=client_credentials&client_id=kgc_…&client_secret=kgs_… \
    (curl -d grant_type=client_credentials -d client_id=… -d client_secret=…)";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum BodyFormat {
    Form,
    /// keygate's extension: the same parameters as one JSON object of strings.
    Json,
}

fn body_format(headers: &HeaderMap) -> Result<BodyFormat, OAuthError> {
    let essence = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase());
    match essence.as_deref() {
        Some("application/x-www-form-urlencoded") => Ok(BodyFormat::Form),
        Some("application/json") => Ok(BodyFormat::Json),
        _ => Err(OAuthError::invalid_request(
            "content type must be application/x-www-form-urlencoded (or application/json)",
        )),
    }
}

/// A form body whose first non-blank byte opens a JSON object: no form parameter is
/// named like that, so it was meant as JSON.
fn looks_like_json(body: &[u8]) -> bool {
    body.iter()
        .find(|b| !b.is_ascii_whitespace())
        .is_some_and(|&b| b == b'{')
}

/// RFC 8707 §2: "the `resource` parameter … MAY be included multiple times".
const RESOURCE: &str = "resource";

/// The parameters read so far, under the rules both body formats share.
#[derive(Default)]
struct Params {
    values: HashMap<String, String>,
    resources: Vec<String>,
}

impl Params {
    /// Adds one parameter: each name at most once (but `resource`), at most
    /// `MAX_PARAMETERS` in all. RFC 6749 §3.1: a parameter sent without a value is
    /// treated as omitted; its name still counts for the repetition rule.
    fn add(&mut self, name: String, value: String) -> Result<(), OAuthError> {
        if name == RESOURCE {
            self.resources.push(value);
        } else {
            match self.values.entry(name) {
                Entry::Occupied(taken) => {
                    return Err(OAuthError::invalid_request(format!(
                        "parameter '{}' is given more than once",
                        printable(taken.key())
                    )))
                }
                Entry::Vacant(free) => {
                    free.insert(value);
                }
            }
        }
        if self.values.len() + self.resources.len() > MAX_PARAMETERS {
            return Err(OAuthError::invalid_request("too many parameters"));
        }
        Ok(())
    }

    fn finish(mut self) -> Parsed {
        self.values.retain(|_, value| !value.is_empty());
        self.resources.retain(|value| !value.is_empty());
        (self.values, self.resources)
    }
}

/// `application/x-www-form-urlencoded` with strict UTF-8 (the common decoders replace
/// invalid bytes silently) and the RFC's single-occurrence rule.
fn parse_form(body: &[u8]) -> Result<Parsed, OAuthError> {
    let mut params = Params::default();
    for pair in body.split(|&b| b == b'&').filter(|p| !p.is_empty()) {
        let (name, value) = match pair.iter().position(|&b| b == b'=') {
            Some(i) => (&pair[..i], &pair[i + 1..]),
            None => (pair, &b""[..]),
        };
        params.add(form_decode(name)?, form_decode(value)?)?;
    }
    Ok(params.finish())
}

/// keygate's JSON extension: one object whose members are the form's parameters, each
/// a string, each at most once (serde_json would silently keep the last of two), with
/// the form's limits. Nothing else is accepted — no numbers, booleans, nulls, arrays
/// or nested objects — so a JSON request means exactly what the same form would; the
/// one exception is `resource`, which may also be an array of strings, as the form
/// may repeat it. Error messages name a parameter at most, never a value (it may be
/// a secret).
fn parse_json(body: &[u8]) -> Result<Parsed, OAuthError> {
    use serde::de::DeserializeSeed;
    let refusal = std::cell::RefCell::new(None);
    let mut reader = serde_json::Deserializer::from_slice(body);
    let parsed = JsonParams { refusal: &refusal }
        .deserialize(&mut reader)
        .and_then(|params| reader.end().map(|()| params));
    match (refusal.into_inner(), parsed) {
        (Some(refused), _) => Err(refused),
        (None, Ok(params)) => Ok(params.finish()),
        (None, Err(error)) => Err(json_error(&error)),
    }
}

/// serde_json's own message may quote the input (a secret, say): only its category
/// and position are used.
fn json_error(error: &serde_json::Error) -> OAuthError {
    use serde_json::error::Category;
    let what = match error.classify() {
        Category::Data => "must be one JSON object of string parameters",
        Category::Io | Category::Syntax | Category::Eof => "is not valid JSON",
    };
    OAuthError::invalid_request(format!(
        "the body {what} (line {}, column {}), e.g. \
         {{\"grant_type\": \"client_credentials\", \"client_id\": \"kgc_…\", \"client_secret\": \"kgs_…\"}}",
        error.line(),
        error.column()
    ))
}

/// Reads the top-level JSON object into `Params`; a refusal of keygate's own (a
/// repeated or non-string parameter) is left in `refusal`, for its message.
struct JsonParams<'r> {
    refusal: &'r std::cell::RefCell<Option<OAuthError>>,
}

impl<'de> serde::de::DeserializeSeed<'de> for JsonParams<'_> {
    type Value = Params;

    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<Params, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> serde::de::Visitor<'de> for JsonParams<'_> {
    type Value = Params;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON object of string parameters")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Params, A::Error> {
        let mut params = Params::default();
        while let Some(name) = map.next_key::<String>()? {
            // Any JSON value, so that the refusal can name what was wrong; serde_json
            // bounds the nesting (128 levels) and the body limit its size.
            let value: serde_json::Value = map.next_value()?;
            let not_a_string = |name: &str| {
                OAuthError::invalid_request(format!(
                    "parameter '{}' must be a string, as in the form encoding",
                    printable(name)
                ))
            };
            let added = match value {
                serde_json::Value::String(value) => params.add(name, value),
                serde_json::Value::Array(values) if name == RESOURCE => {
                    values.into_iter().try_for_each(|value| match value {
                        serde_json::Value::String(value) => params.add(name.clone(), value),
                        _ => Err(not_a_string(&name)),
                    })
                }
                _ => Err(not_a_string(&name)),
            };
            if let Err(refused) = added {
                *self.refusal.borrow_mut() = Some(refused);
                return Err(serde::de::Error::custom("refused"));
            }
        }
        Ok(params)
    }
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
        let mut text = headers(None);
        text.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
        assert_eq!(
            code(TokenRequest::parse(
                &text,
                "",
                b"grant_type=client_credentials"
            )),
            ErrorCode::InvalidRequest
        );
        let many: String = (0..40).map(|i| format!("p{i}=v&")).collect();
        assert_eq!(
            code(TokenRequest::parse(&headers(None), "", many.as_bytes())),
            ErrorCode::InvalidRequest
        );
    }

    fn json_headers() -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json; charset=utf-8"),
        );
        h
    }

    fn json_error(body: &str) -> String {
        let error = TokenRequest::parse(&json_headers(), "", body.as_bytes()).unwrap_err();
        assert_eq!(error.code(), ErrorCode::InvalidRequest, "{body}");
        error.to_string()
    }

    #[test]
    fn a_json_body_means_what_the_form_means() {
        let r = TokenRequest::parse(
            &json_headers(),
            "",
            br#" {"grant_type": "client_credentials", "client_id": "c", "client_secret": "kgs_topsecret", "scope": ""} "#,
        )
        .unwrap();
        assert_eq!(r.grant_type, GrantType::ClientCredentials);
        assert_eq!(r.credentials.method, AuthMethod::ClientSecretPost);
        assert_eq!(r.scope, None, "an empty string counts as absent");
        let refresh = TokenRequest::parse(
            &json_headers(),
            "",
            br#"{"grant_type": "refresh_token", "refresh_token": "kgr_x", "client_id": "c", "client_secret": "s"}"#,
        )
        .unwrap();
        assert_eq!(refresh.param("refresh_token"), Some("kgr_x"));
    }

    #[test]
    fn json_bodies_are_held_to_the_form_rules() {
        let cases = [
            (
                r#"{"grant_type": "client_credentials", "grant_type": "client_credentials"}"#,
                "more than once",
            ),
            (r#"{"grant_type": 1}"#, "'grant_type' must be a string"),
            (r#"{"grant_type": null}"#, "must be a string"),
            (r#"{"grant_type": true}"#, "must be a string"),
            (
                r#"{"grant_type": ["client_credentials"]}"#,
                "must be a string",
            ),
            (r#"{"grant_type": {"a": "b"}}"#, "must be a string"),
            (r#"["grant_type", "client_credentials"]"#, "one JSON object"),
            (r#""kgs_topsecret""#, "one JSON object"),
            (r#"{"grant_type": "client_credentials""#, "not valid JSON"),
            (
                r#"{"grant_type": "client_credentials"} {}"#,
                "not valid JSON",
            ),
            (r#"{"grant_type": "\ud800"}"#, "not valid JSON"),
        ];
        for (body, expected) in cases {
            let message = json_error(body);
            assert!(message.contains(expected), "{body}: {message}");
            assert!(!message.contains("topsecret"), "{message}");
        }
        let nested = format!("{{\"a\": {}{}}}", "[".repeat(5000), "]".repeat(5000));
        assert!(json_error(&nested).contains("not valid JSON"));
        let many: Vec<String> = (0..40).map(|i| format!("\"p{i}\": \"v\"")).collect();
        let many = format!("{{{}}}", many.join(","));
        assert!(json_error(&many).contains("too many parameters"));
        // A secret in a refused value is never echoed.
        let message = json_error(r#"{"client_secret": ["kgs_topsecret"]}"#);
        assert!(!message.contains("topsecret"), "{message}");
    }

    #[test]
    fn a_json_body_sent_as_form_data_is_told_what_to_send() {
        let body =
            br#"{ "grant_type": "client_credentials", "client_id": "c", "client_secret": "s" }"#;
        let error = TokenRequest::parse(&headers(None), "", body).unwrap_err();
        assert_eq!(error.code(), ErrorCode::InvalidRequest);
        let message = error.to_string();
        assert!(
            message.contains("Content-Type: application/json"),
            "{message}"
        );
        assert!(
            message.contains("grant_type=client_credentials&client_id="),
            "{message}"
        );
        let action = TokenActionRequest::parse(&headers(None), "", b"\n {\"token\": \"t\"}");
        assert_eq!(action.unwrap_err().code(), ErrorCode::InvalidRequest);
    }

    #[test]
    fn one_resource_by_resource_or_audience() {
        let cc = "grant_type=client_credentials&client_id=c&client_secret=s";
        let parse = |extra: &str| {
            TokenRequest::parse(&headers(None), "", format!("{cc}{extra}").as_bytes())
        };
        let a = "https%3A%2F%2Fa.example";
        for extra in [
            format!("&resource={a}"),
            format!("&audience={a}"),
            format!("&resource={a}&resource={a}&audience={a}"),
        ] {
            let parsed = parse(&extra).unwrap();
            assert_eq!(parsed.resource.as_deref(), Some("https://a.example"));
            assert_eq!(parsed.param("audience"), None);
        }
        assert_eq!(parse("&resource=").unwrap().resource, None);
        for extra in [
            format!("&resource={a}&resource=https%3A%2F%2Fb.example"),
            format!("&resource={a}&audience=https%3A%2F%2Fb.example"),
            "&resource=not-a-uri".to_owned(),
            "&resource=https%3A%2F%2Fa.example%23x".to_owned(),
        ] {
            assert_eq!(code(parse(&extra)), ErrorCode::InvalidTarget, "{extra}");
        }
        assert_eq!(
            code(parse(&format!("&audience={a}&audience={a}"))),
            ErrorCode::InvalidRequest
        );
        let many: String = (0..40).map(|_| format!("&resource={a}")).collect();
        assert_eq!(code(parse(&many)), ErrorCode::InvalidRequest);
    }
}
