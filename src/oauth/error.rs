//! RFC 6749 §5.2 error responses. Built only through the constructors below, so every
//! error code keygate can send is listed here with its status; every domain error
//! reaches this shape through one `From` impl at the end of this file.

use std::borrow::Cow;
use std::fmt;

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

use crate::clients::model::{AuthMethod, RegistrationError};
use crate::clients::service::ClientError;
use crate::identity::authority::AuthorityError;
use crate::identity::error::{ResolveError, Unauthenticated};
use crate::limits::Limited;
use crate::secret::RandomError;
use crate::store::StoreError;

/// The realm of the Basic challenge on `invalid_client`.
const BASIC_CHALLENGE: &str = "Basic realm=\"keygate\", charset=\"UTF-8\"";
/// The realm of the Bearer challenges (RFC 6750) on `/oauth/register`.
const BEARER_REALM: &str = "Bearer realm=\"keygate\"";

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    InvalidRequest,
    InvalidClient,
    InvalidGrant,
    UnauthorizedClient,
    UnsupportedGrantType,
    InvalidScope,
    /// RFC 8707 §2: the requested resource is invalid, unknown or not the client's.
    InvalidTarget,
    ServerError,
    TemporarilyUnavailable,
    /// RFC 6750 §3.1, for `/oauth/register`'s bearer credentials.
    InvalidToken,
    InsufficientScope,
    /// RFC 7591 §3.2.2.
    InvalidClientMetadata,
    InvalidRedirectUri,
    /// Too many failed authentications for this client id or from this address (not
    /// an RFC 6749 code: 429 has none).
    RateLimitExceeded,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::InvalidClient => "invalid_client",
            Self::InvalidGrant => "invalid_grant",
            Self::UnauthorizedClient => "unauthorized_client",
            Self::UnsupportedGrantType => "unsupported_grant_type",
            Self::InvalidScope => "invalid_scope",
            Self::InvalidTarget => "invalid_target",
            Self::ServerError => "server_error",
            Self::TemporarilyUnavailable => "temporarily_unavailable",
            Self::InvalidToken => "invalid_token",
            Self::InsufficientScope => "insufficient_scope",
            Self::InvalidClientMetadata => "invalid_client_metadata",
            Self::InvalidRedirectUri => "invalid_redirect_uri",
            Self::RateLimitExceeded => "rate_limit_exceeded",
        }
    }
}

#[derive(Debug)]
pub struct OAuthError {
    code: ErrorCode,
    status: StatusCode,
    description: Cow<'static, str>,
    /// `WWW-Authenticate`, for the 401s and 403s that carry one.
    challenge: Option<Cow<'static, str>>,
    /// `Allow`, on 405.
    allow: Option<Cow<'static, str>>,
    /// `Retry-After`, in seconds.
    retry_after: Option<u64>,
}

/// RFC 6749 §5.2's error body: `{"error": "…", "error_description": "…"}`.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Body<'a> {
    error: ErrorCode,
    #[schema(value_type = String)]
    error_description: &'a str,
}

impl OAuthError {
    fn new(code: ErrorCode, status: StatusCode, description: impl Into<Cow<'static, str>>) -> Self {
        Self {
            code,
            status,
            description: description.into(),
            challenge: None,
            allow: None,
            retry_after: None,
        }
    }

    fn with_challenge(mut self, challenge: impl Into<Cow<'static, str>>) -> Self {
        self.challenge = Some(challenge.into());
        self
    }

    /// 401 for a missing bearer credential: the challenge names no error (RFC 6750 §3.1).
    pub fn missing_token(description: impl Into<Cow<'static, str>>) -> Self {
        Self::new(
            ErrorCode::InvalidToken,
            StatusCode::UNAUTHORIZED,
            description,
        )
        .with_challenge(BEARER_REALM)
    }

    /// 401 for a bearer credential that did not resolve.
    pub fn invalid_token(description: impl Into<Cow<'static, str>>) -> Self {
        Self::new(
            ErrorCode::InvalidToken,
            StatusCode::UNAUTHORIZED,
            description,
        )
        .with_challenge(format!("{BEARER_REALM}, error=\"invalid_token\""))
    }

    /// 403: the bearer credential lacks `scope`.
    pub fn insufficient_scope(scope: &'static str) -> Self {
        Self::new(
            ErrorCode::InsufficientScope,
            StatusCode::FORBIDDEN,
            format!("this request needs the '{scope}' scope"),
        )
        .with_challenge(format!(
            "{BEARER_REALM}, error=\"insufficient_scope\", scope=\"{scope}\""
        ))
    }

    /// 429: the credential's rate limit (see `limits`).
    pub fn rate_limited(retry_after_secs: u64) -> Self {
        let mut error = Self::new(
            ErrorCode::RateLimitExceeded,
            StatusCode::TOO_MANY_REQUESTS,
            format!("rate limit exceeded; retry in {retry_after_secs} s"),
        );
        error.retry_after = Some(retry_after_secs);
        error
    }

    /// 429 after repeated failed authentications.
    pub fn too_many_failures(retry_after_secs: u64) -> Self {
        let mut error = Self::new(
            ErrorCode::RateLimitExceeded,
            StatusCode::TOO_MANY_REQUESTS,
            format!(
                "too many failed authentications for this client or from this address; retry in {retry_after_secs} s"
            ),
        );
        error.retry_after = Some(retry_after_secs);
        error
    }

    pub fn invalid_client_metadata(description: impl Into<Cow<'static, str>>) -> Self {
        Self::new(
            ErrorCode::InvalidClientMetadata,
            StatusCode::BAD_REQUEST,
            description,
        )
    }

    pub fn invalid_redirect_uri(description: impl Into<Cow<'static, str>>) -> Self {
        Self::new(
            ErrorCode::InvalidRedirectUri,
            StatusCode::BAD_REQUEST,
            description,
        )
    }

    /// 405 with `Allow: allow` (the methods the path serves).
    pub fn method_not_allowed(allow: impl Into<Cow<'static, str>>) -> Self {
        let allow = allow.into();
        let mut error = Self::new(
            ErrorCode::InvalidRequest,
            StatusCode::METHOD_NOT_ALLOWED,
            format!("this endpoint accepts {allow} only"),
        );
        error.allow = Some(allow);
        error
    }

    pub fn invalid_request(description: impl Into<Cow<'static, str>>) -> Self {
        Self::new(
            ErrorCode::InvalidRequest,
            StatusCode::BAD_REQUEST,
            description,
        )
    }

    /// 401 with a Basic challenge: for credentials sent in the `Authorization` header
    /// (RFC 6749 §5.2 MUST), and for a request that sent none (§5.2 MAY: the challenge
    /// says which scheme to use).
    pub fn invalid_client(description: impl Into<Cow<'static, str>>) -> Self {
        Self::new(
            ErrorCode::InvalidClient,
            StatusCode::UNAUTHORIZED,
            description,
        )
        .with_challenge(BASIC_CHALLENGE)
    }

    /// `invalid_client` for credentials the client sent as `method`.
    ///
    /// RFC 6749 §5.2: a client that authenticated through the `Authorization` header
    /// MUST get 401 with a challenge for the scheme it used — Basic. For any other
    /// failure 401 is only a MAY, and RFC 9110 §15.5.2 says a 401 MUST carry
    /// `WWW-Authenticate`; a Basic challenge would tell a `client_secret_post` client
    /// to switch to a method it may not be registered for. So a `client_secret_post`
    /// failure gets §5.2's default status, 400, and no challenge.
    pub fn invalid_client_by(
        method: AuthMethod,
        description: impl Into<Cow<'static, str>>,
    ) -> Self {
        match method {
            // A client that sent no secret is told, with the challenge, to send one.
            AuthMethod::ClientSecretBasic | AuthMethod::None => Self::invalid_client(description),
            AuthMethod::ClientSecretPost => Self::new(
                ErrorCode::InvalidClient,
                StatusCode::BAD_REQUEST,
                description,
            ),
        }
    }

    pub fn invalid_grant(description: impl Into<Cow<'static, str>>) -> Self {
        Self::new(
            ErrorCode::InvalidGrant,
            StatusCode::BAD_REQUEST,
            description,
        )
    }

    pub fn unauthorized_client(description: impl Into<Cow<'static, str>>) -> Self {
        Self::new(
            ErrorCode::UnauthorizedClient,
            StatusCode::BAD_REQUEST,
            description,
        )
    }

    pub fn unsupported_grant_type(description: impl Into<Cow<'static, str>>) -> Self {
        Self::new(
            ErrorCode::UnsupportedGrantType,
            StatusCode::BAD_REQUEST,
            description,
        )
    }

    pub fn invalid_scope(description: impl Into<Cow<'static, str>>) -> Self {
        Self::new(
            ErrorCode::InvalidScope,
            StatusCode::BAD_REQUEST,
            description,
        )
    }

    /// RFC 8707 §2: 400 `invalid_target`.
    pub fn invalid_target(description: impl Into<Cow<'static, str>>) -> Self {
        Self::new(
            ErrorCode::InvalidTarget,
            StatusCode::BAD_REQUEST,
            description,
        )
    }

    /// A body over the limit: `invalid_request`, with 413 so proxies and clients see why.
    pub fn body_too_large(limit: usize) -> Self {
        Self::new(
            ErrorCode::InvalidRequest,
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("request body larger than {limit} bytes"),
        )
    }

    /// An internal failure: `detail` goes to the log, never to the client.
    pub fn server_error(detail: &dyn fmt::Display) -> Self {
        tracing::error!(error = %detail, "token endpoint failed");
        Self::new(
            ErrorCode::ServerError,
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal error",
        )
    }

    pub fn temporarily_unavailable() -> Self {
        Self::new(
            ErrorCode::TemporarilyUnavailable,
            StatusCode::SERVICE_UNAVAILABLE,
            "the server cannot handle the request right now; retry shortly",
        )
    }

    pub fn code(&self) -> ErrorCode {
        self.code
    }
}

impl fmt::Display for OAuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}: {}", self.code, self.description)
    }
}

impl ResponseError for OAuthError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = super::response::uncached(HttpResponse::build(self.status));
        if let Some(challenge) = &self.challenge {
            response.insert_header((header::WWW_AUTHENTICATE, challenge.as_ref()));
        }
        if self.code == ErrorCode::TemporarilyUnavailable {
            response.insert_header((header::RETRY_AFTER, "1"));
        }
        if let Some(secs) = self.retry_after {
            response.insert_header((header::RETRY_AFTER, secs.to_string()));
        }
        if let Some(allow) = &self.allow {
            response.insert_header((header::ALLOW, allow.as_ref()));
        }
        response.json(Body {
            error: self.code,
            error_description: &self.description,
        })
    }
}

impl From<StoreError> for OAuthError {
    fn from(error: StoreError) -> Self {
        let error_text = error.to_string();
        match error {
            StoreError::Unavailable(e) => {
                tracing::warn!(error = %e, "database unavailable");
                Self::temporarily_unavailable()
            }
            StoreError::ConnectionLost(why) => {
                tracing::warn!(error = %why, "database connection lost");
                Self::temporarily_unavailable()
            }
            StoreError::Unwritable(why) => {
                tracing::error!(error = %why, "the database cannot take writes");
                Self::temporarily_unavailable()
            }
            StoreError::Query(e) => Self::server_error(&e),
            StoreError::Cancelled => Self::server_error(&error_text),
        }
    }
}

/// An RFC 7591 client metadata document that does not validate.
impl From<RegistrationError> for OAuthError {
    fn from(error: RegistrationError) -> Self {
        match error {
            // RFC 7591 §3.2.2 has its own code for these.
            RegistrationError::InvalidRedirectUri(_)
            | RegistrationError::TooManyRedirectUris
            | RegistrationError::CodeWithoutRedirectUri
            | RegistrationError::RedirectUriWithoutCode => {
                Self::invalid_redirect_uri(error.to_string())
            }
            _ => Self::invalid_client_metadata(error.to_string()),
        }
    }
}

/// A client use case behind RFC 7591/7592.
impl From<ClientError> for OAuthError {
    fn from(error: ClientError) -> Self {
        match error {
            ClientError::Invalid(invalid) => invalid.into(),
            ClientError::Authority(error) => error.into(),
            ClientError::Widening(_) => Self::invalid_client_metadata(error.to_string()),
            ClientError::Overlap => Self::invalid_request(error.to_string()),
            // The registration access token's client is gone: as any token that does
            // not resolve (RFC 7592 §3).
            ClientError::NotFound => {
                Self::invalid_token("the registration access token is not valid")
            }
            ClientError::Conflict(why) => Self::invalid_request(why),
            ClientError::Hash(e) => Self::server_error(&e),
            ClientError::Random(e) => e.into(),
            ClientError::Store(e) => e.into(),
        }
    }
}

/// RFC 7591 registration by an initial access token: what it may not register is
/// metadata the server refuses.
impl From<AuthorityError> for OAuthError {
    fn from(error: AuthorityError) -> Self {
        match error {
            AuthorityError::ScopeBeyond(scope) => Self::invalid_client_metadata(format!(
                "scope '{scope}' is beyond the initial access token's own scopes"
            )),
            other => Self::invalid_client_metadata(other.to_string()),
        }
    }
}

/// The system's random number generator failed: a server_error.
impl From<RandomError> for OAuthError {
    fn from(error: RandomError) -> Self {
        Self::server_error(&error)
    }
}

/// A bearer credential (`/oauth/register`'s initial access token, RFC 7592's
/// registration access token) that did not resolve: RFC 6750 §3.1.
impl From<ResolveError> for OAuthError {
    fn from(error: ResolveError) -> Self {
        match error {
            ResolveError::Unauthenticated(Unauthenticated::MissingCredentials) => {
                Self::missing_token("a bearer token is required: Authorization: Bearer <token>")
            }
            ResolveError::Unauthenticated(why) => Self::invalid_token(why.to_string()),
            ResolveError::ConflictingCredentials | ResolveError::DuplicateHeader(_) => {
                Self::invalid_request(error.to_string())
            }
            ResolveError::Store(e) => e.into(),
        }
    }
}

/// The bearer credential's own rate limit.
impl From<Limited> for OAuthError {
    fn from(limited: Limited) -> Self {
        Self::rate_limited(limited.retry_after_secs)
    }
}
