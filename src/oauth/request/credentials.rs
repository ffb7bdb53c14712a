//! Client credentials as RFC 6749 §2.3 has them sent: `client_secret_basic` (its id
//! and secret form-urlencoded before base64, §2.3.1) or `client_secret_post`, exactly
//! one of the two — or, for a public client, its `client_id` alone (`none`), which
//! only the authorization code and refresh grants accept, and only from a client
//! registered as public.

use std::collections::HashMap;

use actix_web::http::header::{self, HeaderMap};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;

use super::body::form_decode;
use crate::clients::AuthMethod;
use crate::oauth::error::OAuthError;
use crate::secret::Secret;

/// A client's presented credentials, however they were sent.
#[derive(Debug)]
pub struct ClientCredentials {
    pub client_id: String,
    pub secret: Secret,
    pub method: AuthMethod,
}

/// RFC 6749 §2.3: exactly one of `client_secret_basic` and `client_secret_post`.
pub(super) fn client_credentials(
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
        (None, Some(client_id), None) => Ok(ClientCredentials {
            client_id,
            secret: Secret::new(String::new()),
            method: AuthMethod::None,
        }),
        (None, None, None) => Err(OAuthError::invalid_client(
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
