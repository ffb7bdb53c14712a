//! What the outside sees of a client — never its secret's hash: the management view
//! (`ClientView`, shown by `/v1/clients` and the CLI alike), the view with a secret
//! shown once (`WithSecret`), and the registration as RFC 7591 §3.2.1 / RFC 7592 §3
//! return it (`Registered`).

use chrono::{DateTime, NaiveDateTime, Utc};
use serde::Serialize;

use super::model::Client;
use crate::secret::Secret;

/// RFC 7591 §2: "If unspecified or omitted, the default is `client_secret_basic`".
pub const DEFAULT_AUTH_METHOD: &str = "client_secret_basic";

/// How a client is shown: never its secret or any hash.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ClientView<'a> {
    pub client_id: &'a str,
    pub name: &'a str,
    pub org_id: &'a str,
    /// The scopes the client may obtain (as `scopes` on create and update).
    pub scopes: Vec<&'a str>,
    /// What a token request naming no scope gets.
    pub default_scopes: Vec<&'a str>,
    pub grant_types: Vec<&'a str>,
    /// The default audience (`null`: the server's `default_audience`).
    pub audience: Option<&'a str>,
    /// Every audience the client may obtain tokens for (`[]`: only the server's
    /// `default_audience`).
    pub audiences: Vec<&'a str>,
    pub access_token_ttl_secs: Option<i64>,
    pub refresh_reuse_grace_secs: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub disabled_at: Option<DateTime<Utc>>,
    /// During a secret rotation's overlap: when the previous secret stops working.
    pub previous_secret_expires_at: Option<DateTime<Utc>>,
    /// When the current secret stops working (`null`: never).
    pub secret_expires_at: Option<DateTime<Utc>>,
    pub rate_limit_per_minute: Option<i64>,
    /// The one method the client may authenticate with (`null`: either).
    #[schema(value_type = Option<crate::openapi::schemas::TokenEndpointAuthMethod>)]
    pub token_endpoint_auth_method: Option<&'a str>,
    /// Where the authorization endpoint may send a person back with a code.
    pub redirect_uris: Vec<&'a str>,
}

impl<'a> ClientView<'a> {
    pub fn new(c: &'a Client, now: NaiveDateTime) -> Self {
        Self {
            client_id: c.id.as_str(),
            name: &c.name,
            org_id: c.org_id.as_str(),
            scopes: c.allowed_scopes.split_whitespace().collect(),
            default_scopes: c.default_scopes.split_whitespace().collect(),
            grant_types: c.grant_types.split(' ').collect(),
            audience: c.audience.as_deref(),
            audiences: c.registered_audiences(),
            access_token_ttl_secs: c.access_token_ttl_secs,
            refresh_reuse_grace_secs: c.refresh_reuse_grace_secs,
            created_at: c.created_at.and_utc(),
            updated_at: c.updated_at.and_utc(),
            disabled_at: c.disabled_at.map(|t| t.and_utc()),
            previous_secret_expires_at: c
                .previous_secret_expires_at
                .filter(|until| *until > now)
                .map(|t| t.and_utc()),
            secret_expires_at: c.secret_expires_at.map(|t| t.and_utc()),
            rate_limit_per_minute: c.rate_limit_per_minute,
            token_endpoint_auth_method: c.token_endpoint_auth_method.as_deref(),
            redirect_uris: c.redirect_uris().collect(),
        }
    }
}

/// A view plus the secret, shown this once.
#[derive(Serialize, utoipa::ToSchema)]
pub struct WithSecret<'a> {
    /// First: the one field shown once (absent for a public client, which has none).
    #[serde(skip_serializing_if = "Option::is_none")]
    client_secret: Option<&'a str>,
    #[serde(flatten)]
    view: ClientView<'a>,
}

impl<'a> WithSecret<'a> {
    pub fn new(client: &'a Client, secret: Option<&'a Secret>, now: NaiveDateTime) -> Self {
        Self {
            view: ClientView::new(client, now),
            client_secret: secret.map(Secret::expose),
        }
    }
}

/// The registered metadata as RFC 7591 §3.2.1 / RFC 7592 §3 return it.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Registered<'a> {
    client_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    client_secret: Option<&'a str>,
    client_id_issued_at: i64,
    /// Seconds since the epoch; 0: the secret does not expire (it can be rotated).
    client_secret_expires_at: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    registration_access_token: Option<&'a str>,
    registration_client_uri: String,
    client_name: &'a str,
    scope: &'a str,
    grant_types: Vec<&'a str>,
    #[schema(value_type = crate::openapi::schemas::TokenEndpointAuthMethod)]
    token_endpoint_auth_method: &'a str,
    /// `["code"]` for a client of the authorization code grant, else empty.
    response_types: Vec<&'static str>,
    redirect_uris: Vec<&'a str>,
    /// keygate's extension (see `oauth::registration`); absent for a client that has
    /// only the server's `default_audience`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    keygate_audiences: Vec<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    keygate_audience: Option<&'a str>,
}

impl<'a> Registered<'a> {
    /// `client` as registered, under the issuer `issuer_base`, with the secret and the
    /// registration access token when they are shown (each is, once).
    pub fn new(
        client: &'a Client,
        issuer_base: &str,
        secret: Option<&'a Secret>,
        registration_token: Option<&'a Secret>,
    ) -> Self {
        Self {
            client_id: client.id.as_str(),
            client_secret: secret.map(Secret::expose),
            client_id_issued_at: client.created_at.and_utc().timestamp(),
            client_secret_expires_at: client
                .secret_expires_at
                .map_or(0, |at| at.and_utc().timestamp()),
            registration_access_token: registration_token.map(Secret::expose),
            registration_client_uri: format!("{issuer_base}/oauth/register/{}", client.id),
            client_name: &client.name,
            scope: &client.allowed_scopes,
            grant_types: client.grant_types.split(' ').collect(),
            // As registered; a client that named none has RFC 7591's default (and
            // accepts client_secret_post as well).
            token_endpoint_auth_method: client
                .token_endpoint_auth_method
                .as_deref()
                .unwrap_or(DEFAULT_AUTH_METHOD),
            response_types: if client.allows_grant(super::GrantType::AuthorizationCode) {
                vec!["code"]
            } else {
                Vec::new()
            },
            redirect_uris: client.redirect_uris().collect(),
            keygate_audiences: client.registered_audiences(),
            keygate_audience: client.audience.as_deref(),
        }
    }
}
