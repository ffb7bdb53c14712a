//! The people use cases — create a person with a membership and a setup link, redeem
//! the link to set a password, disable — for the CLI now and the dashboard
//! next. Each takes the connection of the caller's store turn (`Store::write`), the
//! actor where there is one, validated input and `now`, and commits the change with
//! its audit event (in the membership's organization: target type `user`) in one
//! transaction. argon2 stays outside: a password arrives hashed
//! (`password::hash`). Signing in, which needs the argon2 budget, is `sign_in`'s.

use chrono::NaiveDateTime;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel::Connection;

use super::model::{Membership, NewUser, Purpose, Role, User, UserToken};
use super::repo;
use crate::audit::{self, By, Change, Source, Target};
use crate::identity::authority::{Actor, AuthorityError};
use crate::ids::{OrgId, UserId};
use crate::orgs;
use crate::scope::ScopeSet;
use crate::secret::{digest, RandomError, Secret};
use crate::store::{DbConn, StoreError};
use crate::tokens::TokenKind;

/// How long a setup link works.
pub const SETUP_TOKEN_LIFETIME: chrono::Duration = Purpose::Setup.lifetime();
/// How long a mailed password-reset link works.
pub const RESET_TOKEN_LIFETIME: chrono::Duration = Purpose::Reset.lifetime();
/// At most one reset link is mailed to an account in this long, however often it is
/// asked for (an inbox is not to be flooded).
pub const RESET_MAIL_INTERVAL: chrono::Duration = chrono::Duration::minutes(5);

pub const MAX_EMAIL_CHARS: usize = 254;
pub const MAX_DISPLAY_NAME_CHARS: usize = 200;

/// Why a people use case refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum UserError {
    #[error("email: one '@' between a name and a domain, at most 254 characters, no spaces")]
    InvalidEmail,
    #[error("name: at most 200 characters without control characters")]
    InvalidName,
    #[error("a person with this email already exists")]
    EmailTaken,
    /// No such organization — or one the actor does not see.
    #[error("no such organization")]
    UnknownOrg,
    /// No such person or session — or one of an organization the actor does not see.
    #[error("no such person")]
    NotFound,
    /// A setup or reset link that is unknown, used, expired, or of a disabled person:
    /// one answer for all.
    #[error("this link is invalid or has expired; ask for a new one")]
    InvalidToken,
    #[error("this person is already a member of the organization")]
    AlreadyMember,
    #[error("this person's account is disabled")]
    AccountDisabled,
    /// The organization would be left without an owner.
    #[error("the organization's last owner can be neither removed nor given another role; make someone else owner first")]
    LastOwner,
    /// The actor's role may not give, change or remove this role (`Role::may_grant`).
    #[error("a {acting} may not give, change or remove the role '{role}'")]
    RoleBeyond { acting: Role, role: Role },
    #[error(transparent)]
    Authority(#[from] AuthorityError),
    #[error(transparent)]
    Random(#[from] RandomError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<DieselError> for UserError {
    fn from(error: DieselError) -> Self {
        Self::Store(error.into())
    }
}

/// A new person `email` (unique whatever its case) who is a `role` of `org_id`, and
/// the secret of their setup link, shown once (`setup_url`), valid for 24 hours. A
/// bounded actor (a signed-in person) needs the `admin` scope and may not give a
/// role with scopes beyond its own; which roles a person may grant is
/// `Role::may_grant`, the dashboard's check.
pub fn create_user(
    conn: &mut DbConn,
    actor: &Actor,
    email: &str,
    display_name: Option<&str>,
    org_id: &OrgId,
    role: Role,
    now: NaiveDateTime,
) -> Result<(User, Secret), UserError> {
    validate_email(email)?;
    let display_name = validate_display_name(display_name)?;
    if !actor.sees(org_id) {
        return Err(UserError::UnknownOrg);
    }
    if actor.scope_ceiling().is_some() {
        actor.check_scopes(&ScopeSet::parse("admin").unwrap_or_default())?;
        actor.check_scopes(&role.scopes())?;
    }
    let token = Secret::generate(TokenKind::UserToken.prefix(), 32)?;
    conn.transaction(|c| {
        if orgs::repo::find(c, org_id)?.is_none() {
            return Err(UserError::UnknownOrg);
        }
        if repo::find_by_email(c, email)?.is_some() {
            return Err(UserError::EmailTaken);
        }
        let user = create_account(c, email, display_name, &token, now)?;
        let membership = Membership::new(&user.id, org_id, role, now);
        repo::add_membership(c, &membership)?;
        let change = Change::UserCreated {
            email: &user.email,
            role: role.as_str(),
        };
        audit::repo::record(c, target(org_id, &user), actor.by(), change, now)?;
        Ok((user, token))
    })
}

/// A new setup link for the person `user_id` — one whose first link expired, or who
/// forgot their password before a reset flow exists — shown once, valid 24 hours.
/// Redeeming it sets their password and ends their sessions. Not for a disabled
/// person. A bounded actor needs the `admin` scope and sees only its members.
pub fn new_setup_link(
    conn: &mut DbConn,
    actor: &Actor,
    user_id: &UserId,
    now: NaiveDateTime,
) -> Result<Secret, UserError> {
    if actor.scope_ceiling().is_some() {
        actor.check_scopes(&ScopeSet::parse("admin").unwrap_or_default())?;
    }
    let token = Secret::generate(TokenKind::UserToken.prefix(), 32)?;
    conn.transaction(|c| {
        let user = find(c, actor, user_id)?
            .filter(|u| !u.is_disabled())
            .ok_or(UserError::NotFound)?;
        let issued = one_time_token(&token, &user.id, Purpose::Setup, now);
        repo::create_token(c, &issued)?;
        let change = Change::UserSetupLinkIssued {
            expires_at: issued.expires_at,
        };
        record_in_orgs_of(c, &user, |org| actor.sees(org), actor.by(), change, now)?;
        Ok(token)
    })
}

/// A new account for `email` (validated) with the setup link `token`, inside the
/// caller's transaction; a concurrent create of the same email is `EmailTaken`.
pub(super) fn create_account(
    c: &mut DbConn,
    email: &str,
    display_name: Option<&str>,
    token: &Secret,
    now: NaiveDateTime,
) -> Result<User, UserError> {
    let user =
        repo::create(c, &NewUser::new(email, display_name, now)).map_err(|error| match error {
            DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _) => {
                UserError::EmailTaken
            }
            other => other.into(),
        })?;
    repo::create_token(c, &one_time_token(token, &user.id, Purpose::Setup, now))?;
    Ok(user)
}

/// The row of the one-time link `token` of `purpose` for `user_id`, made `now`.
pub(super) fn one_time_token(
    token: &Secret,
    user_id: &UserId,
    purpose: Purpose,
    now: NaiveDateTime,
) -> UserToken {
    UserToken {
        token_hash: digest(token.expose()),
        user_id: user_id.clone(),
        purpose: purpose.as_str().to_owned(),
        created_at: now,
        expires_at: now + purpose.lifetime(),
        used_at: None,
    }
}

/// A password-reset link for the person with `email`, asked for on the sign-in
/// page by someone who is not signed in: `None` — and nothing recorded — for an
/// unknown email, a disabled person, one in no organization, or one mailed a link
/// less than `RESET_MAIL_INTERVAL` ago. The caller mails the link
/// (`setup_url`) and answers the same whatever this returns, so the answer tells
/// nothing about which emails exist.
pub fn request_password_reset(
    conn: &mut DbConn,
    email: &str,
    source: &Source,
    now: NaiveDateTime,
) -> Result<Option<(User, Secret)>, UserError> {
    let email = email.trim().to_lowercase();
    if validate_email(&email).is_err() {
        return Ok(None);
    }
    let token = Secret::generate(TokenKind::UserToken.prefix(), 32)?;
    conn.transaction(|c| {
        let Some(user) = repo::find_by_email(c, &email)?.filter(|u| !u.is_disabled()) else {
            return Ok(None);
        };
        if repo::memberships_of(c, &user.id)?.is_empty()
            || repo::token_issued_since(c, &user.id, Purpose::Reset, now - RESET_MAIL_INTERVAL)?
        {
            return Ok(None);
        }
        let issued = one_time_token(&token, &user.id, Purpose::Reset, now);
        repo::create_token(c, &issued)?;
        let change = Change::UserPasswordResetRequested {
            expires_at: issued.expires_at,
        };
        let by = By::new("unauthenticated", source);
        record_in_orgs_of(c, &user, |_| true, by, change, now)?;
        Ok(Some((user, token)))
    })
}

/// Records `change` in the log of each organization of `user` that `in_org` lets
/// through: a person's own events (a password, a second factor, a sign-in burst)
/// belong to every organization they work in.
pub(super) fn record_in_orgs_of(
    c: &mut DbConn,
    user: &User,
    in_org: impl Fn(&OrgId) -> bool,
    by: By<'_>,
    change: Change<'_>,
    now: NaiveDateTime,
) -> Result<(), StoreError> {
    for membership in repo::memberships_of(c, &user.id)? {
        if in_org(&membership.org_id) {
            let target = target(&membership.org_id, user);
            audit::repo::record(c, target, by, change.clone(), now)?;
        }
    }
    Ok(())
}

/// The link a new person opens to set their password: `{issuer_base}/setup#{token}`.
///
/// The token is in the URL's *fragment*, which a browser never sends to a server:
/// not to keygate, not to a proxy in front of it, so it lands in no access log and
/// no `Referer`. In a query (`?token=`) or a path it would be written to every log
/// on the way. The setup page reads the fragment in the browser and posts the token
/// in the body of its form.
pub fn setup_url(issuer_base: &str, token: &Secret) -> String {
    format!(
        "{}/setup#{}",
        issuer_base.trim_end_matches('/'),
        token.expose()
    )
}

/// Sets the password of the person whose setup or reset link `token` is, once: the
/// link is spent by a conditional update (`used_at IS NULL AND expires_at > now`),
/// so of two concurrent uses one wins, and every other link of theirs is spent with
/// it. Every session of the person ends. `password_hash` is `password::hash` of a
/// password that passed `password::validate`, made before this transaction. A
/// second factor stays: the next sign-in still asks for it.
pub fn redeem_link(
    conn: &mut DbConn,
    token: &str,
    password_hash: &str,
    now: NaiveDateTime,
) -> Result<User, UserError> {
    if !TokenKind::UserToken.has_prefix(token) {
        return Err(UserError::InvalidToken);
    }
    let token_hash = digest(token);
    conn.transaction(|c| {
        let spent = repo::use_token(c, &token_hash, now)?.ok_or(UserError::InvalidToken)?;
        let purpose = Purpose::parse(&spent.purpose).ok_or(UserError::InvalidToken)?;
        let user = repo::find(c, &spent.user_id)?.ok_or(UserError::InvalidToken)?;
        if user.is_disabled() {
            // Rolled back: the link stays as it was.
            return Err(UserError::InvalidToken);
        }
        repo::set_password(c, &user.id, password_hash, now)?;
        repo::spend_tokens_of(c, &user.id, now)?;
        repo::end_sessions_of(c, &user.id, now)?;
        let label = user.label();
        let change = Change::UserPasswordSet {
            link: purpose.as_str(),
        };
        record_in_orgs_of(c, &user, |_| true, By::operator(&label), change, now)?;
        repo::find(c, &user.id)?.ok_or(UserError::InvalidToken)
    })
}

/// Disables the person `user_id`: they cannot sign in, and every session of theirs
/// ends at once. A bounded actor sees only the members of its organization.
/// Disabling a disabled person changes and records nothing.
pub fn disable_user(
    conn: &mut DbConn,
    actor: &Actor,
    user_id: &UserId,
    now: NaiveDateTime,
) -> Result<User, UserError> {
    if !TokenKind::UserId.is_id(user_id.as_str()) {
        return Err(UserError::NotFound);
    }
    conn.transaction(|c| {
        let user = repo::find(c, user_id)?.ok_or(UserError::NotFound)?;
        let memberships = repo::memberships_of(c, &user.id)?;
        if !memberships.iter().any(|m| actor.sees(&m.org_id)) && actor.org_id().is_some() {
            return Err(UserError::NotFound);
        }
        if !repo::disable(c, &user.id, now)? {
            return Ok(user);
        }
        let sessions_ended = repo::end_sessions_of(c, &user.id, now)?;
        crate::consents::end_for_person(c, &user.id, None, now, "user_disabled")?;
        let change = Change::UserDisabled {
            email: &user.email,
            sessions_ended,
        };
        record_in_orgs_of(c, &user, |_| true, actor.by(), change, now)?;
        repo::find(c, &user.id)?.ok_or(UserError::NotFound)
    })
}

/// The person `user_id` if the actor sees them (a member of its organization).
pub fn find(
    conn: &mut DbConn,
    actor: &Actor,
    user_id: &UserId,
) -> Result<Option<User>, StoreError> {
    if !TokenKind::UserId.is_id(user_id.as_str()) {
        return Ok(None);
    }
    let Some(user) = repo::find(conn, user_id)? else {
        return Ok(None);
    };
    match actor.org_id() {
        None => Ok(Some(user)),
        Some(org_id) => Ok(repo::membership(conn, user_id, org_id)?.map(|_| user)),
    }
}

/// An event about `user`, in the log of `org_id`.
pub(super) fn target<'a>(org_id: &'a OrgId, user: &'a User) -> Target<'a> {
    Target {
        org_id,
        id: user.id.as_str(),
    }
}

/// An email address keygate accepts: one `@` with something on each side, at most
/// 254 characters, no whitespace or control characters. (Whether mail arrives is for
/// the setup link to show.)
pub fn validate_email(email: &str) -> Result<(), UserError> {
    let shaped = email.chars().count() <= MAX_EMAIL_CHARS
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        && matches!(email.split_once('@'), Some((local, domain))
            if !local.is_empty() && !domain.is_empty() && !domain.contains('@'));
    if shaped {
        Ok(())
    } else {
        Err(UserError::InvalidEmail)
    }
}

pub(super) fn validate_display_name(name: Option<&str>) -> Result<Option<&str>, UserError> {
    let Some(name) = name.map(str::trim).filter(|n| !n.is_empty()) else {
        return Ok(None);
    };
    if name.chars().count() > MAX_DISPLAY_NAME_CHARS || name.chars().any(char::is_control) {
        return Err(UserError::InvalidName);
    }
    Ok(Some(name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::Source;
    use crate::store::test_support::memory_conn;

    #[test]
    fn emails_are_checked_for_shape() {
        for ok in ["a@b", "ada.lovelace+kg@example.com", "Ünïcode@例え.jp"] {
            assert!(validate_email(ok).is_ok(), "{ok}");
        }
        let long = format!("{}@example.com", "a".repeat(250));
        for bad in [
            "", "ada", "@b", "a@", "a@b@c", "a b@c", "a@b\n", "a\u{7}@b", &long,
        ] {
            assert!(
                matches!(validate_email(bad), Err(UserError::InvalidEmail)),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn a_person_is_created_once_with_a_setup_link_they_redeem_once() {
        let mut conn = memory_conn();
        let now = chrono::Utc::now().naive_utc();
        let (org, _) = orgs::repo::ensure_default(&mut conn, now).unwrap();
        let cli = Actor::operator("cli");
        let (user, token) = create_user(
            &mut conn,
            &cli,
            "Ada@Example.com",
            Some(" Ada "),
            &org.id,
            Role::Owner,
            now,
        )
        .unwrap();
        assert_eq!(user.display_name.as_deref(), Some("Ada"));
        assert!(token.expose().starts_with("kgut_"));
        assert_eq!(
            setup_url("https://kg.example/", &token),
            format!("https://kg.example/setup#{}", token.expose())
        );
        let again = create_user(
            &mut conn,
            &cli,
            "ada@example.COM",
            None,
            &org.id,
            Role::Viewer,
            now,
        );
        assert!(matches!(again, Err(UserError::EmailTaken)));
        let nowhere = create_user(
            &mut conn,
            &cli,
            "b@example.com",
            None,
            &OrgId::from("org_nope"),
            Role::Viewer,
            now,
        );
        assert!(matches!(nowhere, Err(UserError::UnknownOrg)));

        let set = redeem_link(&mut conn, token.expose(), "$argon2id$h", now).unwrap();
        assert_eq!(set.password_hash.as_deref(), Some("$argon2id$h"));
        let twice = redeem_link(&mut conn, token.expose(), "$argon2id$2", now);
        assert!(matches!(twice, Err(UserError::InvalidToken)));

        let disabled = disable_user(&mut conn, &cli, &user.id, now).unwrap();
        assert!(disabled.is_disabled());
        let trail: Vec<_> = audit::repo::list(
            &mut conn,
            &audit::repo::EventFilter::of_org(org.id.clone(), 10),
        )
        .unwrap()
        .into_iter()
        .map(|e| (e.event_type, e.target_type, e.actor))
        .collect();
        let label = format!("user:{}", user.id);
        let expected = [
            ("user.created", "cli"),
            ("user.password_set", label.as_str()),
            ("user.disabled", "cli"),
        ];
        assert_eq!(trail.len(), expected.len());
        for ((event, target, actor), (want_event, want_actor)) in trail.iter().zip(expected) {
            assert_eq!(
                (event.as_str(), target.as_str(), actor.as_str()),
                (want_event, "user", want_actor)
            );
        }
    }

    #[test]
    fn a_signed_in_person_creates_members_only_within_their_authority() {
        let mut conn = memory_conn();
        let now = chrono::Utc::now().naive_utc();
        let (org, _) = orgs::repo::ensure_default(&mut conn, now).unwrap();
        let as_role = |role: Role| {
            Actor::bounded(
                "user:usr_x".into(),
                Source(None),
                &org.id,
                role.scopes(),
                None,
                None,
            )
        };
        let developer = as_role(Role::Developer);
        let refused = create_user(
            &mut conn,
            &developer,
            "d@e.f",
            None,
            &org.id,
            Role::Viewer,
            now,
        );
        assert!(matches!(refused, Err(UserError::Authority(_))));
        let admin = as_role(Role::Admin);
        let elsewhere = create_user(
            &mut conn,
            &admin,
            "d@e.f",
            None,
            &OrgId::from("org_other"),
            Role::Viewer,
            now,
        );
        assert!(matches!(elsewhere, Err(UserError::UnknownOrg)));
        assert!(create_user(
            &mut conn,
            &admin,
            "d@e.f",
            None,
            &org.id,
            Role::Developer,
            now
        )
        .is_ok());
    }
}
