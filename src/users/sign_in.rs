//! Signing in with an email and a password, through the one argon2 budget of the
//! process exactly as client authentication goes through it (`oauth::client_auth`):
//! an attempt is reserved with the failed-attempt throttle — keyed by the account
//! (the lowercased email) at the source address, and by the address — before any
//! argon2, so a guessing flood is answered `Throttled` without costing memory; a
//! lease is waited for asynchronously (`Unavailable` past `argon2_max_wait`); the
//! password is verified on the blocking pool with no connection held during argon2;
//! the attempt is settled.
//!
//! An unknown email, a disabled person and one without a password yet are checked
//! against the budget's dummy hash — the same work as a wrong password — and get the
//! same `SignInError::Invalid`: the answer tells nothing about which emails exist.
//!
//! A success starts a new session (sessions rotate at sign-in: the caller's previous
//! session, if it names one, ends) in the person's first organization.

use std::time::Duration;

use chrono::NaiveDateTime;

use super::model::{Membership, User};
use super::repo;
use super::sealing::Sealer;
use super::second_factor::{self, Passed, SecondFactorError};
use super::service::record_in_orgs_of;
use super::session::{self, NewSession};
use crate::argon2_budget::{Argon2Budget, Attempt, BudgetError, BurstStarted};
use crate::audit::{self, By, Change, Source, Target};
use crate::ids::SessionId;
use crate::secret::{digest, RandomError, Secret};
use crate::store::{Blocking, Store, StoreError};

/// A session's absolute lifetime when the caller names none (`sign_in`): the
/// default `session_lifetime`.
pub const DEFAULT_SESSION_LIFETIME: Duration = Duration::from_secs(12 * 3600);

/// A successful sign-in: who, where, and the new session's two secrets for the
/// browser (the cookie's token and the CSRF token), shown nowhere else.
#[derive(Debug)]
pub struct SignedIn {
    pub user: User,
    pub membership: Membership,
    pub session_id: SessionId,
    pub session_token: Secret,
    pub csrf_token: Secret,
    /// The password was right and the person has a second factor: this session
    /// only opens the second-factor form (`complete_second_factor`), for
    /// `PENDING_SECOND_FACTOR` at most.
    pub second_factor_pending: bool,
}

/// How long a session that passed the password waits for the second factor.
pub const PENDING_SECOND_FACTOR: Duration = Duration::from_secs(5 * 60);

/// Why a sign-in did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum SignInError {
    /// Unknown email, wrong password, disabled person or no password yet: one answer.
    #[error("the email or the password is not right")]
    Invalid,
    /// Too many failed attempts for this account from this address, or from this
    /// address: try again in `retry_after` seconds.
    #[error("too many failed sign-ins; try again in {retry_after} seconds")]
    Throttled { retry_after: u64 },
    /// No argon2 lease within `argon2_max_wait`: try again shortly (503).
    #[error("sign-in is busy; try again shortly")]
    Unavailable,
    /// The password is right but the person belongs to no organization.
    #[error("this account is not a member of any organization")]
    NoMembership,
    /// The session waiting for a second factor is unknown, ended or past its five
    /// minutes: sign in again.
    #[error("this sign-in has expired; sign in again")]
    PendingExpired,
    /// The second factor's code is wrong or used already.
    #[error("the code is not right")]
    WrongCode,
    #[error(transparent)]
    SecondFactor(SecondFactorError),
    #[error(transparent)]
    Random(#[from] RandomError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<diesel::result::Error> for SignInError {
    fn from(error: diesel::result::Error) -> Self {
        Self::Store(error.into())
    }
}

/// What `sign_in_with` takes beyond the credentials.
#[derive(Debug, Default)]
pub struct SignInOptions<'a> {
    /// The browser's `User-Agent` (kept to 200 characters).
    pub user_agent: Option<&'a str>,
    /// The token of the session cookie the browser still sends, if any: it ends.
    pub previous_session: Option<&'a str>,
    /// The session's absolute lifetime (`Settings::session_lifetime`); `None`: 12 h.
    pub lifetime: Option<Duration>,
}

/// Signs the person in with `email` and `password`, from `source`, with a session of
/// the default lifetime. See `sign_in_with`.
pub async fn sign_in(
    store: &Store,
    budget: &Argon2Budget,
    email: &str,
    password: &Secret,
    source: &Source,
    now: NaiveDateTime,
) -> Result<SignedIn, SignInError> {
    sign_in_with(
        store,
        budget,
        email,
        password,
        source,
        SignInOptions::default(),
        now,
    )
    .await
}

/// Signs the person in: throttle, lease, verify, settle; on success a new session in
/// their first organization (by membership age), their previous session ended.
#[tracing::instrument(skip_all)]
pub async fn sign_in_with(
    store: &Store,
    budget: &Argon2Budget,
    email: &str,
    password: &Secret,
    source: &Source,
    options: SignInOptions<'_>,
    now: NaiveDateTime,
) -> Result<SignedIn, SignInError> {
    let account = email.trim().to_lowercase();
    let attempt = budget
        .reserve(&account_key(&account), source.0.as_deref(), now.and_utc())
        .map_err(|retry_after| SignInError::Throttled { retry_after })?;
    let lease = match budget.lease_for_sign_in().await {
        Ok(lease) => lease,
        Err(BudgetError::Exhausted | BudgetError::Closed(_)) => {
            return Err(SignInError::Unavailable)
        }
    };
    let password = Secret::new(password.expose().to_owned());
    let previous = options.previous_session.map(digest);
    let user_agent = options.user_agent.map(str::to_owned);
    let lifetime = options.lifetime.unwrap_or(DEFAULT_SESSION_LIFETIME);
    let source = source.clone();
    store
        .blocking(move |store| {
            let user =
                store.read(|tx| repo::find_by_email(tx, &account).map_err(SignInError::from))?;
            let usable = user
                .as_ref()
                .filter(|u| !u.is_disabled())
                .and_then(|u| u.password_hash.as_deref());
            let verified = match usable {
                Some(hash) => lease.verify(password.expose().as_bytes(), hash),
                None => {
                    lease.check_unknown(password.expose().as_bytes());
                    false
                }
            };
            drop(lease);
            let user = match (user, verified) {
                (Some(user), true) => user,
                (user, _) => {
                    failed(store, attempt, user.as_ref(), &source, now);
                    return Err(SignInError::Invalid);
                }
            };
            attempt.succeeded();
            store.write(|tx| {
                let membership = repo::memberships_of(tx, &user.id)?
                    .into_iter()
                    .next()
                    .ok_or(SignInError::NoMembership)?;
                if let Some(previous) = &previous {
                    if let Some(old) = repo::session_by_token_hash(tx, previous)? {
                        repo::end_session(tx, &old.id, now)?;
                    }
                }
                let (step, lifetime) = match user.totp_enabled_at {
                    Some(_) => (
                        Step::AwaitingSecondFactor,
                        lifetime.min(PENDING_SECOND_FACTOR),
                    ),
                    None => (Step::Complete(None), lifetime),
                };
                let opening = Opening {
                    source: &source,
                    user_agent: user_agent.as_deref(),
                    lifetime,
                };
                open_session(tx, &user, membership, &opening, step, now)
            })
        })
        .await
}

/// Completes a sign-in that passed the password with the person's second factor
/// (`code`: a TOTP code or a recovery code) — throttled per account and source like
/// the password, the code spent once — and swaps the waiting session for a full one
/// (a new id and token: the session changes at each step).
#[tracing::instrument(skip_all)]
#[allow(clippy::too_many_arguments)]
pub async fn complete_second_factor(
    store: &Store,
    budget: &Argon2Budget,
    sealer: &std::sync::Arc<Sealer>,
    pending_token: &str,
    code: &Secret,
    source: &Source,
    options: SignInOptions<'_>,
    now: NaiveDateTime,
) -> Result<SignedIn, SignInError> {
    let token = pending_token.to_owned();
    let (pending, user) = store
        .write(move |tx| session::resolve_pending(tx, &token, now))
        .await?
        .ok_or(SignInError::PendingExpired)?;
    let attempt = budget
        .reserve(
            &account_key(&user.email_lower),
            source.0.as_deref(),
            now.and_utc(),
        )
        .map_err(|retry_after| SignInError::Throttled { retry_after })?;
    let (code, sealer, user_id) = (
        Secret::new(code.expose().to_owned()),
        sealer.clone(),
        user.id.clone(),
    );
    let passed = store
        .write(move |tx| second_factor::verify(tx, &sealer, &user_id, code.expose(), now))
        .await;
    let passed: Passed = match passed {
        Ok(passed) => passed,
        Err(SecondFactorError::WrongCode | SecondFactorError::NotEnabled) => {
            failed_on(store, attempt, Some(&user), source, now).await;
            return Err(SignInError::WrongCode);
        }
        Err(other) => return Err(SignInError::SecondFactor(other)),
    };
    attempt.succeeded();
    let user_agent = options.user_agent.map(str::to_owned);
    let lifetime = options.lifetime.unwrap_or(DEFAULT_SESSION_LIFETIME);
    let source = source.clone();
    store
        .write(move |tx| {
            if !repo::end_session(tx, &pending.id, now)? {
                // Completed at the same moment elsewhere: that one won.
                return Err(SignInError::PendingExpired);
            }
            let membership = repo::membership(tx, &user.id, &pending.org_id)?
                .ok_or(SignInError::NoMembership)?;
            let opening = Opening {
                source: &source,
                user_agent: user_agent.as_deref(),
                lifetime,
            };
            open_session(
                tx,
                &user,
                membership,
                &opening,
                Step::Complete(Some(passed)),
                now,
            )
        })
        .await
}

/// How a session is opened: from where, by what browser, for how long.
struct Opening<'a> {
    source: &'a Source,
    user_agent: Option<&'a str>,
    lifetime: Duration,
}

/// Which step of a sign-in a new session is.
enum Step {
    /// The password was right; the second factor is still to come.
    AwaitingSecondFactor,
    /// Signed in (with the second factor it passed, if any): recorded.
    Complete(Option<Passed>),
}

/// Opens a session for `user` in `membership`'s organization, inside the caller's
/// write, and records a completed sign-in; the new session's secrets go to the browser.
fn open_session(
    tx: &mut crate::store::DbConn,
    user: &User,
    membership: Membership,
    opening: &Opening<'_>,
    step: Step,
    now: NaiveDateTime,
) -> Result<SignedIn, SignInError> {
    let pending = matches!(step, Step::AwaitingSecondFactor);
    let NewSession { row, token, csrf } = session::new_session(
        &user.id,
        &membership.org_id,
        opening.source,
        opening.user_agent,
        opening.lifetime,
        pending,
        now,
    )?;
    repo::create_session(tx, &row)?;
    if let Step::Complete(passed) = step {
        record_sign_in(tx, user, &membership, &row.id, passed, opening.source, now)?;
    }
    Ok(SignedIn {
        user: user.clone(),
        membership,
        session_id: row.id,
        session_token: token,
        csrf_token: csrf,
        second_factor_pending: pending,
    })
}

fn record_sign_in(
    tx: &mut crate::store::DbConn,
    user: &User,
    membership: &Membership,
    session_id: &SessionId,
    second_factor: Option<Passed>,
    source: &Source,
    now: NaiveDateTime,
) -> Result<(), StoreError> {
    let target = Target {
        org_id: &membership.org_id,
        id: user.id.as_str(),
    };
    let label = user.label();
    let change = Change::UserSignedIn {
        session_id: session_id.as_str(),
        second_factor: second_factor.map(Passed::as_str),
    };
    audit::repo::record(tx, target, By::new(&label, source), change, now)?;
    Ok(())
}

/// The throttle's subject for an account (sign-in, a second factor, a password
/// change): apart from client ids by its prefix.
pub fn account_key(email_lower: &str) -> String {
    format!("user:{email_lower}")
}

/// Counts a failed sign-in (on the blocking pool, beside argon2); a burst it
/// completes is logged, and audited in the person's organizations if the email is
/// someone's.
pub(super) fn failed(
    store: &Blocking<'_>,
    attempt: Attempt,
    user: Option<&User>,
    source: &Source,
    now: NaiveDateTime,
) {
    for burst in attempt.failed(now.and_utc()) {
        log_burst(&burst);
        if let Some(user) = user {
            let recorded = store.write(|tx| record_burst(tx, user, source, &burst, now));
            if let Err(error) = recorded {
                tracing::warn!(%error, "could not record the failed sign-in burst");
            }
        }
    }
}

/// `failed`, from async code: a wrong second-factor code at sign-in or when turning
/// the factor off — every kind of failed attempt of a person settles here.
pub(super) async fn failed_on(
    store: &Store,
    attempt: Attempt,
    user: Option<&User>,
    source: &Source,
    now: NaiveDateTime,
) {
    for burst in attempt.failed(now.and_utc()) {
        log_burst(&burst);
        if let Some(user) = user {
            let (user, source) = (user.clone(), source.clone());
            let recorded = store
                .write(move |tx| record_burst(tx, &user, &source, &burst, now))
                .await;
            if let Err(error) = recorded {
                tracing::warn!(%error, "could not record the failed sign-in burst");
            }
        }
    }
}

fn log_burst(burst: &BurstStarted) {
    // Debug-formatted: the key holds a caller-chosen email, which could carry a line
    // break into a text log.
    tracing::warn!(throttled = ?burst.key, retry_after = burst.retry_after_secs,
        "repeated failed sign-ins: throttled");
}

fn record_burst(
    tx: &mut crate::store::DbConn,
    user: &User,
    source: &Source,
    burst: &BurstStarted,
    now: NaiveDateTime,
) -> Result<(), StoreError> {
    let change = Change::UserSignInFailures {
        throttled: &burst.key,
        retry_after: burst.retry_after_secs,
    };
    let by = By::new("unauthenticated", source);
    record_in_orgs_of(tx, user, |_| true, by, change, now)
}
