//! The members of an organization, as use cases every door calls (the management
//! API's `/v1/members`, `keygate member …`, the dashboard's Members page): list,
//! invite, change a role, remove. Each commits with its audit event (`member.*`) in
//! one transaction.
//!
//! Who may do what is `Role::may_grant`, applied to the role the actor acts with
//! (`acting_role`): a signed-in person acts with their own membership's role, read in
//! the same transaction; an API key or token with the `admin` scope acts as an
//! `admin` — never as an `owner`, so a credential cannot make or unmake owners; the
//! operator at the command line acts as an owner of every organization.
//!
//! An organization always keeps an owner: demoting or removing one locks the
//! organization's row first (`repo::lock_org`), so of two owners removing each other
//! at the same moment one succeeds and the other is refused (`LastOwner`).

use chrono::NaiveDateTime;
use diesel::Connection;

use super::model::{Membership, Purpose, Role, User};
use super::repo;
use super::service::{self, target, UserError};
use crate::audit::{self, Change};
use crate::identity::authority::Actor;
use crate::ids::{OrgId, UserId};
use crate::secret::Secret;
use crate::store::{DbConn, StoreError};
use crate::tokens::TokenKind;

/// The result of an invitation.
#[derive(Debug)]
pub struct Invitation {
    pub user: User,
    pub membership: Membership,
    /// The secret of a setup link, to be shown once to the inviter, when the person
    /// has no password yet (a new account, or one that never finished setting up).
    /// A person who already signs in elsewhere gets none: they sign in as they are.
    pub setup_token: Option<Secret>,
    /// Whether the account was made by this invitation.
    pub new_account: bool,
    /// The organization's name, for the invitation letter.
    pub org_name: String,
}

/// The role `actor` acts with in `org_id`: see the module's doc.
pub fn acting_role(conn: &mut DbConn, actor: &Actor, org_id: &OrgId) -> Result<Role, StoreError> {
    if actor.org_id().is_none() {
        return Ok(Role::Owner);
    }
    if !actor.sees(org_id) {
        return Ok(Role::Viewer);
    }
    if let Some(user_id) = actor.label().strip_prefix("user:") {
        let membership = repo::membership(conn, &UserId::from(user_id), org_id)?;
        return Ok(membership.map_or(Role::Viewer, |m| m.role()));
    }
    // A bounded credential with `admin`; a registration access token (bounds of its
    // own registration only, no ceiling here) manages no people.
    let admin = actor.scope_ceiling().is_some() && actor.require_admin().is_ok();
    Ok(if admin { Role::Admin } else { Role::Viewer })
}

/// The members of `org_id`, oldest first. Any member sees the list; another
/// organization's is `UnknownOrg`.
pub fn list(
    conn: &mut DbConn,
    actor: &Actor,
    org_id: &OrgId,
) -> Result<Vec<(User, Membership)>, UserError> {
    if !actor.sees(org_id) {
        return Err(UserError::UnknownOrg);
    }
    Ok(repo::members_of(conn, org_id)?)
}

/// Makes the person with `email` a `role` of `org_id`: an account is made for an
/// unknown email (with a setup link); a known one gets a membership (and a setup
/// link only if they never set a password). `AlreadyMember` if they are one,
/// `AccountDisabled` for a disabled account.
pub fn invite(
    conn: &mut DbConn,
    actor: &Actor,
    org_id: &OrgId,
    email: &str,
    display_name: Option<&str>,
    role: Role,
    now: NaiveDateTime,
) -> Result<Invitation, UserError> {
    service::validate_email(email)?;
    let display_name = service::validate_display_name(display_name)?;
    if !actor.sees(org_id) {
        return Err(UserError::UnknownOrg);
    }
    actor.require_admin()?;
    actor.check_scopes(&role.scopes())?;
    let token = Secret::generate(TokenKind::UserToken.prefix(), 32)?;
    conn.transaction(|c| {
        if !repo::lock_org(c, org_id)? {
            return Err(UserError::UnknownOrg);
        }
        check_grant(c, actor, org_id, role)?;
        let org_name = crate::orgs::repo::find(c, org_id)?
            .ok_or(UserError::UnknownOrg)?
            .name;
        let (user, setup_token, new_account) = match repo::find_by_email(c, email)? {
            Some(user) if user.is_disabled() => return Err(UserError::AccountDisabled),
            Some(user) => {
                if repo::membership(c, &user.id, org_id)?.is_some() {
                    return Err(UserError::AlreadyMember);
                }
                let link = user.password_hash.is_none().then_some(token);
                if let Some(token) = &link {
                    repo::create_token(
                        c,
                        &service::one_time_token(token, &user.id, Purpose::Setup, now),
                    )?;
                }
                (user, link, false)
            }
            None => {
                let user = service::create_account(c, email, display_name, &token, now)?;
                (user, Some(token), true)
            }
        };
        let membership = Membership::new(&user.id, org_id, role, now);
        repo::add_membership(c, &membership)?;
        let change = Change::MemberInvited {
            email: &user.email,
            role: role.as_str(),
            new_account,
        };
        audit::repo::record(c, target(org_id, &user), actor.by(), change, now)?;
        Ok(Invitation {
            user,
            membership,
            setup_token,
            new_account,
            org_name,
        })
    })
}

/// Gives the member `user_id` of `org_id` the role `role`. Giving the role they
/// have changes and records nothing; demoting the last owner is `LastOwner`.
pub fn change_role(
    conn: &mut DbConn,
    actor: &Actor,
    org_id: &OrgId,
    user_id: &UserId,
    role: Role,
    now: NaiveDateTime,
) -> Result<Membership, UserError> {
    if !actor.sees(org_id) || !TokenKind::UserId.is_id(user_id.as_str()) {
        return Err(UserError::NotFound);
    }
    actor.require_admin()?;
    actor.check_scopes(&role.scopes())?;
    conn.transaction(|c| {
        let (user, membership) = locked_member(c, org_id, user_id)?;
        let current = membership.role();
        check_grant(c, actor, org_id, current)?;
        check_grant(c, actor, org_id, role)?;
        if current == role {
            return Ok(membership);
        }
        if current == Role::Owner && repo::count_owners(c, org_id)? <= 1 {
            return Err(UserError::LastOwner);
        }
        repo::set_role(c, user_id, org_id, role)?;
        let change = Change::MemberRoleChanged {
            email: &user.email,
            from: current.as_str(),
            to: role.as_str(),
        };
        audit::repo::record(c, target(org_id, &user), actor.by(), change, now)?;
        repo::membership(c, user_id, org_id)?.ok_or(UserError::NotFound)
    })
}

/// Ends the membership of `user_id` in `org_id`, and their sessions there; how many
/// sessions ended. Their account stays (and their other memberships); the API keys
/// and applications they created stay the organization's. Removing the last owner
/// is `LastOwner`.
pub fn remove(
    conn: &mut DbConn,
    actor: &Actor,
    org_id: &OrgId,
    user_id: &UserId,
    now: NaiveDateTime,
) -> Result<usize, UserError> {
    if !actor.sees(org_id) || !TokenKind::UserId.is_id(user_id.as_str()) {
        return Err(UserError::NotFound);
    }
    actor.require_admin()?;
    conn.transaction(|c| {
        let (user, membership) = locked_member(c, org_id, user_id)?;
        let role = membership.role();
        check_grant(c, actor, org_id, role)?;
        if role == Role::Owner && repo::count_owners(c, org_id)? <= 1 {
            return Err(UserError::LastOwner);
        }
        repo::remove_membership(c, user_id, org_id)?;
        let sessions_ended = repo::end_sessions_in_org(c, user_id, org_id, now)?;
        crate::consents::end_for_person(c, user_id, Some(org_id), now, "member_removed")?;
        let change = Change::MemberRemoved {
            email: &user.email,
            role: role.as_str(),
            sessions_ended,
        };
        audit::repo::record(c, target(org_id, &user), actor.by(), change, now)?;
        Ok(sessions_ended)
    })
}

/// The member `user_id` of `org_id`, with the organization's row locked until the
/// transaction ends (`repo::lock_org`): the owners counted next stay as counted.
fn locked_member(
    c: &mut DbConn,
    org_id: &OrgId,
    user_id: &UserId,
) -> Result<(User, Membership), UserError> {
    if !repo::lock_org(c, org_id)? {
        return Err(UserError::NotFound);
    }
    let membership = repo::membership(c, user_id, org_id)?.ok_or(UserError::NotFound)?;
    let user = repo::find(c, user_id)?.ok_or(UserError::NotFound)?;
    Ok((user, membership))
}

/// Refuses a role the actor's own role may not give (or take away).
fn check_grant(c: &mut DbConn, actor: &Actor, org_id: &OrgId, role: Role) -> Result<(), UserError> {
    let acting = acting_role(c, actor, org_id)?;
    if acting.may_grant(role) {
        Ok(())
    } else {
        Err(UserError::RoleBeyond { acting, role })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::Source;
    use crate::orgs;
    use crate::store::test_support::memory_conn;

    struct Org {
        conn: DbConn,
        id: OrgId,
        now: NaiveDateTime,
    }

    impl Org {
        fn new() -> Self {
            let mut conn = memory_conn();
            let now = chrono::Utc::now().naive_utc();
            let (org, _) = orgs::repo::ensure_default(&mut conn, now).unwrap();
            Self {
                conn,
                id: org.id,
                now,
            }
        }

        fn add(&mut self, email: &str, role: Role) -> User {
            let cli = Actor::operator("cli");
            invite(&mut self.conn, &cli, &self.id, email, None, role, self.now)
                .unwrap()
                .user
        }

        fn person(&self, user: &User, role: Role) -> Actor {
            Actor::bounded(
                user.label(),
                Source(None),
                &self.id,
                role.scopes(),
                None,
                None,
            )
        }

        fn key_with(&self, scopes: &str) -> Actor {
            let scopes = crate::scope::ScopeSet::parse(scopes).unwrap();
            Actor::bounded(
                "key:key_x".into(),
                Source(None),
                &self.id,
                scopes,
                None,
                None,
            )
        }
    }

    #[test]
    fn an_invitation_makes_an_account_or_reuses_one() {
        let mut org = Org::new();
        let cli = Actor::operator("cli");
        let first = invite(
            &mut org.conn,
            &cli,
            &org.id,
            "Ada@x.io",
            Some("Ada"),
            Role::Owner,
            org.now,
        )
        .unwrap();
        assert!(first.new_account && first.setup_token.is_some());
        let again = invite(
            &mut org.conn,
            &cli,
            &org.id,
            "ada@X.io",
            None,
            Role::Viewer,
            org.now,
        );
        assert!(matches!(again, Err(UserError::AlreadyMember)));

        // The same person, invited to a second organization after setting a password:
        // a membership, no link.
        let new = orgs::model::NewOrganization::new("beta", "Beta", org.now);
        let beta = orgs::repo::create(&mut org.conn, &new).unwrap().id;
        repo::set_password(&mut org.conn, &first.user.id, "$argon2id$x", org.now).unwrap();
        let second = invite(
            &mut org.conn,
            &cli,
            &beta,
            "ADA@x.io",
            None,
            Role::Viewer,
            org.now,
        )
        .unwrap();
        assert!(!second.new_account && second.setup_token.is_none());
        assert_eq!(second.user.id, first.user.id);
        assert_eq!(
            repo::memberships_of(&mut org.conn, &first.user.id)
                .unwrap()
                .len(),
            2
        );
    }

    #[test]
    fn roles_decide_who_may_invite_change_and_remove_whom() {
        let mut org = Org::new();
        let owner = org.add("o@x.io", Role::Owner);
        let admin = org.add("a@x.io", Role::Admin);
        let dev = org.add("d@x.io", Role::Developer);
        let (as_admin, as_dev) = (
            org.person(&admin, Role::Admin),
            org.person(&dev, Role::Developer),
        );
        let now = org.now;

        let refused = invite(
            &mut org.conn,
            &as_dev,
            &org.id,
            "v@x.io",
            None,
            Role::Viewer,
            now,
        );
        assert!(
            matches!(refused, Err(UserError::Authority(_))),
            "{refused:?}"
        );
        let no_owner = invite(
            &mut org.conn,
            &as_admin,
            &org.id,
            "o2@x.io",
            None,
            Role::Owner,
            now,
        );
        assert!(
            matches!(no_owner, Err(UserError::RoleBeyond { .. })),
            "{no_owner:?}"
        );
        let demote_owner = change_role(
            &mut org.conn,
            &as_admin,
            &org.id,
            &owner.id,
            Role::Viewer,
            now,
        );
        assert!(matches!(demote_owner, Err(UserError::RoleBeyond { .. })));
        let remove_owner = remove(&mut org.conn, &as_admin, &org.id, &owner.id, now);
        assert!(matches!(remove_owner, Err(UserError::RoleBeyond { .. })));
        let promoted =
            change_role(&mut org.conn, &as_admin, &org.id, &dev.id, Role::Admin, now).unwrap();
        assert_eq!(promoted.role(), Role::Admin);

        // An admin-scoped key acts as an admin: never makes an owner.
        let key = org.key_with("read write admin webhook");
        let by_key = change_role(&mut org.conn, &key, &org.id, &dev.id, Role::Owner, now);
        assert!(matches!(
            by_key,
            Err(UserError::RoleBeyond {
                acting: Role::Admin,
                ..
            })
        ));
        let read_key = org.key_with("read");
        assert!(matches!(
            remove(&mut org.conn, &read_key, &org.id, &dev.id, now),
            Err(UserError::Authority(_))
        ));
        assert_eq!(
            remove(&mut org.conn, &key, &org.id, &dev.id, now).unwrap(),
            0
        );
        assert!(matches!(
            remove(&mut org.conn, &key, &org.id, &dev.id, now),
            Err(UserError::NotFound)
        ));
    }

    #[test]
    fn the_last_owner_stays_an_owner() {
        let mut org = Org::new();
        let owner = org.add("o@x.io", Role::Owner);
        let as_owner = org.person(&owner, Role::Owner);
        let now = org.now;
        let demote = change_role(
            &mut org.conn,
            &as_owner,
            &org.id,
            &owner.id,
            Role::Admin,
            now,
        );
        assert!(matches!(demote, Err(UserError::LastOwner)));
        assert!(matches!(
            remove(&mut org.conn, &as_owner, &org.id, &owner.id, now),
            Err(UserError::LastOwner)
        ));
        let second = org.add("o2@x.io", Role::Owner);
        change_role(
            &mut org.conn,
            &as_owner,
            &org.id,
            &owner.id,
            Role::Admin,
            now,
        )
        .unwrap();
        let as_second = org.person(&second, Role::Owner);
        assert!(matches!(
            remove(&mut org.conn, &as_second, &org.id, &second.id, now),
            Err(UserError::LastOwner)
        ));
        let trail: Vec<_> = audit::repo::list(
            &mut org.conn,
            &audit::repo::EventFilter::of_org(org.id.clone(), 10),
        )
        .unwrap()
        .into_iter()
        .map(|e| e.event_type)
        .collect();
        assert_eq!(
            trail,
            ["member.invited", "member.invited", "member.role_changed"]
        );
    }
}
