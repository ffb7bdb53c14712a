//! Sign-in sessions: the dashboard's cookie is a session token (`kgss_…`, 256 bits,
//! `TokenKind::SessionToken`), stored only as its SHA-256 digest like an API key, and
//! every session carries a CSRF token for its forms.
//!
//! The CSRF token is derived from the session token (SHA-256 of a fixed label and the
//! token), so a page can put it in every form without keygate keeping it retrievable:
//! the row holds only its digest. It is one-way — the CSRF token in a page tells
//! nothing about the cookie — and it changes with every session, so it rotates at
//! sign-in with the session itself.
//!
//! A session ends when the person signs out, when their password is set, when they
//! are disabled, when it has been idle for `session_idle_timeout`, or at
//! `session_lifetime` after sign-in, whichever is first; `resolve` checks all of it on
//! every request (the row is read each time, so an ending holds on every instance).

use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::NaiveDateTime;
use sha2::{Digest, Sha256};

use super::model::{Membership, User, UserSession};
use super::repo;
use crate::audit::Source;
use crate::identity::authority::Actor;
use crate::ids::{OrgId, SessionId, UserId};
use crate::secret::{ct_eq_str, digest, RandomError, Secret};
use crate::store::{DbConn, StoreError, Tx};
use crate::tokens::TokenKind;

/// A user agent is kept to this many characters.
pub const MAX_USER_AGENT_CHARS: usize = 200;

/// `last_seen_at` is written at most this often (seconds): a page view is not a write.
const TOUCH_EVERY_SECS: i64 = 60;

/// A session that `resolve` accepted: who, in which organization, with which role.
#[derive(Debug)]
pub struct ActiveSession {
    pub session_id: SessionId,
    pub user: User,
    pub membership: Membership,
    /// The session's CSRF token, for the page's forms (`check_csrf` checks one).
    pub csrf: Secret,
    csrf_token_hash: String,
}

impl ActiveSession {
    /// The person as the actor of the use cases: `user:<id>`, confined to the
    /// session's organization, with their role's scopes (`Role::scopes`) as the
    /// ceiling of anything they create, no expiry ceiling and no rate limit of their
    /// own.
    pub fn actor(&self, source: Source) -> Actor {
        self.actor_with(source, self.membership.role().scopes())
    }

    /// `actor`, with the role's scopes narrowed to the configured ones
    /// (`Role::scopes_within(&settings.scopes)`).
    pub fn actor_within(&self, source: Source, configured: &crate::scope::ScopeSet) -> Actor {
        self.actor_with(source, self.membership.role().scopes_within(configured))
    }

    fn actor_with(&self, source: Source, scopes: crate::scope::ScopeSet) -> Actor {
        Actor::bounded(
            self.user.label(),
            source,
            &self.membership.org_id,
            scopes,
            None,
            None,
        )
    }
}

/// A new session's row and the two secrets shown to the browser (the cookie's token
/// and the CSRF token), which are nowhere else.
pub struct NewSession {
    pub row: UserSession,
    pub token: Secret,
    pub csrf: Secret,
}

/// The CSRF token of the session whose token is `token`.
pub fn csrf_of(token: &str) -> Secret {
    let mut hasher = Sha256::new();
    hasher.update(b"keygate session csrf\0");
    hasher.update(token.as_bytes());
    Secret::new(URL_SAFE_NO_PAD.encode(hasher.finalize()))
}

/// A new session for `user` in `org_id`, lasting at most `lifetime` (the caller
/// writes it: `repo::create_session`).
pub fn new_session(
    user_id: &UserId,
    org_id: &OrgId,
    source: &Source,
    user_agent: Option<&str>,
    lifetime: Duration,
    second_factor_pending: bool,
    now: NaiveDateTime,
) -> Result<NewSession, RandomError> {
    let token = Secret::generate(TokenKind::SessionToken.prefix(), 32)?;
    let csrf = csrf_of(token.expose());
    let lifetime = chrono::Duration::from_std(lifetime).unwrap_or(chrono::Duration::MAX);
    let row = UserSession {
        id: SessionId::generate(),
        token_hash: digest(token.expose()),
        user_id: user_id.clone(),
        org_id: org_id.clone(),
        csrf_token_hash: digest(csrf.expose()),
        created_at: now,
        last_seen_at: now,
        expires_at: now
            .checked_add_signed(lifetime)
            .unwrap_or(NaiveDateTime::MAX),
        ended_at: None,
        source_ip: source.0.clone(),
        user_agent: user_agent.map(|ua| ua.chars().take(MAX_USER_AGENT_CHARS).collect()),
        second_factor_pending,
    };
    Ok(NewSession { row, token, csrf })
}

/// The live session whose token is `token`, or `None`: unknown, ended, past its
/// absolute end (`expires_at`, or `absolute` after sign-in if that is sooner), idle
/// longer than `idle`, of a disabled person, or of a membership that is gone.
/// Reads outside any write; touches `last_seen_at` at most once a minute, in a write
/// of its own (SQLite has one writer: every dashboard page in a write turn would wait
/// in one line).
pub fn resolve(
    conn: &mut Tx<'_>,
    token: &str,
    now: NaiveDateTime,
    idle: Duration,
    absolute: Duration,
) -> Result<Option<ActiveSession>, StoreError> {
    if !TokenKind::SessionToken.has_prefix(token) {
        return Ok(None);
    }
    let token_hash = digest(token);
    let Some(session) = repo::session_by_token_hash(conn, &token_hash)? else {
        return Ok(None);
    };
    if !ct_eq_str(&session.token_hash, &token_hash)
        || session.second_factor_pending
        || !is_live(&session, now, idle, absolute)
    {
        return Ok(None);
    }
    let Some(user) = repo::find(conn, &session.user_id)? else {
        return Ok(None);
    };
    if user.is_disabled() {
        return Ok(None);
    }
    let Some(membership) = repo::membership(conn, &user.id, &session.org_id)? else {
        return Ok(None);
    };
    if (now - session.last_seen_at).num_seconds() >= TOUCH_EVERY_SECS {
        conn.write(|tx| repo::touch_session(tx, &session.id, now))?;
    }
    Ok(Some(ActiveSession {
        session_id: session.id,
        user,
        membership,
        csrf: csrf_of(token),
        csrf_token_hash: session.csrf_token_hash,
    }))
}

/// The session whose token is `token` if it is one that passed the password and
/// waits for the second factor (`sign_in::complete_second_factor`), still live, of a
/// person not disabled: the session and the person.
pub fn resolve_pending(
    conn: &mut DbConn,
    token: &str,
    now: NaiveDateTime,
) -> Result<Option<(UserSession, User)>, StoreError> {
    if !TokenKind::SessionToken.has_prefix(token) {
        return Ok(None);
    }
    let token_hash = digest(token);
    let Some(session) = repo::session_by_token_hash(conn, &token_hash)? else {
        return Ok(None);
    };
    let live = session.ended_at.is_none() && now < session.expires_at;
    if !ct_eq_str(&session.token_hash, &token_hash) || !session.second_factor_pending || !live {
        return Ok(None);
    }
    let user = repo::find(conn, &session.user_id)?.filter(|u| !u.is_disabled());
    Ok(user.map(|user| (session, user)))
}

fn is_live(session: &UserSession, now: NaiveDateTime, idle: Duration, absolute: Duration) -> bool {
    let after = |from: NaiveDateTime, by: Duration| {
        chrono::Duration::from_std(by)
            .ok()
            .and_then(|by| from.checked_add_signed(by))
            .unwrap_or(NaiveDateTime::MAX)
    };
    session.ended_at.is_none()
        && now < session.expires_at
        && now < after(session.created_at, absolute)
        && now < after(session.last_seen_at, idle)
}

/// Whether `presented` is the session's CSRF token, compared in constant time (of
/// their digests).
pub fn check_csrf(session: &ActiveSession, presented: &str) -> bool {
    ct_eq_str(&digest(presented), &session.csrf_token_hash)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::users::model::{Membership, NewUser, Role};

    const MINUTE: Duration = Duration::from_secs(60);
    const HOUR: Duration = Duration::from_secs(3600);

    /// `resolve` on a bare connection, as a store turn would run it.
    fn resolve_now(
        conn: &mut DbConn,
        token: &str,
        now: NaiveDateTime,
        idle: Duration,
        absolute: Duration,
    ) -> Result<Option<ActiveSession>, StoreError> {
        crate::store::test_support::in_turn(conn, |tx| resolve(tx, token, now, idle, absolute))
    }

    #[test]
    fn a_session_resolves_until_idle_or_past_its_lifetime() {
        let mut conn = crate::store::test_support::memory_conn();
        let now = chrono::Utc::now().naive_utc();
        let (org, _) = crate::orgs::repo::ensure_default(&mut conn, now).unwrap();
        let user = repo::create(&mut conn, &NewUser::new("a@b.c", None, now)).unwrap();
        let member = Membership::new(&user.id, &org.id, Role::Viewer, now);
        repo::add_membership(&mut conn, &member).unwrap();
        let ua = "x".repeat(300);
        let source = Source(Some("10.0.0.1".into()));
        let new = new_session(&user.id, &org.id, &source, Some(&ua), 2 * HOUR, false, now).unwrap();
        assert!(new.token.expose().starts_with("kgss_"));
        assert_eq!(new.row.user_agent.as_ref().map(String::len), Some(200));
        repo::create_session(&mut conn, &new.row).unwrap();
        let token = new.token.expose();

        let at = |mins: i64| now + chrono::Duration::minutes(mins);
        let found = resolve_now(&mut conn, token, at(0), 30 * MINUTE, 12 * HOUR)
            .unwrap()
            .unwrap();
        assert!(check_csrf(&found, new.csrf.expose()));
        assert!(!check_csrf(&found, token));
        assert!(found.csrf.ct_eq(new.csrf.expose().as_bytes()));
        let actor = found.actor(Source(None));
        assert_eq!(actor.label(), format!("user:{}", user.id));
        assert_eq!(
            actor.scope_ceiling().map(ToString::to_string).as_deref(),
            Some("read")
        );
        assert_eq!(actor.org_id(), Some(&org.id));
        // Each use within the idle timeout keeps it alive…
        for mins in [20, 40, 60, 80] {
            assert!(
                resolve_now(&mut conn, token, at(mins), 30 * MINUTE, 12 * HOUR)
                    .unwrap()
                    .is_some()
            );
        }
        // …until the absolute end (here the shorter `absolute`, then `expires_at`).
        assert!(
            resolve_now(&mut conn, token, at(100), 30 * MINUTE, 90 * MINUTE)
                .unwrap()
                .is_none()
        );
        assert!(
            resolve_now(&mut conn, token, at(100), 30 * MINUTE, 12 * HOUR)
                .unwrap()
                .is_some()
        );
        // Idle: last seen at 100, so idle for 10 minutes at 110.
        assert!(
            resolve_now(&mut conn, token, at(111), 10 * MINUTE, 12 * HOUR)
                .unwrap()
                .is_none()
        );
        assert!(resolve_now(&mut conn, token, at(119), 12 * HOUR, 12 * HOUR)
            .unwrap()
            .is_some());
        assert!(resolve_now(&mut conn, token, at(121), 12 * HOUR, 12 * HOUR)
            .unwrap()
            .is_none());
        // Unknown or malformed tokens.
        for other in ["kgss_nope", "kg_live_x", ""] {
            assert!(resolve_now(&mut conn, other, at(100), HOUR, HOUR)
                .unwrap()
                .is_none());
        }
        repo::end_session(&mut conn, &found.session_id, at(101)).unwrap();
        assert!(resolve_now(&mut conn, token, at(102), HOUR, 12 * HOUR)
            .unwrap()
            .is_none());
    }
}
