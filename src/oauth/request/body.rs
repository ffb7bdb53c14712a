//! The body of an `/oauth/*` POST and the rules its two formats share: no query
//! string, `application/x-www-form-urlencoded` with strict UTF-8 (or keygate's JSON
//! extension, one object of strings), each parameter at most once but `resource`, at
//! most `MAX_PARAMETERS`, and an empty value counted as absent.

use std::collections::hash_map::Entry;
use std::collections::HashMap;

use actix_web::http::header::{self, HeaderMap};
use percent_encoding::percent_decode;

use crate::oauth::error::OAuthError;

/// More distinct parameters than any grant uses, by a wide margin.
const MAX_PARAMETERS: usize = 32;

/// A request's parameters: each named once, and the values of RFC 8707's `resource`,
/// which may repeat.
pub(super) type Parsed = (HashMap<String, String>, Vec<String>);

/// The checks every `/oauth/*` POST shares: no query string — RFC 6749 §2.3.1 forbids
/// credentials in the URI and keygate's endpoints take no query parameters, so any is
/// refused rather than a secret in it silently accepted (and logged by proxies) — a
/// form-encoded (or JSON) body, and its parameters.
pub(super) fn parse_client_form(
    headers: &HeaderMap,
    query: &str,
    body: &[u8],
) -> Result<Parsed, OAuthError> {
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

pub(super) fn form_decode(raw: &[u8]) -> Result<String, OAuthError> {
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
