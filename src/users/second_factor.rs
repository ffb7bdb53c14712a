//! A person's second factor: TOTP (RFC 6238, `totp`) with one-time recovery codes.
//! Enrolment is two steps — `start_enrolment` makes a secret and keeps it sealed as
//! pending (`sealing`), `confirm_enrolment` turns it on once a first code from the
//! person's app matches, and returns the recovery codes, shown once — so a secret
//! that never reached an app never locks anyone out. `verify` checks a code at sign-in:
//! a TOTP code works once (the step it matched is stored by a conditional update, so
//! of two uses of one code, concurrent or not, one wins), a recovery code too (spent
//! by a conditional update). `disable` turns it off with a current code. Each change is
//! audited in every organization of the person.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::model::User;
use super::repo;
use super::sealing::{SealError, Sealer};
use super::service::record_in_orgs_of;
use super::totp::{self, TotpSecret};
use crate::audit::{By, Change, Source};
use crate::ids::UserId;
use crate::secret::{digest, RandomError, Secret};
use crate::store::schema::{user_recovery_codes, users};
use crate::store::{DbConn, StoreError};

/// How many recovery codes an enrolment makes.
pub const RECOVERY_CODES: usize = 10;

/// Why a second-factor step was refused.
#[derive(Debug, thiserror::Error)]
pub enum SecondFactorError {
    #[error("a second factor is already on; turn it off first to enrol a new one")]
    AlreadyEnabled,
    #[error("no enrolment is under way; start again")]
    NotStarted,
    #[error("no second factor is on")]
    NotEnabled,
    /// A code that is wrong, used already, or outside the clock window: one answer.
    #[error(
        "the code is not right; use the current code from your app, or an unused recovery code"
    )]
    WrongCode,
    /// Too many wrong codes for this account from this address (or from it).
    #[error("too many wrong codes; try again in {retry_after} seconds")]
    Throttled { retry_after: u64 },
    #[error(transparent)]
    Seal(#[from] SealError),
    #[error(transparent)]
    Random(#[from] RandomError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<diesel::result::Error> for SecondFactorError {
    fn from(error: diesel::result::Error) -> Self {
        Self::Store(error.into())
    }
}

/// Which second factor a sign-in passed with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Passed {
    Totp,
    RecoveryCode,
}

impl Passed {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Totp => "totp",
            Self::RecoveryCode => "recovery_code",
        }
    }
}

/// The stored second-factor state of a person: sealed values only.
#[derive(Queryable, Selectable)]
#[diesel(table_name = users)]
struct TotpState {
    totp_secret: Option<String>,
    totp_pending_secret: Option<String>,
    totp_last_step: Option<i64>,
}

fn state(conn: &mut DbConn, user_id: &UserId) -> Result<TotpState, SecondFactorError> {
    Ok(users::table
        .find(user_id)
        .select(TotpState::as_select())
        .get_result(conn)?)
}

/// A new TOTP secret for `user`, kept sealed as pending until `confirm_enrolment`;
/// the caller shows it (its `otpauth://` URI and base32 text) to the person once.
/// Starting again replaces a pending secret.
pub fn start_enrolment(
    conn: &mut DbConn,
    sealer: &Sealer,
    user: &User,
) -> Result<TotpSecret, SecondFactorError> {
    if user.totp_enabled_at.is_some() {
        return Err(SecondFactorError::AlreadyEnabled);
    }
    let secret = TotpSecret::generate().map_err(|_| RandomError)?;
    let sealed = sealer.seal(secret.as_bytes(), user.id.as_str())?;
    diesel::update(users::table.find(&user.id))
        .set(users::totp_pending_secret.eq(sealed))
        .execute(conn)?;
    Ok(secret)
}

/// The pending secret of `user`, to show it again while enrolment is under way.
pub fn pending_secret(
    conn: &mut DbConn,
    sealer: &Sealer,
    user: &User,
) -> Result<Option<TotpSecret>, SecondFactorError> {
    let Some(sealed) = state(conn, &user.id)?.totp_pending_secret else {
        return Ok(None);
    };
    let bytes = sealer.open(&sealed, user.id.as_str())?;
    Ok(Some(TotpSecret::from_bytes(bytes)))
}

/// Turns the pending secret on if `code` is its current code; returns the recovery
/// codes, shown once (only their digests are kept).
pub fn confirm_enrolment(
    conn: &mut DbConn,
    sealer: &Sealer,
    user: &User,
    code: &str,
    source: &Source,
    now: NaiveDateTime,
) -> Result<Vec<Secret>, SecondFactorError> {
    if user.totp_enabled_at.is_some() {
        return Err(SecondFactorError::AlreadyEnabled);
    }
    let codes = (0..RECOVERY_CODES)
        .map(|_| recovery_code())
        .collect::<Result<Vec<_>, _>>()?;
    conn.transaction(|c| {
        let pending = state(c, &user.id)?
            .totp_pending_secret
            .ok_or(SecondFactorError::NotStarted)?;
        let secret = TotpSecret::from_bytes(sealer.open(&pending, user.id.as_str())?);
        let step = totp::verify(&secret, code, now.and_utc().timestamp(), None)
            .ok_or(SecondFactorError::WrongCode)?;
        let turned_on = diesel::update(
            users::table
                .find(&user.id)
                .filter(users::totp_enabled_at.is_null())
                .filter(users::totp_pending_secret.eq(&pending)),
        )
        .set((
            users::totp_secret.eq(&pending),
            users::totp_pending_secret.eq(None::<String>),
            users::totp_enabled_at.eq(now),
            users::totp_last_step.eq(step),
        ))
        .execute(c)?;
        if turned_on != 1 {
            return Err(SecondFactorError::NotStarted);
        }
        store_recovery_codes(c, &user.id, &codes, now)?;
        let label = user.label();
        let by = By::new(&label, source);
        record_in_orgs_of(c, user, |_| true, by, Change::UserSecondFactorEnabled, now)?;
        Ok(codes)
    })
}

/// Checks `code` — a current TOTP code or an unused recovery code — for `user`, and
/// spends it. `WrongCode` for everything that does not pass.
pub fn verify(
    conn: &mut DbConn,
    sealer: &Sealer,
    user_id: &UserId,
    code: &str,
    now: NaiveDateTime,
) -> Result<Passed, SecondFactorError> {
    let typed: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    if typed.len() == totp::DIGITS as usize && typed.bytes().all(|b| b.is_ascii_digit()) {
        let state = state(conn, user_id)?;
        let sealed = state.totp_secret.ok_or(SecondFactorError::NotEnabled)?;
        let secret = TotpSecret::from_bytes(sealer.open(&sealed, user_id.as_str())?);
        let step = totp::verify(
            &secret,
            &typed,
            now.and_utc().timestamp(),
            state.totp_last_step,
        )
        .ok_or(SecondFactorError::WrongCode)?;
        // The step is stored only if it is later than the last one stored: a code used
        // at the same moment elsewhere wins once.
        let spent = diesel::update(
            users::table.find(user_id).filter(
                users::totp_last_step
                    .is_null()
                    .or(users::totp_last_step.lt(step)),
            ),
        )
        .set(users::totp_last_step.eq(step))
        .execute(conn)?;
        return if spent == 1 {
            Ok(Passed::Totp)
        } else {
            Err(SecondFactorError::WrongCode)
        };
    }
    let normalized = normalize_recovery_code(&typed).ok_or(SecondFactorError::WrongCode)?;
    let spent = diesel::update(
        user_recovery_codes::table
            .find(digest(&normalized))
            .filter(user_recovery_codes::user_id.eq(user_id))
            .filter(user_recovery_codes::used_at.is_null()),
    )
    .set(user_recovery_codes::used_at.eq(now))
    .execute(conn)?;
    if spent == 1 {
        Ok(Passed::RecoveryCode)
    } else {
        Err(SecondFactorError::WrongCode)
    }
}

/// How many unused recovery codes `user_id` has.
pub fn recovery_codes_left(conn: &mut DbConn, user_id: &UserId) -> Result<i64, StoreError> {
    Ok(user_recovery_codes::table
        .filter(user_recovery_codes::user_id.eq(user_id))
        .filter(user_recovery_codes::used_at.is_null())
        .count()
        .get_result(conn)?)
}

/// Turns the second factor off after a current code (or a recovery code) passes;
/// the recovery codes go with it.
pub fn disable(
    conn: &mut DbConn,
    sealer: &Sealer,
    user: &User,
    code: &str,
    source: &Source,
    now: NaiveDateTime,
) -> Result<(), SecondFactorError> {
    if user.totp_enabled_at.is_none() {
        return Err(SecondFactorError::NotEnabled);
    }
    conn.transaction(|c| {
        verify(c, sealer, &user.id, code, now)?;
        clear(c, &user.id)?;
        let label = user.label();
        let by = By::new(&label, source);
        record_in_orgs_of(c, user, |_| true, by, Change::UserSecondFactorDisabled, now)?;
        Ok(())
    })
}

/// Turns off the second factor of `user_id` for the operator (a person who lost
/// both their app and their recovery codes): no code asked, audited as the
/// operator's. `false` if they had none.
pub fn reset_by_operator(
    conn: &mut DbConn,
    actor: &crate::identity::authority::Actor,
    user_id: &UserId,
    now: NaiveDateTime,
) -> Result<bool, SecondFactorError> {
    conn.transaction(|c| {
        let Some(user) = repo::find(c, user_id)? else {
            return Err(SecondFactorError::NotEnabled);
        };
        if user.totp_enabled_at.is_none() {
            return Ok(false);
        }
        clear(c, &user.id)?;
        let change = Change::UserSecondFactorDisabled;
        record_in_orgs_of(c, &user, |_| true, actor.by(), change, now)?;
        Ok(true)
    })
}

/// Removes every trace of a second factor of `user_id` (its secrets, its step, its
/// recovery codes): turning it off, by the person or by the operator.
fn clear(c: &mut DbConn, user_id: &UserId) -> Result<(), StoreError> {
    diesel::update(users::table.find(user_id))
        .set((
            users::totp_secret.eq(None::<String>),
            users::totp_pending_secret.eq(None::<String>),
            users::totp_enabled_at.eq(None::<NaiveDateTime>),
            users::totp_last_step.eq(None::<i64>),
        ))
        .execute(c)?;
    diesel::delete(user_recovery_codes::table.filter(user_recovery_codes::user_id.eq(user_id)))
        .execute(c)?;
    Ok(())
}

fn store_recovery_codes(
    c: &mut DbConn,
    user_id: &UserId,
    codes: &[Secret],
    now: NaiveDateTime,
) -> Result<(), StoreError> {
    diesel::delete(user_recovery_codes::table.filter(user_recovery_codes::user_id.eq(user_id)))
        .execute(c)?;
    for code in codes {
        let normalized = normalize_recovery_code(code.expose()).unwrap_or_default();
        diesel::insert_into(user_recovery_codes::table)
            .values((
                user_recovery_codes::code_hash.eq(digest(&normalized)),
                user_recovery_codes::user_id.eq(user_id),
                user_recovery_codes::created_at.eq(now),
            ))
            .execute(c)?;
    }
    Ok(())
}

/// Characters of a recovery code: no 0/O, 1/I/L, so a code read off paper is typed right.
const RECOVERY_ALPHABET: &[u8] = b"23456789ABCDEFGHJKMNPQRSTUVWXYZ";

/// A recovery code, `XXXXX-XXXXX` (10 characters of 31: ~49 bits, spent once and
/// only after the password).
fn recovery_code() -> Result<Secret, RandomError> {
    // Bytes below the largest multiple of the alphabet's size only, so every
    // character is equally likely.
    let limit = 256 - 256 % RECOVERY_ALPHABET.len();
    let mut chars = String::with_capacity(11);
    while chars.len() < 10 {
        let mut bytes = [0u8; 16];
        aws_lc_rs::rand::fill(&mut bytes).map_err(|_| RandomError)?;
        for b in bytes.iter().map(|b| usize::from(*b)).filter(|b| *b < limit) {
            if chars.len() < 10 {
                chars.push(char::from(RECOVERY_ALPHABET[b % RECOVERY_ALPHABET.len()]));
            }
        }
    }
    Ok(Secret::new(format!("{}-{}", &chars[..5], &chars[5..])))
}

/// A recovery code as typed (any case, with or without its dash) in the form its
/// digest is kept: upper case, no dash; `None` if it cannot be one.
fn normalize_recovery_code(typed: &str) -> Option<String> {
    let code: String = typed
        .chars()
        .filter(|c| *c != '-')
        .map(|c| c.to_ascii_uppercase())
        .collect();
    (code.len() == 10 && code.bytes().all(|b| RECOVERY_ALPHABET.contains(&b))).then_some(code)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::users::model::{Membership, NewUser, Role};

    fn enrolled_person() -> (DbConn, Sealer, User, TotpSecret, NaiveDateTime) {
        let mut conn = crate::store::test_support::memory_conn();
        let now = chrono::Utc::now().naive_utc();
        let (org, _) = crate::orgs::repo::ensure_default(&mut conn, now).unwrap();
        let user = repo::create(&mut conn, &NewUser::new("a@b.c", None, now)).unwrap();
        repo::add_membership(
            &mut conn,
            &Membership::new(&user.id, &org.id, Role::Owner, now),
        )
        .unwrap();
        let sealer = Sealer::from_key(&[1; 32]);
        let secret = start_enrolment(&mut conn, &sealer, &user).unwrap();
        (conn, sealer, user, secret, now)
    }

    fn code(secret: &TotpSecret, at: NaiveDateTime) -> String {
        totp::code_text(secret, totp::step_of(at.and_utc().timestamp()))
    }

    #[test]
    fn enrolment_needs_a_right_code_and_a_code_works_once() {
        let (mut conn, sealer, user, secret, now) = enrolled_person();
        let source = Source(None);
        let pending = pending_secret(&mut conn, &sealer, &user).unwrap().unwrap();
        assert_eq!(pending, secret);
        let wrong = confirm_enrolment(&mut conn, &sealer, &user, "000000x", &source, now);
        assert!(matches!(wrong, Err(SecondFactorError::WrongCode)));
        let codes = confirm_enrolment(&mut conn, &sealer, &user, &code(&secret, now), &source, now)
            .unwrap();
        assert_eq!(codes.len(), RECOVERY_CODES);
        assert_eq!(recovery_codes_left(&mut conn, &user.id).unwrap(), 10);

        // The enrolment's own code was its step: it does not sign in again.
        let replay = verify(&mut conn, &sealer, &user.id, &code(&secret, now), now);
        assert!(matches!(replay, Err(SecondFactorError::WrongCode)));
        let later = now + chrono::Duration::seconds(60);
        assert_eq!(
            verify(&mut conn, &sealer, &user.id, &code(&secret, later), later).unwrap(),
            Passed::Totp
        );
        assert!(verify(&mut conn, &sealer, &user.id, &code(&secret, later), later).is_err());

        // A recovery code works once, typed in any case, with or without its dash.
        let typed = codes[0].expose().to_lowercase().replace('-', "");
        assert_eq!(
            verify(&mut conn, &sealer, &user.id, &typed, now).unwrap(),
            Passed::RecoveryCode
        );
        assert!(verify(&mut conn, &sealer, &user.id, codes[0].expose(), now).is_err());
        assert_eq!(recovery_codes_left(&mut conn, &user.id).unwrap(), 9);
        for junk in ["", "12345", "1234567", "ZZZZZ-ZZZZ0", "<script>"] {
            assert!(
                verify(&mut conn, &sealer, &user.id, junk, now).is_err(),
                "{junk}"
            );
        }

        let user = repo::find(&mut conn, &user.id).unwrap().unwrap();
        assert!(user.totp_enabled_at.is_some());
        let much_later = now + chrono::Duration::seconds(120);
        disable(
            &mut conn,
            &sealer,
            &user,
            &code(&secret, much_later),
            &source,
            much_later,
        )
        .unwrap();
        assert_eq!(recovery_codes_left(&mut conn, &user.id).unwrap(), 0);
        let user = repo::find(&mut conn, &user.id).unwrap().unwrap();
        assert!(user.totp_enabled_at.is_none());
    }

    #[test]
    fn the_operator_resets_a_locked_out_person() {
        let (mut conn, sealer, user, secret, now) = enrolled_person();
        let source = Source(None);
        confirm_enrolment(&mut conn, &sealer, &user, &code(&secret, now), &source, now).unwrap();
        let cli = crate::identity::authority::Actor::operator("cli");
        assert!(reset_by_operator(&mut conn, &cli, &user.id, now).unwrap());
        assert!(
            !reset_by_operator(&mut conn, &cli, &user.id, now).unwrap(),
            "once"
        );
        assert_eq!(recovery_codes_left(&mut conn, &user.id).unwrap(), 0);
        let nobody = UserId::from("usr_nobody");
        assert!(reset_by_operator(&mut conn, &cli, &nobody, now).is_err());
    }

    #[test]
    fn recovery_codes_are_readable_and_distinct() {
        let codes: Vec<_> = (0..50).map(|_| recovery_code().unwrap()).collect();
        for code in &codes {
            let text = code.expose();
            assert_eq!(text.len(), 11);
            assert_eq!(&text[5..6], "-");
            assert!(normalize_recovery_code(text).is_some());
        }
        let distinct: std::collections::HashSet<_> = codes.iter().map(|c| c.expose()).collect();
        assert_eq!(distinct.len(), codes.len());
    }
}
