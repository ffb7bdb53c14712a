//! People's rows — `User`, `Membership`, `UserSession`, `UserToken` and their inserts —
//! and the one table of what each `Role` may do (`Role::scopes` and the `may_*`
//! answers), which every door (the dashboard, the CLI) reads instead of deciding for
//! itself.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::ids::{OrgId, SessionId, UserId};
use crate::scope::ScopeSet;
use crate::store::schema::{memberships, user_sessions, user_tokens, users};

/// A person. Global: one account, one email, whatever organizations they belong to
/// (`Membership`). Rows never derive `Serialize`; `password_hash` is an argon2id PHC
/// string, `None` until the person sets a password through their setup link.
#[derive(Clone, Debug, Queryable, Selectable)]
#[diesel(table_name = users)]
pub struct User {
    pub id: UserId,
    /// As the person gave it.
    pub email: String,
    /// Lowercased: what is unique and what sign-in looks up.
    pub email_lower: String,
    pub display_name: Option<String>,
    pub password_hash: Option<String>,
    pub created_at: NaiveDateTime,
    pub disabled_at: Option<NaiveDateTime>,
    pub password_changed_at: Option<NaiveDateTime>,
    /// When the person's TOTP second factor was confirmed; `None`: they have none.
    /// (The sealed secret itself is read only where a code is checked: `TotpState`.)
    pub totp_enabled_at: Option<NaiveDateTime>,
}

impl User {
    pub fn is_disabled(&self) -> bool {
        self.disabled_at.is_some()
    }

    /// The label this person acts under in the audit log: `user:usr_…`.
    pub fn label(&self) -> String {
        format!("user:{}", self.id)
    }
}

#[derive(Debug, Insertable)]
#[diesel(table_name = users)]
pub struct NewUser {
    pub id: UserId,
    pub email: String,
    pub email_lower: String,
    pub display_name: Option<String>,
    pub created_at: NaiveDateTime,
}

impl NewUser {
    /// A new person without a password. `email` is expected validated
    /// (`service::validate_email`).
    pub fn new(email: &str, display_name: Option<&str>, now: NaiveDateTime) -> Self {
        Self {
            id: UserId::generate(),
            email: email.to_owned(),
            email_lower: email.to_lowercase(),
            display_name: display_name.map(str::to_owned),
            created_at: now,
        }
    }
}

/// A person's role in one organization.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    Owner,
    Admin,
    Developer,
    Viewer,
}

/// The scopes a role's session acts with, before the configured scopes narrow them.
const EVERY_SCOPE: &str = "read write admin webhook";

impl Role {
    pub const ALL: [Role; 4] = [Self::Owner, Self::Admin, Self::Developer, Self::Viewer];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Owner => "owner",
            Self::Admin => "admin",
            Self::Developer => "developer",
            Self::Viewer => "viewer",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|role| role.as_str() == text)
    }

    /// The one table from role to authority: the scopes a signed-in person of this
    /// role acts with (their `Actor`'s ceiling, so nothing they create holds more).
    ///
    /// | role | scopes |
    /// | --- | --- |
    /// | owner, admin | `read write admin webhook` |
    /// | developer | `read write` — and so creates, rotates and revokes API keys of at most those |
    /// | viewer | `read` |
    pub fn scopes(self) -> ScopeSet {
        let text = match self {
            Self::Owner | Self::Admin => EVERY_SCOPE,
            Self::Developer => "read write",
            Self::Viewer => "read",
        };
        ScopeSet::parse(text).unwrap_or_default()
    }

    /// `scopes`, within the configured scopes (`Settings::scopes`): an owner or admin
    /// holds every configured scope, the others theirs that are configured.
    pub fn scopes_within(self, configured: &ScopeSet) -> ScopeSet {
        let own = self.scopes();
        let text = configured
            .iter()
            .filter(|scope| matches!(self, Self::Owner | Self::Admin) || own.contains(scope))
            .collect::<Vec<_>>()
            .join(" ");
        ScopeSet::parse(&text).unwrap_or_default()
    }

    /// Whether this role changes anything at all (a viewer only looks).
    pub fn may_write(self) -> bool {
        !matches!(self, Self::Viewer)
    }

    /// Whether this role creates, rotates and revokes API keys (within its scopes,
    /// and a key it could not have created is not its to rotate: `Actor`'s rules).
    pub fn may_manage_keys(self) -> bool {
        matches!(self, Self::Owner | Self::Admin | Self::Developer)
    }

    /// Whether this role adds, changes and disables members, clients and settings.
    pub fn may_manage_members(self) -> bool {
        matches!(self, Self::Owner | Self::Admin)
    }

    /// Whether this role registers, edits, rotates the secret of and disables OAuth
    /// applications (clients); a developer and a viewer read the list.
    pub fn may_manage_clients(self) -> bool {
        matches!(self, Self::Owner | Self::Admin)
    }

    /// Whether this role reads the organization's audit log.
    pub fn may_read_audit_log(self) -> bool {
        matches!(self, Self::Owner | Self::Admin)
    }

    /// Whether this role may give `other` to someone: an owner any role, an admin
    /// any but owner, the others none.
    pub fn may_grant(self, other: Role) -> bool {
        match self {
            Self::Owner => true,
            Self::Admin => other != Self::Owner,
            Self::Developer | Self::Viewer => false,
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A person's membership of one organization, with their role there.
#[derive(Clone, Debug, Queryable, Selectable, Insertable)]
#[diesel(table_name = memberships)]
pub struct Membership {
    pub user_id: UserId,
    pub org_id: OrgId,
    /// One of `Role::as_str`; read it with `role()`.
    pub role: String,
    pub created_at: NaiveDateTime,
}

impl Membership {
    pub fn new(user_id: &UserId, org_id: &OrgId, role: Role, now: NaiveDateTime) -> Self {
        Self {
            user_id: user_id.clone(),
            org_id: org_id.clone(),
            role: role.as_str().to_owned(),
            created_at: now,
        }
    }

    /// The role; a value the schema's CHECK would not allow reads as `Viewer` (the
    /// least authority).
    pub fn role(&self) -> Role {
        Role::parse(&self.role).unwrap_or(Role::Viewer)
    }
}

/// A sign-in session. Only digests of its token and of its CSRF token are stored.
#[derive(Clone, Debug, Queryable, Selectable, Insertable)]
#[diesel(table_name = user_sessions)]
pub struct UserSession {
    pub id: SessionId,
    pub token_hash: String,
    pub user_id: UserId,
    /// The organization the session works in.
    pub org_id: OrgId,
    pub csrf_token_hash: String,
    pub created_at: NaiveDateTime,
    pub last_seen_at: NaiveDateTime,
    /// Absolute end, set at sign-in from `session_lifetime`.
    pub expires_at: NaiveDateTime,
    pub ended_at: Option<NaiveDateTime>,
    pub source_ip: Option<String>,
    /// At most `MAX_USER_AGENT_CHARS` characters.
    pub user_agent: Option<String>,
    /// The password was right and the second factor is still to come: this session
    /// opens no page but the second-factor form (`session::resolve` refuses it).
    pub second_factor_pending: bool,
}

/// What a one-time user token is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    /// The first password, from the link `user create` prints.
    Setup,
    /// A forgotten password, from a link mailed on request.
    Reset,
}

impl Purpose {
    /// How long a link of this purpose works: a day to finish setting up; an hour
    /// for a reset, which anyone who reads the mailbox could use.
    pub const fn lifetime(self) -> chrono::Duration {
        match self {
            Self::Setup => chrono::Duration::hours(24),
            Self::Reset => chrono::Duration::hours(1),
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "setup" => Some(Self::Setup),
            "reset" => Some(Self::Reset),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Setup => "setup",
            Self::Reset => "reset",
        }
    }
}

/// A one-time token (setup or reset link), by its digest.
#[derive(Clone, Debug, Queryable, Selectable, Insertable)]
#[diesel(table_name = user_tokens)]
pub struct UserToken {
    pub token_hash: String,
    pub user_id: UserId,
    pub purpose: String,
    pub created_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
    pub used_at: Option<NaiveDateTime>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_parse_and_print() {
        for role in Role::ALL {
            assert_eq!(Role::parse(role.as_str()), Some(role));
        }
        assert_eq!(Role::parse("Owner"), None);
        assert_eq!(Role::parse("root"), None);
    }

    #[test]
    fn the_role_table() {
        let configured = ScopeSet::parse("read write admin webhook").unwrap();
        let table = [
            (Role::Owner, "admin read webhook write", true, true, true),
            (Role::Admin, "admin read webhook write", true, true, true),
            (Role::Developer, "read write", true, true, false),
            (Role::Viewer, "read", false, false, false),
        ];
        for (role, scopes, write, keys, members) in table {
            assert_eq!(role.scopes().to_string(), scopes, "{role}");
            assert_eq!(
                role.scopes_within(&configured).to_string(),
                scopes,
                "{role}"
            );
            assert_eq!(role.may_write(), write, "{role}");
            assert_eq!(role.may_manage_keys(), keys, "{role}");
            assert_eq!(role.may_manage_members(), members, "{role}");
        }
        // Owners and admins hold every configured scope; others only theirs.
        let custom = ScopeSet::parse("read billing").unwrap();
        assert_eq!(
            Role::Admin.scopes_within(&custom).to_string(),
            "billing read"
        );
        assert_eq!(Role::Developer.scopes_within(&custom).to_string(), "read");
        assert!(Role::Owner.may_grant(Role::Owner));
        assert!(!Role::Admin.may_grant(Role::Owner));
        assert!(Role::Admin.may_grant(Role::Viewer));
        assert!(!Role::Developer.may_grant(Role::Viewer));
    }
}
