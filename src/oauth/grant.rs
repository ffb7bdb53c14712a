//! The grants, driven by oxide-auth's state machines with keygate's primitives:
//! a `Registrar` answering for the one client the request names (its row read from
//! the database by the caller), argon2id verification through `SecretVerifier`, and an
//! `Issuer` that signs RFC 9068 JWTs.
//!
//! oxide-auth's registrar cannot answer `invalid_scope` or `unauthorized_client`: a
//! refusal there surfaces as a silent "ignore". keygate's registrar therefore records
//! the RFC 6749 error it means, and `client_credentials` reports that error.

use std::borrow::Cow;
use std::cell::{Cell, RefCell};
use std::sync::Arc;

use actix_web::web;
use std::time::Duration;

use chrono::{DateTime, Utc};
use oxide_auth::code_grant::client_credentials::{self as oxide_cc, Endpoint, Extension, Request};
use oxide_auth::endpoint::Scope;
use oxide_auth::primitives::grant::Grant;
use oxide_auth::primitives::issuer::{IssuedToken, Issuer, RefreshedToken, TokenType};
use oxide_auth::primitives::registrar::{
    BoundClient, ClientUrl, PreGrant, RegisteredUrl, Registrar, RegistrarError,
};

use super::error::OAuthError;
use super::request::TokenRequest;
use super::OAuthState;
use crate::clients::{self, Argon2Lease, Client, GrantType, Verdict};
use crate::config::MIN_ACCESS_TOKEN_TTL;
use crate::scope::ScopeSet;
use crate::store::{Store, StoreError};
use crate::tokens::{jwt, AccessTokenClaims};

/// What the token endpoint returns on success. `Debug` leaves out the token.
pub struct IssuedAccessToken {
    pub access_token: String,
    pub expires_in: i64,
    pub scope: String,
}

impl std::fmt::Debug for IssuedAccessToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedAccessToken")
            .field("expires_in", &self.expires_in)
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

/// The client_credentials grant in at most two trips to the blocking pool. The first
/// reads the client row (the connection goes back to the pool before any argon2 work)
/// and issues at once if the secret is in the verified cache. Otherwise the request
/// waits for an argon2 lease on the async side — holding no thread — for at most
/// `argon2_max_wait` (then 503), and the second trip reads the row again (it may have
/// changed while waiting), verifies and issues.
pub async fn issue_client_credentials(
    state: web::Data<OAuthState>,
    store: web::Data<Store>,
    request: TokenRequest,
) -> Result<IssuedAccessToken, OAuthError> {
    let request = Arc::new(request);
    let first = {
        let (state, request) = (state.clone(), request.clone());
        store
            .blocking(move |store| {
                let client = find_client(store, request.client_id())?;
                client_credentials(&state, client.as_ref(), &request, state.clock.now(), None)
            })
            .await?
    };
    if let GrantOutcome::Issued(issued) = first {
        return Ok(issued);
    }
    let lease =
        match actix_web::rt::time::timeout(state.argon2_max_wait, state.verifier.lease()).await {
            Ok(lease) => lease.map_err(|e| OAuthError::server_error(&e))?,
            Err(_) => {
                tracing::debug!("no argon2 lease within argon2_max_wait");
                return Err(OAuthError::temporarily_unavailable());
            }
        };
    let second = store
        .blocking(move |store| {
            let client = find_client(store, request.client_id())?;
            // `now` after the wait, so queueing never backdates the token.
            client_credentials(
                &state,
                client.as_ref(),
                &request,
                state.clock.now(),
                Some(&lease),
            )
        })
        .await?;
    match second {
        GrantOutcome::Issued(issued) => Ok(issued),
        GrantOutcome::NeedsArgon2 => Err(OAuthError::server_error(&"argon2 lease was not used")),
    }
}

fn find_client(store: &Store, id: &str) -> Result<Option<Client>, OAuthError> {
    Ok(store.with_conn(|c| clients::repo::find(c, id).map_err(StoreError::from))?)
}

#[derive(Debug)]
pub enum GrantOutcome {
    Issued(IssuedAccessToken),
    /// The client's secret is not in the verified cache: run the grant again with an
    /// `Argon2Lease`.
    NeedsArgon2,
}

/// RFC 6749 §4.4: the client authenticates and receives an access token for itself.
/// Blocking when given a lease (argon2); call off the executor.
pub fn client_credentials(
    state: &OAuthState,
    client: Option<&Client>,
    request: &TokenRequest,
    now: DateTime<Utc>,
    lease: Option<&Argon2Lease>,
) -> Result<GrantOutcome, OAuthError> {
    let registrar = ClientRegistrar {
        client,
        state,
        lease,
        refusal: RefCell::new(None),
        needs_argon2: Cell::new(false),
    };
    let mut endpoint = GrantEndpoint {
        registrar: &registrar,
        issuer: JwtIssuer {
            state,
            client,
            now,
            issued: None,
        },
        no_extension: (),
    };
    let outcome = oxide_cc::client_credentials(&mut endpoint, &OxideRequest(request))
        // owner_id: in this grant the client is the resource owner.
        .and_then(|pending| pending.issue(&mut endpoint, request.client_id().to_owned(), false));
    match outcome {
        Ok(_) => endpoint
            .issuer
            .issued
            .take()
            .map(GrantOutcome::Issued)
            .ok_or_else(|| OAuthError::server_error(&"issuer returned no token")),
        Err(oxide_cc::Error::Unauthorized(..)) if registrar.needs_argon2.get() => {
            Ok(GrantOutcome::NeedsArgon2)
        }
        Err(oxide_cc::Error::Unauthorized(..)) => {
            Err(OAuthError::invalid_client("client authentication failed"))
        }
        Err(other) => Err(registrar.refusal.take().unwrap_or_else(|| match other {
            oxide_cc::Error::Invalid(_) => OAuthError::invalid_request("malformed token request"),
            _ => OAuthError::server_error(&"client_credentials flow failed"),
        })),
    }
}

struct GrantEndpoint<'a> {
    registrar: &'a ClientRegistrar<'a>,
    issuer: JwtIssuer<'a>,
    /// oxide-auth's no-op extension: keygate adds no grant extensions.
    no_extension: (),
}

impl Endpoint for GrantEndpoint<'_> {
    fn registrar(&self) -> &dyn Registrar {
        self.registrar
    }

    fn issuer(&mut self) -> &mut dyn Issuer {
        &mut self.issuer
    }

    fn extension(&mut self) -> &mut dyn Extension {
        &mut self.no_extension
    }
}

/// Hands oxide-auth the already-parsed request. Credentials arrive through
/// `authorization()` whichever method the client used: `TokenRequest` has already
/// enforced RFC 6749 §2.3 (one method) and decoded them.
struct OxideRequest<'a>(&'a TokenRequest);

impl Request for OxideRequest<'_> {
    fn valid(&self) -> bool {
        true
    }

    fn authorization(&self) -> Option<(Cow<'_, str>, Cow<'_, [u8]>)> {
        let credentials = &self.0.credentials;
        Some((
            Cow::Borrowed(credentials.client_id.as_str()),
            Cow::Borrowed(credentials.secret.expose().as_bytes()),
        ))
    }

    fn scope(&self) -> Option<Cow<'_, str>> {
        self.0
            .scope
            .as_ref()
            .map(|scope| Cow::Owned(scope.to_string()))
    }

    fn grant_type(&self) -> Option<Cow<'_, str>> {
        Some(Cow::Borrowed(self.0.grant_type.as_str()))
    }

    fn extension(&self, _key: &str) -> Option<Cow<'_, str>> {
        None
    }
}

struct ClientRegistrar<'a> {
    client: Option<&'a Client>,
    state: &'a OAuthState,
    lease: Option<&'a Argon2Lease>,
    refusal: RefCell<Option<OAuthError>>,
    /// Set when authentication could not be decided without argon2.
    needs_argon2: Cell<bool>,
}

impl ClientRegistrar<'_> {
    fn client_named(&self, id: &str) -> Result<&Client, RegistrarError> {
        self.client
            .filter(|c| c.id == id && !c.is_disabled())
            .ok_or(RegistrarError::Unspecified)
    }

    fn refuse(&self, error: OAuthError) -> RegistrarError {
        *self.refusal.borrow_mut() = Some(error);
        RegistrarError::Unspecified
    }
}

impl Registrar for ClientRegistrar<'_> {
    fn bound_redirect<'b>(&self, bound: ClientUrl<'b>) -> Result<BoundClient<'b>, RegistrarError> {
        let client = self.client_named(&bound.client_id)?;
        if !client.allows_grant(GrantType::ClientCredentials) {
            return Err(self.refuse(OAuthError::unauthorized_client(
                "this client is not registered for the client_credentials grant",
            )));
        }
        Ok(BoundClient {
            client_id: bound.client_id,
            // client_credentials has no redirect; oxide-auth's types require one, so the
            // issuer URL stands in. It never leaves the process.
            redirect_uri: Cow::Owned(RegisteredUrl::Semantic(self.state.issuer_url.clone())),
        })
    }

    fn negotiate(
        &self,
        bound: BoundClient,
        scope: Option<Scope>,
    ) -> Result<PreGrant, RegistrarError> {
        let client = self.client_named(&bound.client_id)?;
        let requested = scope
            .map(|s| ScopeSet::parse(&s.to_string()))
            .transpose()
            .map_err(|e| self.refuse(OAuthError::invalid_scope(e.to_string())))?
            .filter(|s| !s.is_empty());
        let granted = match requested {
            None => client.default_scopes(),
            Some(requested) if requested.is_subset_of(&client.allowed_scopes()) => requested,
            Some(_) => {
                return Err(self.refuse(OAuthError::invalid_scope(
                    "the requested scope exceeds the scope registered for this client",
                )))
            }
        };
        let scope: Scope = granted
            .to_string()
            .parse()
            .map_err(|_| self.refuse(OAuthError::invalid_scope("malformed scope")))?;
        Ok(PreGrant {
            client_id: bound.client_id.into_owned(),
            redirect_uri: bound.redirect_uri.into_owned(),
            scope,
        })
    }

    fn check(&self, client_id: &str, passphrase: Option<&[u8]>) -> Result<(), RegistrarError> {
        let client = self.client.filter(|c| c.id == client_id);
        let presented = passphrase.unwrap_or_default();
        match self.state.verifier.verify(client, presented, self.lease) {
            Verdict::Verified => Ok(()),
            Verdict::Rejected => Err(RegistrarError::Unspecified),
            Verdict::NeedsArgon2 => {
                self.needs_argon2.set(true);
                Err(RegistrarError::Unspecified)
            }
        }
    }
}

/// Signs RFC 9068 access tokens with the active key.
struct JwtIssuer<'a> {
    state: &'a OAuthState,
    client: Option<&'a Client>,
    now: DateTime<Utc>,
    /// The token as keygate reports it; oxide-auth's own `BearerToken` is opaque and
    /// spells `token_type` in lower case.
    issued: Option<IssuedAccessToken>,
}

impl JwtIssuer<'_> {
    /// The client's registered lifetime, else the server default, clamped to the
    /// configured bounds (which may have been lowered since the client registered;
    /// `signing-key remove` relies on `access_token_ttl_max`). oxide-auth's
    /// `Grant::until` is a fixed ten minutes and is not used.
    fn lifetime(&self, client: &Client) -> Duration {
        client
            .access_token_ttl()
            .unwrap_or(self.state.default_ttl)
            .clamp(MIN_ACCESS_TOKEN_TTL, self.state.max_ttl)
    }
}

impl Issuer for JwtIssuer<'_> {
    fn issue(&mut self, grant: Grant) -> Result<IssuedToken, ()> {
        let client = self.client.filter(|c| c.id == grant.client_id).ok_or(())?;
        let lifetime = self.lifetime(client);
        let expires_in = i64::try_from(lifetime.as_secs()).map_err(|_| ())?;
        let iat = self.now.timestamp();
        let scope = ScopeSet::parse(&grant.scope.to_string())
            .map_err(|_| ())?
            .to_string();
        let jti = uuid::Uuid::new_v4().simple().to_string();
        let claims = AccessTokenClaims {
            iss: &self.state.issuer,
            sub: &grant.owner_id,
            aud: client
                .audience
                .as_deref()
                .unwrap_or(&self.state.default_audience),
            client_id: &client.id,
            scope: &scope,
            iat,
            exp: iat + expires_in,
            jti: &jti,
            org: &client.org_id,
        };
        let token = jwt::encode(self.state.keys.active(), &claims).map_err(|_| ())?;
        self.issued = Some(IssuedAccessToken {
            access_token: token.clone(),
            expires_in,
            scope,
        });
        Ok(IssuedToken {
            token,
            refresh: None,
            until: self.now + chrono::Duration::seconds(expires_in),
            token_type: TokenType::Bearer,
        })
    }

    // The refresh grant and token recovery are not served through oxide-auth's
    // issuer; refusing here keeps any accidental use failing closed.
    fn refresh(&mut self, _refresh: &str, _grant: Grant) -> Result<RefreshedToken, ()> {
        Err(())
    }

    fn recover_token(&self, _token: &str) -> Result<Option<Grant>, ()> {
        Err(())
    }

    fn recover_refresh(&self, _token: &str) -> Result<Option<Grant>, ()> {
        Err(())
    }
}
