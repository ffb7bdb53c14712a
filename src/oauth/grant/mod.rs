//! The token grants (`authorization_code`, `client_credentials`, `refresh_token`),
//! driven by oxide-auth's state machines with keygate's primitives, and the
//! orchestration that keeps argon2 off the database connection and off the executor.
//! oxide-auth's token flows are run here and nowhere else.
//!
//! The primitives serve one token request, one file each: `registrar` answers for the
//! client the request names and authenticates it, `issuer` signs access tokens and
//! keeps refresh-token families, `authorizer` (the issuer's other face) redeems an
//! authorization code, and `endpoint` hands them to oxide-auth with the request
//! keygate has already parsed.
//!
//! What a primitive refuses a request with, oxide-auth often cannot express: the
//! primitive records it in the grant's one `Refusal`, and the grant answers with it.

mod authorizer;
mod endpoint;
mod issuer;
mod refusal;
mod registrar;

use std::sync::Arc;

use actix_web::web;
use chrono::{DateTime, Utc};
use oxide_auth::code_grant::error::AccessTokenErrorType;
use oxide_auth::code_grant::{
    accesstoken as oxide_code, client_credentials as oxide_cc, refresh as oxide_refresh,
};

use super::client_auth::{authentication_failed, verify_with_argon2};
use super::error::OAuthError;
use super::request::TokenRequest;
use super::state::OAuthState;
use crate::audit::Source;
use crate::clients::{self, AuthMethod, Client, GrantType};
use crate::ids::ClientId;
use crate::store::{Blocking, DbConn, Store, StoreError, Tx};
use endpoint::{GrantEndpoint, OxideRequest};
pub use issuer::IssuedAccessToken;
use issuer::JwtIssuer;
use refusal::Refusal;
use registrar::ClientRegistrar;

#[derive(Debug)]
pub enum GrantOutcome {
    Issued(IssuedAccessToken),
    /// The client's secret is not in the verified cache: verify it with an argon2
    /// lease, then run the grant again.
    NeedsArgon2,
}

/// Serves a token request. The first trip to the blocking pool runs the grant with
/// the client row just read; it issues at once if the secret is in the verified cache.
/// Otherwise the secret is verified with argon2 (`verify_with_argon2`: a lease waited
/// for asynchronously, no connection held during argon2), and a last trip reads the
/// row again (it may have changed meanwhile) and runs the grant, which now finds the
/// secret in the cache.
pub async fn issue_token(
    state: web::Data<OAuthState>,
    store: web::Data<Store>,
    request: TokenRequest,
    source: Source,
) -> Result<IssuedAccessToken, OAuthError> {
    let request = Arc::new(request);
    let first = {
        let (state, request, source) = (state.clone(), request.clone(), source.clone());
        store
            .blocking(move |store| run_for_current_client(store, &state, &request, &source))
            .await?
    };
    if let GrantOutcome::Issued(issued) = first {
        return Ok(issued);
    }
    verify_with_argon2(
        state.clone(),
        store.clone(),
        request.clone(),
        |r| &r.credentials,
        source.clone(),
    )
    .await?;
    store
        .blocking(move |store| {
            match run_for_current_client(store, &state, &request, &source)? {
                GrantOutcome::Issued(issued) => Ok(issued),
                // The secret changed between verification and issuing.
                GrantOutcome::NeedsArgon2 => Err(authentication_failed(request.credentials.method)),
            }
        })
        .await
}

/// Reads the client row and runs the grant on one pooled connection. `now` is taken
/// here, after any wait, so queueing never backdates a token. The grant's writes are
/// short and its own (`Tx::write`): a refresh rotation, or a code's redemption (one
/// statement spends it and records what it issued) with its new family — never around
/// the signing.
fn run_for_current_client(
    store: &Blocking<'_>,
    state: &OAuthState,
    request: &TokenRequest,
    source: &Source,
) -> Result<GrantOutcome, OAuthError> {
    store.read(|tx| {
        let client = find_client(tx, request.client_id())?;
        run(
            state,
            client.as_ref(),
            request,
            source,
            state.clock.now(),
            tx,
        )
    })
}

/// The client a request names: `id` is the text it presented.
fn find_client(conn: &mut DbConn, id: &str) -> Result<Option<Client>, OAuthError> {
    let id = ClientId::from(id);
    Ok(clients::repo::find_in_any_org(conn, &id).map_err(StoreError::from)?)
}

/// Runs the request's grant through oxide-auth with keygate's primitives. Never runs
/// argon2 (the registrar consults only the verified cache), so it may hold `tx`.
pub fn run(
    state: &OAuthState,
    client: Option<&Client>,
    request: &TokenRequest,
    source: &Source,
    now: DateTime<Utc>,
    tx: &mut Tx<'_>,
) -> Result<GrantOutcome, OAuthError> {
    let method = request.credentials.method;
    let refusal = Refusal::default();
    let registrar = ClientRegistrar::new(client, state, method, &refusal);
    let issuer = JwtIssuer::new(state, client, now, tx, &refusal, source)
        .for_resource(request.resource.as_deref())
        .with_code_request(
            request.param("code_verifier"),
            request.param("redirect_uri"),
        );
    let mut endpoint = GrantEndpoint::new(&registrar, issuer);
    let oxide_request = OxideRequest(request);
    let result = match request.grant_type {
        GrantType::ClientCredentials => oxide_cc::client_credentials(&mut endpoint, &oxide_request)
            // owner_id: in this grant the client is the resource owner. The refresh
            // token, when there is one, is reported through the issuer.
            .and_then(|pending| pending.issue(&mut endpoint, request.client_id().to_owned(), false))
            .map(|_| ())
            .map_err(FlowError::from_client_credentials),
        GrantType::RefreshToken => oxide_refresh::refresh(&mut endpoint, &oxide_request)
            .map(|_| ())
            .map_err(FlowError::from_refresh),
        GrantType::AuthorizationCode => oxide_code::access_token(&mut endpoint, &oxide_request)
            .map(|_| ())
            .map_err(FlowError::from_code),
    };
    match result {
        Ok(()) => endpoint
            .issuer
            .issued
            .take()
            .map(GrantOutcome::Issued)
            .ok_or_else(|| OAuthError::server_error(&"issuer returned no token")),
        Err(FlowError::Unauthorized) if registrar.needs_argon2.get() => {
            Ok(GrantOutcome::NeedsArgon2)
        }
        // Unauthorized with a refusal: the registered-method check, made once the
        // secret verified.
        Err(flow) => Err(refusal.or_else(|| flow.into_oauth_error(method, request.grant_type))),
    }
}

/// oxide-auth's outcome, reduced to what keygate distinguishes.
enum FlowError {
    Unauthorized,
    Invalid(AccessTokenErrorType),
    Internal,
}

impl FlowError {
    fn from_client_credentials(mut error: oxide_cc::Error) -> Self {
        match &mut error {
            oxide_cc::Error::Unauthorized(..) => Self::Unauthorized,
            oxide_cc::Error::Invalid(_) => error
                .description()
                .map_or(Self::Internal, |d| Self::Invalid(d.kind())),
            oxide_cc::Error::Ignore | oxide_cc::Error::Primitive(_) => Self::Internal,
        }
    }

    fn from_refresh(mut error: oxide_refresh::Error) -> Self {
        match &mut error {
            oxide_refresh::Error::Unauthorized(..) => Self::Unauthorized,
            oxide_refresh::Error::Invalid(_) => error
                .description()
                .map_or(Self::Internal, |d| Self::Invalid(d.kind())),
            oxide_refresh::Error::Primitive => Self::Internal,
        }
    }

    fn from_code(mut error: oxide_code::Error) -> Self {
        match &mut error {
            oxide_code::Error::Unauthorized(..) => Self::Unauthorized,
            oxide_code::Error::Invalid(_) => error
                .description()
                .map_or(Self::Internal, |d| Self::Invalid(d.kind())),
            oxide_code::Error::Primitive(_) => Self::Internal,
        }
    }

    fn into_oauth_error(self, method: AuthMethod, grant: GrantType) -> OAuthError {
        match self {
            Self::Unauthorized => authentication_failed(method),
            // The code's own refusals are recorded by the authorizer; what is left is
            // oxide-auth's binding check: the redirect URI differs from the request's.
            Self::Invalid(AccessTokenErrorType::InvalidGrant)
                if grant == GrantType::AuthorizationCode =>
            {
                OAuthError::invalid_grant(
                    "redirect_uri differs from the one the authorization request named",
                )
            }
            Self::Invalid(AccessTokenErrorType::InvalidGrant) => OAuthError::invalid_grant(
                "the refresh token is invalid, expired, revoked or already used",
            ),
            Self::Invalid(AccessTokenErrorType::InvalidScope) => OAuthError::invalid_scope(
                "the requested scope exceeds the scope of the original grant",
            ),
            Self::Invalid(AccessTokenErrorType::UnsupportedGrantType) => {
                OAuthError::unsupported_grant_type("unsupported grant type")
            }
            Self::Invalid(AccessTokenErrorType::UnauthorizedClient) => {
                OAuthError::unauthorized_client("this client may not use this grant")
            }
            Self::Invalid(AccessTokenErrorType::InvalidClient) => authentication_failed(method),
            Self::Invalid(_) => OAuthError::invalid_request("malformed token request"),
            Self::Internal => OAuthError::server_error(&"token grant failed"),
        }
    }
}
