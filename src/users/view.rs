//! How a person is shown, with one membership: never a password hash, never a token.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::model::{Membership, User};

#[derive(Serialize)]
pub struct UserView<'a> {
    pub user_id: &'a str,
    pub email: &'a str,
    pub display_name: Option<&'a str>,
    /// The organization's slug (or its id where the slug is not at hand).
    pub org: &'a str,
    pub role: &'a str,
    /// Whether they have set a password (through their setup link).
    pub password_set: bool,
    pub created_at: DateTime<Utc>,
    pub disabled_at: Option<DateTime<Utc>>,
}

impl<'a> UserView<'a> {
    pub fn new(user: &'a User, membership: &'a Membership, org: &'a str) -> Self {
        Self {
            user_id: user.id.as_str(),
            email: &user.email,
            display_name: user.display_name.as_deref(),
            org,
            role: &membership.role,
            password_set: user.password_hash.is_some(),
            created_at: user.created_at.and_utc(),
            disabled_at: user.disabled_at.map(|t| t.and_utc()),
        }
    }
}

/// A member of an organization, as `/v1/members` and `keygate member list` show one.
#[derive(Serialize, utoipa::ToSchema)]
pub struct MemberView<'a> {
    #[schema(example = "usr_0123456789abcdef0123456789abcdef")]
    pub user_id: &'a str,
    pub email: &'a str,
    pub display_name: Option<&'a str>,
    /// `owner`, `admin`, `developer` or `viewer`.
    pub role: &'a str,
    /// `active`; `invited` (no password set yet: the setup link is unused);
    /// `disabled` (the account cannot sign in).
    pub status: &'static str,
    /// When they became a member.
    pub joined_at: DateTime<Utc>,
}

impl<'a> MemberView<'a> {
    pub fn new(user: &'a User, membership: &'a Membership) -> Self {
        Self {
            user_id: user.id.as_str(),
            email: &user.email,
            display_name: user.display_name.as_deref(),
            role: &membership.role,
            status: member_status(user),
            joined_at: membership.created_at.and_utc(),
        }
    }
}

/// `active`, `invited` or `disabled`.
pub fn member_status(user: &User) -> &'static str {
    if user.is_disabled() {
        "disabled"
    } else if user.password_hash.is_none() {
        "invited"
    } else {
        "active"
    }
}
