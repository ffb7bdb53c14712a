//! The management API's error envelope:
//! `{"success": false, "error": {"code": "…", "message": "…", "details": {…}}}`, with
//! an RFC 6750 challenge on 401 and 403 `insufficient_scope` (a 401's also naming,
//! where the handler knows it, the RFC 9728 metadata of the resource refused).
//! (The `/oauth/*` endpoints answer in RFC 6749 form instead; see `oauth::error`.)
//!
//! Every domain error reaches the envelope through one `From` impl in this file, each
//! an exhaustive match, so a new variant is a decision made here.

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use serde_json::json;

use crate::api_keys::model::KeyRequestError;
use crate::api_keys::service::KeyError;
use crate::clients::model::RegistrationError;
use crate::clients::service::ClientError;
use crate::identity::authority::AuthorityError;
use crate::identity::error::{ResolveError, Unauthenticated};
use crate::limits::Limited;
use crate::orgs::OrgError;
use crate::secret::RandomError;
use crate::store::StoreError;
use crate::users::UserError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// No accepted credential (401), as the identity resolver says it.
    #[error(transparent)]
    Unauthenticated(#[from] Unauthenticated),
    #[error("this request needs the '{required}' scope")]
    InsufficientScope { required: String },
    /// The operation would give a credential more than the caller's own credential
    /// has (scope, lifetime or rate allowance).
    #[error("{0}")]
    ExceedsAuthority(String),
    /// A malformed request; `field` names the part at fault when there is one.
    #[error("{message}")]
    InvalidRequest {
        message: String,
        field: Option<&'static str>,
    },
    #[error("the request body is larger than {limit} bytes")]
    PayloadTooLarge { limit: usize },
    #[error("send the request body as application/json")]
    UnsupportedMediaType,
    #[error("{0}")]
    Conflict(&'static str),
    #[error("rate limit exceeded: retry in {retry_after_secs} s")]
    RateLimited { limit: u32, retry_after_secs: u64 },
    #[error("no such resource")]
    NotFound,
    /// `allow`: the methods the path serves, for the `Allow` header.
    #[error("this path accepts {allow} only")]
    MethodNotAllowed { allow: String },
    #[error("the service is unavailable")]
    Unavailable,
    /// Detail for the log only; the client sees a generic message.
    #[error("internal error")]
    Internal(String),
}

/// The management API's error body: `{"success": false, "error": {…}}`.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Envelope<'a> {
    /// Always `false`.
    #[schema(value_type = bool, example = false)]
    success: bool,
    error: ErrorBody<'a>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorBody<'a> {
    /// snake_case: `missing_credentials`, `invalid_format`, `invalid_api_key`,
    /// `expired_api_key`, `revoked_api_key`, `invalid_token`, `expired_token`,
    /// `insufficient_scope`, `exceeds_authority`, `invalid_request`,
    /// `payload_too_large`, `unsupported_media_type`, `conflict`,
    /// `rate_limit_exceeded`, `not_found`, `method_not_allowed`,
    /// `service_unavailable`, `internal_error`.
    #[schema(value_type = String, example = "invalid_api_key")]
    code: &'a str,
    /// For people; never internal detail.
    message: String,
    /// What the code needs: `field`, `required_scope`, `expired_at`, `retry_after`,
    /// `limit_per_minute`, `limit_bytes`; `{}` otherwise.
    #[schema(value_type = Object)]
    details: serde_json::Value,
}

impl ApiError {
    pub fn invalid_request(message: impl Into<String>, field: Option<&'static str>) -> Self {
        Self::InvalidRequest {
            message: message.into(),
            field,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            Self::Unauthenticated(why) => why.code(),
            Self::InsufficientScope { .. } => "insufficient_scope",
            Self::ExceedsAuthority(_) => "exceeds_authority",
            Self::InvalidRequest { .. } => "invalid_request",
            Self::PayloadTooLarge { .. } => "payload_too_large",
            Self::UnsupportedMediaType => "unsupported_media_type",
            Self::Conflict(_) => "conflict",
            Self::RateLimited { .. } => "rate_limit_exceeded",
            Self::NotFound => "not_found",
            Self::MethodNotAllowed { .. } => "method_not_allowed",
            Self::Unavailable => "service_unavailable",
            Self::Internal(_) => "internal_error",
        }
    }

    fn details(&self) -> serde_json::Value {
        match self {
            Self::Unauthenticated(Unauthenticated::ExpiredApiKey { expired_at }) => {
                json!({ "expired_at": expired_at })
            }
            Self::InsufficientScope { required } => json!({ "required_scope": required }),
            Self::InvalidRequest {
                field: Some(field), ..
            } => json!({ "field": field }),
            Self::PayloadTooLarge { limit } => json!({ "limit_bytes": limit }),
            Self::RateLimited {
                limit,
                retry_after_secs,
            } => json!({ "retry_after": retry_after_secs, "limit_per_minute": limit }),
            Self::Unauthenticated(
                Unauthenticated::MissingCredentials
                | Unauthenticated::InvalidFormat(_)
                | Unauthenticated::InvalidApiKey
                | Unauthenticated::RevokedApiKey
                | Unauthenticated::InvalidToken(_)
                | Unauthenticated::ExpiredToken,
            )
            | Self::ExceedsAuthority(_)
            | Self::InvalidRequest { field: None, .. }
            | Self::UnsupportedMediaType
            | Self::Conflict(_)
            | Self::NotFound
            | Self::MethodNotAllowed { .. }
            | Self::Unavailable
            | Self::Internal(_) => json!({}),
        }
    }

    /// RFC 6750 §3: no error code when no credentials were sent, `invalid_token` for
    /// any credential that did not resolve, `insufficient_scope` with the scope. A
    /// 401 ends with RFC 9728 §5.1's `resource_metadata` when one is given: the URL
    /// of the document that tells the client which authorization server to ask.
    fn challenge(&self, resource_metadata: Option<&str>) -> Option<String> {
        const REALM: &str = "Bearer realm=\"keygate\"";
        let metadata = resource_metadata
            .map(|url| format!(", resource_metadata={}", quoted_url(url)))
            .unwrap_or_default();
        match self {
            Self::Unauthenticated(Unauthenticated::MissingCredentials) => {
                Some(format!("{REALM}{metadata}"))
            }
            Self::Unauthenticated(_) => Some(format!(
                "{REALM}, error=\"invalid_token\", error_description=\"{}\"{metadata}",
                challenge_text(&self.to_string())
            )),
            Self::InsufficientScope { required } => Some(format!(
                "{REALM}, error=\"insufficient_scope\", scope=\"{required}\""
            )),
            Self::ExceedsAuthority(_)
            | Self::InvalidRequest { .. }
            | Self::PayloadTooLarge { .. }
            | Self::UnsupportedMediaType
            | Self::Conflict(_)
            | Self::RateLimited { .. }
            | Self::NotFound
            | Self::MethodNotAllowed { .. }
            | Self::Unavailable
            | Self::Internal(_) => None,
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
            Self::InsufficientScope { .. } | Self::ExceedsAuthority(_) => StatusCode::FORBIDDEN,
            Self::InvalidRequest { .. } => StatusCode::BAD_REQUEST,
            Self::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        self.response_naming_metadata(None)
    }
}

impl ApiError {
    /// This error's response; a 401's challenge names `resource_metadata` (RFC 9728
    /// §5.1) when given, which only the handler knows (forward-auth: the resource the
    /// gateway's route is for).
    pub fn response_naming_metadata(&self, resource_metadata: Option<&str>) -> HttpResponse {
        if let Self::Internal(detail) = self {
            tracing::error!(error = %detail, "request failed");
        }
        let mut response = HttpResponse::build(self.status_code());
        response.insert_header((header::CACHE_CONTROL, "no-store"));
        if let Some(challenge) = self.challenge(resource_metadata) {
            response.insert_header((header::WWW_AUTHENTICATE, challenge));
        }
        if let Self::MethodNotAllowed { allow } = self {
            response.insert_header((header::ALLOW, allow.as_str()));
        }
        if let Self::Unavailable = self {
            response.insert_header((header::RETRY_AFTER, "1"));
        }
        if let Self::RateLimited {
            limit,
            retry_after_secs,
        } = self
        {
            response
                .insert_header((header::RETRY_AFTER, retry_after_secs.to_string()))
                .insert_header(("RateLimit-Limit", limit.to_string()))
                .insert_header(("RateLimit-Remaining", "0"))
                .insert_header(("RateLimit-Reset", retry_after_secs.to_string()));
        }
        response
            .content_type("application/json")
            .body(self.envelope())
    }
}

/// Text for an RFC 6750 `error_description`: human-readable, within the characters
/// §3 allows (%x20-21 / %x23-5B / %x5D-7E), so quotes, backslashes and non-ASCII
/// are left out (an ellipsis becomes three dots).
fn challenge_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '…' => out.push_str("..."),
            ' ' | '!' | '#'..='[' | ']'..='~' => out.push(c),
            _ => {}
        }
    }
    out
}

/// A URL as an auth-param's quoted-string (RFC 9110 §5.6.4): what a header cannot
/// carry (controls, non-ASCII) percent-encoded as UTF-8, which leaves it the same
/// URL, then `"` and `\` escaped.
fn quoted_url(url: &str) -> String {
    let encoded = percent_encoding::utf8_percent_encode(url, percent_encoding::CONTROLS);
    let mut out = String::with_capacity(url.len() + 2);
    out.push('"');
    for c in encoded.flat_map(str::chars) {
        if matches!(c, '"' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

impl ApiError {
    /// The JSON body of this error's response.
    pub fn envelope(&self) -> String {
        let envelope = Envelope {
            success: false,
            error: ErrorBody {
                code: self.code(),
                message: self.to_string(),
                details: self.details(),
            },
        };
        serde_json::to_string(&envelope).unwrap_or_else(|_| {
            r#"{"success":false,"error":{"code":"internal_error","message":"internal error","details":{}}}"#
                .to_owned()
        })
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match &error {
            StoreError::Unavailable(_) => Self::Unavailable,
            StoreError::ConnectionLost(why) => {
                tracing::warn!(error = %why, "database connection lost");
                Self::Unavailable
            }
            StoreError::Unwritable(why) => {
                tracing::error!(error = %why, "the database cannot take writes");
                Self::Unavailable
            }
            StoreError::Query(_) | StoreError::Cancelled => Self::Internal(error.to_string()),
        }
    }
}

impl From<diesel::result::Error> for ApiError {
    fn from(error: diesel::result::Error) -> Self {
        StoreError::from(error).into()
    }
}

impl From<ResolveError> for ApiError {
    fn from(error: ResolveError) -> Self {
        match error {
            ResolveError::Unauthenticated(why) => Self::Unauthenticated(why),
            ResolveError::ConflictingCredentials => Self::invalid_request(
                "Authorization and X-API-Key carry different credentials; send one",
                None,
            ),
            ResolveError::DuplicateHeader(why) => Self::invalid_request(why, None),
            ResolveError::Store(error) => error.into(),
        }
    }
}

impl From<Limited> for ApiError {
    fn from(limited: Limited) -> Self {
        Self::RateLimited {
            limit: limited.limit,
            retry_after_secs: limited.retry_after_secs,
        }
    }
}

impl From<KeyRequestError> for ApiError {
    fn from(error: KeyRequestError) -> Self {
        Self::invalid_request(error.to_string(), Some(error.field()))
    }
}

impl From<KeyError> for ApiError {
    fn from(error: KeyError) -> Self {
        match error {
            KeyError::Request(error) => error.into(),
            KeyError::Authority(error) => error.into(),
            KeyError::Policy(error) => {
                Self::invalid_request(error.to_string(), Some("max_lifetime"))
            }
            KeyError::NotFound => Self::NotFound,
            KeyError::Conflict(why) => Self::Conflict(why),
            KeyError::Random(error) => error.into(),
            KeyError::Store(error) => error.into(),
        }
    }
}

impl From<RegistrationError> for ApiError {
    fn from(error: RegistrationError) -> Self {
        let field = match &error {
            RegistrationError::InvalidName => "name",
            RegistrationError::InvalidScope(_)
            | RegistrationError::NoScope
            | RegistrationError::UnknownScope(_) => "scopes",
            RegistrationError::DefaultScopeNotAllowed => "default_scopes",
            RegistrationError::UnknownGrantType(_)
            | RegistrationError::RefreshWithoutClientCredentials => "grant_types",
            RegistrationError::InvalidAudience | RegistrationError::DefaultAudienceNotAllowed => {
                "audience"
            }
            RegistrationError::TooManyAudiences => "audiences",
            RegistrationError::InvalidTokenTtl(_) => "access_token_ttl",
            RegistrationError::InvalidReuseGrace => "refresh_reuse_grace",
            RegistrationError::InvalidRateLimit => "rate_limit_per_minute",
            RegistrationError::UnknownAuthMethod
            | RegistrationError::PublicClientGrant
            | RegistrationError::PublicChange => "token_endpoint_auth_method",
            RegistrationError::InvalidRedirectUri(_)
            | RegistrationError::TooManyRedirectUris
            | RegistrationError::CodeWithoutRedirectUri
            | RegistrationError::RedirectUriWithoutCode => "redirect_uris",
        };
        Self::invalid_request(error.to_string(), Some(field))
    }
}

impl From<ClientError> for ApiError {
    fn from(error: ClientError) -> Self {
        match error {
            ClientError::Invalid(invalid) => invalid.into(),
            ClientError::Authority(error) => error.into(),
            // RFC 7592's rule: not one of this API's answers.
            ClientError::Widening(_) => Self::invalid_request(error.to_string(), None),
            ClientError::Overlap => Self::invalid_request(error.to_string(), Some("overlap")),
            ClientError::NotFound => Self::NotFound,
            ClientError::Conflict(why) => Self::Conflict(why),
            ClientError::Hash(e) => Self::Internal(e.to_string()),
            ClientError::Random(e) => e.into(),
            ClientError::Store(e) => e.into(),
        }
    }
}

impl From<UserError> for ApiError {
    fn from(error: UserError) -> Self {
        match error {
            UserError::InvalidEmail => Self::invalid_request(error.to_string(), Some("email")),
            UserError::InvalidName => {
                Self::invalid_request(error.to_string(), Some("display_name"))
            }
            UserError::InvalidToken => Self::invalid_request(error.to_string(), Some("token")),
            UserError::EmailTaken => Self::Conflict("a person with this email already exists"),
            UserError::AlreadyMember => {
                Self::Conflict("this person is already a member of the organization")
            }
            UserError::AccountDisabled => Self::Conflict("this person's account is disabled"),
            UserError::LastOwner => Self::Conflict(
                "the organization's last owner can be neither removed nor given another role; make someone else owner first",
            ),
            UserError::RoleBeyond { .. } => Self::ExceedsAuthority(error.to_string()),
            UserError::UnknownOrg | UserError::NotFound => Self::NotFound,
            UserError::Authority(error) => error.into(),
            UserError::Random(error) => error.into(),
            UserError::Store(error) => error.into(),
        }
    }
}

impl From<OrgError> for ApiError {
    fn from(error: OrgError) -> Self {
        match error {
            OrgError::InvalidSlug => Self::invalid_request(error.to_string(), Some("slug")),
            OrgError::InvalidName => Self::invalid_request(error.to_string(), Some("name")),
            OrgError::UnknownTier { .. } => Self::invalid_request(error.to_string(), Some("tier")),
            OrgError::Exists(_) => Self::Conflict("an organization with this slug already exists"),
            OrgError::NotFound(_) => Self::NotFound,
            OrgError::Authority(error) => error.into(),
            OrgError::Store(error) => error.into(),
        }
    }
}

impl From<AuthorityError> for ApiError {
    fn from(error: AuthorityError) -> Self {
        match error {
            AuthorityError::ScopeBeyond(_) => {
                Self::invalid_request(error.to_string(), Some("scopes"))
            }
            AuthorityError::RateLimitAbove(_) => {
                Self::invalid_request(error.to_string(), Some("rate_limit_per_minute"))
            }
            AuthorityError::LacksScope(required) => Self::InsufficientScope { required },
            AuthorityError::Exceeds(why) => Self::ExceedsAuthority(why),
        }
    }
}

/// The system's random number generator failed: nothing to retry, an opaque 500.
impl From<RandomError> for ApiError {
    fn from(error: RandomError) -> Self {
        Self::Internal(error.to_string())
    }
}

/// The default service: unknown routes get the envelope, not an empty 404.
pub async fn not_found() -> Result<HttpResponse, ApiError> {
    Err(ApiError::NotFound)
}

/// JSON bodies of the management API: at most `limit` bytes, `application/json`, and
/// every failure in the envelope rather than actix's plain-text 400.
pub fn json_config(limit: usize) -> actix_web::web::JsonConfig {
    use actix_web::error::JsonPayloadError;
    actix_web::web::JsonConfig::default()
        .limit(limit)
        .error_handler(move |error, _| {
            let api_error = match &error {
                JsonPayloadError::Overflow { .. }
                | JsonPayloadError::OverflowKnownLength { .. } => {
                    ApiError::PayloadTooLarge { limit }
                }
                JsonPayloadError::ContentType => ApiError::UnsupportedMediaType,
                JsonPayloadError::Deserialize(e) => {
                    ApiError::invalid_request(format!("invalid JSON body: {e}"), None)
                }
                _ => ApiError::invalid_request("could not read the JSON body", None),
            };
            api_error.into()
        })
}

/// Query strings of the management API: failures in the envelope.
pub fn query_config() -> actix_web::web::QueryConfig {
    actix_web::web::QueryConfig::default().error_handler(|error, _| {
        ApiError::invalid_request(format!("invalid query string: {error}"), None).into()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_401_names_the_resource_metadata_after_its_other_parameters() {
        let url = Some("https://auth.example.com/.well-known/oauth-protected-resource/v1");
        let missing = ApiError::Unauthenticated(Unauthenticated::MissingCredentials);
        assert_eq!(
            missing.challenge(url).unwrap(),
            "Bearer realm=\"keygate\", resource_metadata=\"https://auth.example.com/.well-known/oauth-protected-resource/v1\""
        );
        assert_eq!(missing.challenge(None).unwrap(), "Bearer realm=\"keygate\"");
        let invalid = ApiError::Unauthenticated(Unauthenticated::InvalidApiKey);
        let challenge = invalid.challenge(url).unwrap();
        assert!(
            challenge.starts_with(
                "Bearer realm=\"keygate\", error=\"invalid_token\", error_description=\""
            ),
            "{challenge}"
        );
        assert!(challenge.ends_with("\", resource_metadata=\"https://auth.example.com/.well-known/oauth-protected-resource/v1\""));
        // Not a 401: no resource_metadata.
        let scope = ApiError::InsufficientScope {
            required: "admin".into(),
        };
        assert!(!scope.challenge(url).unwrap().contains("resource_metadata"));
    }

    #[test]
    fn a_url_is_quoted_and_escaped_for_a_header() {
        assert_eq!(quoted_url("https://a.example/x"), "\"https://a.example/x\"");
        assert_eq!(quoted_url("https://a\"b\\c/"), "\"https://a\\\"b\\\\c/\"");
        assert_eq!(
            quoted_url("https://exämple.com/\r\n\t\u{7f}"),
            "\"https://ex%C3%A4mple.com/%0D%0A%09%7F\""
        );
        let header = actix_web::http::header::HeaderValue::from_str(&quoted_url(
            "https://exämple.com/\"\r\n",
        ));
        assert!(header.is_ok());
    }
}
