//! What a signed-in person does to their own account: change their password (the
//! current one checked through the argon2 budget and the failed-attempt throttle, as
//! at sign-in; every other session of theirs ends), see their open sessions, and end
//! any one of them; turn their second factor off with a current code, wrong codes
//! counted by the same throttle as at sign-in (the factor itself is
//! `second_factor`'s).

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::model::{User, UserSession};
use super::password::{self, PasswordError};
use super::repo;
use super::sealing::Sealer;
use super::second_factor::{self, SecondFactorError};
use super::service::{record_in_orgs_of, target};
use super::sign_in::{account_key, failed, failed_on};
use crate::argon2_budget::{Argon2Budget, BudgetError};
use crate::audit::{self, By, Change, Source};
use crate::ids::{SessionId, UserId};
use crate::secret::Secret;
use crate::store::schema::user_sessions;
use crate::store::{DbConn, Store, StoreError};

/// Why a password change was refused.
#[derive(Debug, thiserror::Error)]
pub enum PasswordChangeError {
    #[error("the current password is not right")]
    WrongPassword,
    #[error(transparent)]
    Weak(#[from] PasswordError),
    #[error("too many failed attempts; try again in {retry_after} seconds")]
    Throttled { retry_after: u64 },
    #[error("keygate is busy; try again in a moment")]
    Unavailable,
    #[error("the password could not be hashed")]
    Hash,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<diesel::result::Error> for PasswordChangeError {
    fn from(error: diesel::result::Error) -> Self {
        Self::Store(error.into())
    }
}

/// Turns off `user`'s second factor if `code` is a current TOTP code or an unused
/// recovery code of theirs. Wrong codes count against the failed-attempt throttle of
/// the account, as at sign-in: a session alone cannot guess its way to turning the
/// factor off.
pub async fn turn_off_second_factor(
    store: &Store,
    budget: &Argon2Budget,
    sealer: &std::sync::Arc<Sealer>,
    user: &User,
    code: &Secret,
    source: &Source,
    now: NaiveDateTime,
) -> Result<(), SecondFactorError> {
    let attempt = budget
        .reserve(
            &account_key(&user.email_lower),
            source.0.as_deref(),
            now.and_utc(),
        )
        .map_err(|retry_after| SecondFactorError::Throttled { retry_after })?;
    let (sealer, person, code, by) = (
        sealer.clone(),
        user.clone(),
        Secret::new(code.expose().to_owned()),
        source.clone(),
    );
    let disabled = store
        .write(move |tx| second_factor::disable(tx, &sealer, &person, code.expose(), &by, now))
        .await;
    match disabled {
        Ok(()) => attempt.succeeded(),
        Err(SecondFactorError::WrongCode) => {
            failed_on(store, attempt, Some(user), source, now).await;
        }
        // Not a guess (no factor, the store): the attempt is given back.
        Err(_) => attempt.succeeded(),
    }
    disabled
}

/// Sets `user`'s password to `new` if `current` is their password; every session of
/// theirs but `keep_session` ends. Returns how many ended.
#[allow(clippy::too_many_arguments)]
pub async fn change_password(
    store: &Store,
    budget: &Argon2Budget,
    user: &User,
    keep_session: &SessionId,
    current: &Secret,
    new: &Secret,
    source: &Source,
    now: NaiveDateTime,
) -> Result<usize, PasswordChangeError> {
    password::validate(new.expose(), &user.email)?;
    let attempt = budget
        .reserve(
            &account_key(&user.email_lower),
            source.0.as_deref(),
            now.and_utc(),
        )
        .map_err(|retry_after| PasswordChangeError::Throttled { retry_after })?;
    let lease = budget
        .lease_for_sign_in()
        .await
        .map_err(|error| match error {
            BudgetError::Exhausted | BudgetError::Closed(_) => PasswordChangeError::Unavailable,
        })?;
    let (user, keep, source) = (user.clone(), keep_session.to_owned(), source.clone());
    let (current, new) = (
        Secret::new(current.expose().to_owned()),
        Secret::new(new.expose().to_owned()),
    );
    store
        .blocking(move |store| {
            // The stored hash, read fresh: not the one the session loaded.
            let stored = store.read(|tx| {
                repo::find(tx, &user.id).map_err(|e| PasswordChangeError::Store(e.into()))
            })?;
            let hash = stored.and_then(|u| u.password_hash);
            let verified = hash
                .as_deref()
                .is_some_and(|hash| lease.verify(current.expose().as_bytes(), hash));
            if !verified {
                drop(lease);
                failed(store, attempt, Some(&user), &source, now);
                return Err(PasswordChangeError::WrongPassword);
            }
            attempt.succeeded();
            let new_hash = lease
                .hash(new.expose().as_bytes())
                .map_err(|_| PasswordChangeError::Hash)?;
            drop(lease);
            store.write(|tx| {
                tx.transaction(|c| {
                    repo::set_password(c, &user.id, &new_hash, now)?;
                    // A reset link still open would set another password over this one.
                    repo::spend_tokens_of(c, &user.id, now)?;
                    let ended = end_other_sessions(c, &user.id, &keep, now)?;
                    let label = user.label();
                    let change = Change::UserPasswordChanged {
                        sessions_ended: ended,
                    };
                    let by = By::new(&label, &source);
                    record_in_orgs_of(c, &user, |_| true, by, change, now)?;
                    Ok::<_, StoreError>(ended)
                })
                .map_err(PasswordChangeError::from)
            })
        })
        .await
}

fn end_other_sessions(
    c: &mut DbConn,
    user_id: &UserId,
    keep: &SessionId,
    now: NaiveDateTime,
) -> Result<usize, StoreError> {
    Ok(diesel::update(
        user_sessions::table
            .filter(user_sessions::user_id.eq(user_id))
            .filter(user_sessions::id.ne(keep))
            .filter(user_sessions::ended_at.is_null()),
    )
    .set(user_sessions::ended_at.eq(now))
    .execute(c)?)
}

/// The person's sessions that have not ended and not passed their absolute end, most
/// recently seen first (those waiting for a second factor left out).
pub fn open_sessions(
    conn: &mut DbConn,
    user_id: &UserId,
    now: NaiveDateTime,
) -> Result<Vec<UserSession>, StoreError> {
    Ok(user_sessions::table
        .filter(user_sessions::user_id.eq(user_id))
        .filter(user_sessions::ended_at.is_null())
        .filter(user_sessions::expires_at.gt(now))
        .filter(user_sessions::second_factor_pending.eq(false))
        .order(user_sessions::last_seen_at.desc())
        .limit(100)
        .select(UserSession::as_select())
        .load(conn)?)
}

/// Ends the session `session_id` if it is one of `user`'s own (another person's, or
/// an unknown one, is `false`: nothing to say about it); audited as a sign-out.
pub fn end_own_session(
    conn: &mut DbConn,
    user: &User,
    session_id: &SessionId,
    source: &Source,
    now: NaiveDateTime,
) -> Result<bool, StoreError> {
    conn.transaction(|c| {
        let Some(session) = repo::find_session(c, session_id)?.filter(|s| s.user_id == user.id)
        else {
            return Ok(false);
        };
        if !repo::end_session(c, &session.id, now)? {
            return Ok(false);
        }
        let label = user.label();
        let change = Change::UserSignedOut {
            session_id: session.id.as_str(),
        };
        audit::repo::record(
            c,
            target(&session.org_id, user),
            By::new(&label, source),
            change,
            now,
        )?;
        Ok(true)
    })
}
