//! Client authentication for the endpoints that need only that (`/oauth/revoke`,
//! `/oauth/introspect`), with the same guarantees as the token endpoint: the verified
//! cache first, then the argon2 budget (`crate::argon2_budget`: an attempt reserved
//! with the throttle, a lease waited for asynchronously), argon2 never run while a
//! database connection is held, and the same work for unknown, disabled and
//! wrong-secret clients.

use std::sync::Arc;

use actix_web::web;

use super::error::OAuthError;
use super::request::ClientCredentials;
use super::state::OAuthState;
use crate::argon2_budget::{Argon2Lease, Attempt, BudgetError, BurstStarted};
use crate::audit::{By, Change, Source};
use crate::clients::{self, AuthMethod, Client, Verdict};
use crate::ids::ClientId;
use crate::store::{Blocking, Store, StoreError};

/// The one answer for an unknown client, a wrong, expired or previous secret and a
/// disabled client, for credentials sent as `method`.
pub fn authentication_failed(method: AuthMethod) -> OAuthError {
    OAuthError::invalid_client_by(method, "client authentication failed")
}

/// Waits for an argon2 lease for at most `argon2_max_wait`; past that, 503.
pub async fn acquire_lease(state: &OAuthState) -> Result<Argon2Lease, OAuthError> {
    match state.client_auth.budget.lease().await {
        Ok(lease) => Ok(lease),
        Err(BudgetError::Exhausted) => {
            tracing::debug!("no argon2 lease within argon2_max_wait");
            Err(OAuthError::temporarily_unavailable())
        }
        Err(e @ BudgetError::Closed(_)) => Err(OAuthError::server_error(&e)),
    }
}

/// The authenticated client, or `invalid_client`.
pub async fn authenticate(
    state: web::Data<OAuthState>,
    store: web::Data<Store>,
    credentials: ClientCredentials,
    source: Source,
) -> Result<Client, OAuthError> {
    if credentials.method == AuthMethod::None {
        // Introspection and revocation are for clients that authenticate.
        return Err(OAuthError::invalid_client_by(
            AuthMethod::None,
            "client authentication required: client_secret_basic or client_secret_post",
        ));
    }
    let credentials = Arc::new(credentials);
    let (client, verdict) = {
        let (state, credentials) = (state.clone(), credentials.clone());
        store
            .blocking(move |store| {
                let client = find(store, &credentials.client_id)?;
                let verdict = state.client_auth.verifier.verify(
                    client.as_ref(),
                    secret(&credentials),
                    None,
                    now(&state),
                );
                Ok::<_, OAuthError>((client, verdict))
            })
            .await?
    };
    let method = credentials.method;
    let client = match (client, verdict) {
        (Some(client), Verdict::Verified) => client,
        (_, Verdict::Rejected) => return Err(authentication_failed(method)),
        _ => verify_with_argon2(state, store, credentials, |c| c, source).await?,
    };
    held_to_registered_method(&client, method)?;
    Ok(client)
}

/// A client registered with a `token_endpoint_auth_method` is held to it. Checked
/// only once its secret has verified, so that the refusal — which names the method —
/// tells nothing to someone who does not hold the secret.
pub fn held_to_registered_method(client: &Client, used: AuthMethod) -> Result<(), OAuthError> {
    if client.accepts_auth_method(used) {
        return Ok(());
    }
    let description = match client.auth_method() {
        Some(Ok(AuthMethod::ClientSecretBasic)) => {
            "this client is registered for client_secret_basic: send its credentials in the Authorization header (Basic)"
        }
        Some(Ok(AuthMethod::ClientSecretPost)) => {
            "this client is registered for client_secret_post: send client_id and client_secret in the request body"
        }
        Some(Ok(AuthMethod::None)) => {
            "this is a public client: send its client_id alone, without a secret"
        }
        None | Some(Err(_)) => "this client's registered authentication method is not available",
    };
    tracing::debug!(client_id = %client.id, used = used.as_str(), "client used another authentication method than registered");
    Err(OAuthError::invalid_client_by(used, description))
}

/// The slow path: waits for an argon2 lease (at most `argon2_max_wait`), then reads
/// the client and verifies the secret on the blocking pool, holding no connection
/// during argon2. A success lands in the verified cache. `credentials` picks the
/// credentials out of `request`.
///
/// Brute force stops here: the attempt is reserved with the budget's throttle
/// before it waits for argon2 — a client id or source address whose allowance is used
/// up by recent failures *or by attempts still in flight* is answered 429 before any
/// argon2, so N parallel guesses reach argon2 at most the allowance. A secret in the
/// verified cache never gets this far, so a working client is not locked out by
/// someone guessing its secret.
pub async fn verify_with_argon2<R: Send + Sync + 'static>(
    state: web::Data<OAuthState>,
    store: web::Data<Store>,
    request: Arc<R>,
    credentials: fn(&R) -> &ClientCredentials,
    source: Source,
) -> Result<Client, OAuthError> {
    let attempt = reserve_attempt(&state, &credentials(&request).client_id, &source)?;
    let lease = acquire_lease(&state).await?;
    store
        .blocking(move |store| {
            let credentials = credentials(&request);
            let failed = || authentication_failed(credentials.method);
            let client = find(store, &credentials.client_id)?;
            match state.client_auth.verifier.verify(
                client.as_ref(),
                secret(credentials),
                Some(&lease),
                now(&state),
            ) {
                Verdict::Verified => {
                    attempt.succeeded();
                    client.ok_or_else(failed)
                }
                Verdict::Rejected | Verdict::NeedsArgon2 => {
                    record_failure(store, &state, attempt, client.as_ref(), &source);
                    Err(failed())
                }
            }
        })
        .await
}

/// Reserves one client-secret check for this client id and source, or 429.
pub fn reserve_attempt(
    state: &OAuthState,
    client_id: &str,
    source: &Source,
) -> Result<Attempt, OAuthError> {
    state
        .client_auth
        .budget
        .reserve(client_id, source.0.as_deref(), state.clock.now())
        .map_err(OAuthError::too_many_failures)
}

/// Counts a failed check; a burst it completes is logged and audited once.
pub fn record_failure(
    store: &Blocking<'_>,
    state: &OAuthState,
    attempt: Attempt,
    client: Option<&Client>,
    source: &Source,
) {
    for burst in attempt.failed(state.clock.now()) {
        record_burst(store, state, client, source, &burst);
    }
}

/// A burst of failures just got a client id or address throttled: say so once, in the
/// log and — for a known client — in its organization's audit log.
fn record_burst(
    store: &Blocking<'_>,
    state: &OAuthState,
    client: Option<&Client>,
    source: &Source,
    burst: &BurstStarted,
) {
    // Debug-formatted: the key holds a caller-chosen client id, which could carry a
    // line break into a text log.
    tracing::warn!(throttled = ?burst.key, retry_after = burst.retry_after_secs,
        "repeated failed client authentications: throttled");
    let Some(client) = client else { return };
    let now = now(state);
    let change = Change::AuthenticationFailures {
        throttled: &burst.key,
        retry_after: burst.retry_after_secs,
    };
    let by = By::new("unauthenticated", source);
    let recorded = store.write(|tx| {
        crate::audit::repo::record(tx, client, by, change, now).map_err(StoreError::from)
    });
    if let Err(error) = recorded {
        tracing::warn!(%error, "could not record the failed-authentication burst");
    }
}

fn now(state: &OAuthState) -> chrono::NaiveDateTime {
    state.clock.now().naive_utc()
}

fn secret(credentials: &ClientCredentials) -> &[u8] {
    credentials.secret.expose().as_bytes()
}

/// The client a request names: `id` is the text it presented.
fn find(store: &Blocking<'_>, id: &str) -> Result<Option<Client>, OAuthError> {
    let id = ClientId::from(id);
    Ok(store.read(|tx| clients::repo::find_in_any_org(tx, &id).map_err(StoreError::from))?)
}
