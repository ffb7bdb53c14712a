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

mod body;
mod credentials;

use std::collections::HashMap;

use actix_web::http::header::HeaderMap;

use super::error::OAuthError;
use crate::clients::GrantType;
use crate::scope::ScopeSet;
use crate::secret::Secret;
use body::parse_client_form;
use credentials::client_credentials;

pub use crate::clients::AuthMethod;
pub use credentials::ClientCredentials;

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
        let grant_type =
            match params.remove("grant_type") {
                None => return Err(OAuthError::invalid_request("missing grant_type")),
                Some(g) if g == "client_credentials" => GrantType::ClientCredentials,
                Some(g) if g == "refresh_token" => GrantType::RefreshToken,
                Some(g) if g == "authorization_code" => GrantType::AuthorizationCode,
                Some(_) => return Err(OAuthError::unsupported_grant_type(
                    "supported grant types: authorization_code, client_credentials, refresh_token",
                )),
            };
        if grant_type == GrantType::RefreshToken && !params.contains_key("refresh_token") {
            return Err(OAuthError::invalid_request("missing refresh_token"));
        }
        if grant_type == GrantType::AuthorizationCode {
            // RFC 6749 §4.1.3; keygate requires redirect_uri in every authorization
            // request, so every code's redemption repeats it; and PKCE for every code.
            for (name, missing) in [
                ("code", "missing code"),
                ("redirect_uri", "missing redirect_uri: send the one the authorization request named"),
                ("code_verifier", "missing code_verifier: keygate requires PKCE (RFC 7636) for every authorization code"),
            ] {
                if !params.contains_key(name) {
                    return Err(OAuthError::invalid_request(missing));
                }
            }
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

#[cfg(test)]
mod tests;
