//! People's SQL: users, memberships, sessions and one-time tokens, as synchronous
//! functions over one `DbConn` for both backends. No secret reaches here: tokens
//! arrive as their digests, passwords as argon2id PHC strings. Every time is bound
//! from Rust (`now`), never the database's clock.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::model::{Membership, NewUser, Purpose, Role, User, UserSession, UserToken};
use crate::ids::{OrgId, SessionId, UserId};
use crate::store::schema::{memberships, organizations, user_sessions, user_tokens, users};
use crate::store::DbConn;

pub fn create(conn: &mut DbConn, new: &NewUser) -> QueryResult<User> {
    diesel::insert_into(users::table)
        .values(new)
        .execute(conn)?;
    users::table
        .find(&new.id)
        .select(User::as_select())
        .get_result(conn)
}

/// The person `id`, in any organization.
pub fn find(conn: &mut DbConn, id: &UserId) -> QueryResult<Option<User>> {
    users::table
        .find(id)
        .select(User::as_select())
        .get_result(conn)
        .optional()
}

/// The person with this email, whatever its case.
pub fn find_by_email(conn: &mut DbConn, email: &str) -> QueryResult<Option<User>> {
    users::table
        .filter(users::email_lower.eq(email.to_lowercase()))
        .select(User::as_select())
        .get_result(conn)
        .optional()
}

pub fn add_membership(conn: &mut DbConn, membership: &Membership) -> QueryResult<()> {
    diesel::insert_into(memberships::table)
        .values(membership)
        .execute(conn)
        .map(|_| ())
}

/// The person's membership of `org_id`, if they have one.
pub fn membership(
    conn: &mut DbConn,
    user_id: &UserId,
    org_id: &OrgId,
) -> QueryResult<Option<Membership>> {
    memberships::table
        .find((user_id, org_id))
        .select(Membership::as_select())
        .get_result(conn)
        .optional()
}

/// Every membership of the person, oldest first (the first is where sign-in lands).
pub fn memberships_of(conn: &mut DbConn, user_id: &UserId) -> QueryResult<Vec<Membership>> {
    memberships::table
        .filter(memberships::user_id.eq(user_id))
        .order((memberships::created_at.asc(), memberships::org_id.asc()))
        .select(Membership::as_select())
        .load(conn)
}

/// The members of `org_id` with their memberships, oldest first.
pub fn members_of(conn: &mut DbConn, org_id: &OrgId) -> QueryResult<Vec<(User, Membership)>> {
    users::table
        .inner_join(memberships::table)
        .filter(memberships::org_id.eq(org_id))
        .order((memberships::created_at.asc(), users::id.asc()))
        .select((User::as_select(), Membership::as_select()))
        .load(conn)
}

/// The emails of the organization's members by the label they act under in the
/// audit log (`user:usr_…`), so pages can name people as people.
pub fn emails_by_label(
    conn: &mut DbConn,
    org_id: &OrgId,
) -> QueryResult<std::collections::HashMap<String, String>> {
    Ok(members_of(conn, org_id)?
        .into_iter()
        .map(|(user, _)| (user.label(), user.email))
        .collect())
}

/// Every membership of every person, oldest first (the operator's listing).
pub fn members_of_any_org(conn: &mut DbConn) -> QueryResult<Vec<(User, Membership)>> {
    users::table
        .inner_join(memberships::table)
        .order((memberships::created_at.asc(), users::id.asc()))
        .select((User::as_select(), Membership::as_select()))
        .load(conn)
}

/// Holds the organization's row until the transaction ends (PostgreSQL: `SELECT …
/// FOR UPDATE`; SQLite: its one writer already runs one write at a time), so that
/// membership changes of one organization are decided one after another — the
/// "last owner" rule reads the owners and writes in one step. `false`: no such
/// organization.
pub fn lock_org(conn: &mut DbConn, org_id: &OrgId) -> QueryResult<bool> {
    let row = organizations::table.find(org_id).select(organizations::id);
    let found = match conn {
        DbConn::Postgres(c) => row.for_update().first::<OrgId>(c).optional()?,
        DbConn::Sqlite(c) => row.first::<OrgId>(c).optional()?,
    };
    Ok(found.is_some())
}

/// How many owners `org_id` has.
pub fn count_owners(conn: &mut DbConn, org_id: &OrgId) -> QueryResult<i64> {
    memberships::table
        .filter(memberships::org_id.eq(org_id))
        .filter(memberships::role.eq(Role::Owner.as_str()))
        .count()
        .get_result(conn)
}

pub fn set_role(
    conn: &mut DbConn,
    user_id: &UserId,
    org_id: &OrgId,
    role: Role,
) -> QueryResult<usize> {
    diesel::update(memberships::table.find((user_id, org_id)))
        .set(memberships::role.eq(role.as_str()))
        .execute(conn)
}

pub fn remove_membership(
    conn: &mut DbConn,
    user_id: &UserId,
    org_id: &OrgId,
) -> QueryResult<usize> {
    diesel::delete(memberships::table.find((user_id, org_id))).execute(conn)
}

/// Ends every open session of the person in `org_id`; how many.
pub fn end_sessions_in_org(
    conn: &mut DbConn,
    user_id: &UserId,
    org_id: &OrgId,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(
        user_sessions::table
            .filter(user_sessions::user_id.eq(user_id))
            .filter(user_sessions::org_id.eq(org_id))
            .filter(user_sessions::ended_at.is_null()),
    )
    .set(user_sessions::ended_at.eq(now))
    .execute(conn)
}

/// Sets the password hash, now.
pub fn set_password(
    conn: &mut DbConn,
    user_id: &UserId,
    password_hash: &str,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(users::table.find(user_id))
        .set((
            users::password_hash.eq(password_hash),
            users::password_changed_at.eq(now),
        ))
        .execute(conn)
}

/// Disables the person; `false` if they were already disabled (or do not exist).
pub fn disable(conn: &mut DbConn, user_id: &UserId, now: NaiveDateTime) -> QueryResult<bool> {
    let changed = diesel::update(
        users::table
            .find(user_id)
            .filter(users::disabled_at.is_null()),
    )
    .set(users::disabled_at.eq(now))
    .execute(conn)?;
    Ok(changed == 1)
}

pub fn create_token(conn: &mut DbConn, token: &UserToken) -> QueryResult<()> {
    diesel::insert_into(user_tokens::table)
        .values(token)
        .execute(conn)
        .map(|_| ())
}

/// Spends the unused, unexpired token with this digest: exactly one caller wins (a
/// conditional update counted by the database); the winner gets the token's row,
/// everyone else `None`.
pub fn use_token(
    conn: &mut DbConn,
    token_hash: &str,
    now: NaiveDateTime,
) -> QueryResult<Option<UserToken>> {
    let spent = diesel::update(
        user_tokens::table
            .find(token_hash)
            .filter(user_tokens::used_at.is_null())
            .filter(user_tokens::expires_at.gt(now)),
    )
    .set(user_tokens::used_at.eq(now))
    .execute(conn)?;
    if spent != 1 {
        return Ok(None);
    }
    user_tokens::table
        .find(token_hash)
        .select(UserToken::as_select())
        .get_result(conn)
        .optional()
}

/// Spends every unused token of `user_id`: once a password is set, no older link
/// sets another.
pub fn spend_tokens_of(
    conn: &mut DbConn,
    user_id: &UserId,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(
        user_tokens::table
            .filter(user_tokens::user_id.eq(user_id))
            .filter(user_tokens::used_at.is_null()),
    )
    .set(user_tokens::used_at.eq(now))
    .execute(conn)
}

/// Whether a token of `purpose` was made for `user_id` after `since`.
pub fn token_issued_since(
    conn: &mut DbConn,
    user_id: &UserId,
    purpose: Purpose,
    since: NaiveDateTime,
) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        user_tokens::table
            .filter(user_tokens::user_id.eq(user_id))
            .filter(user_tokens::purpose.eq(purpose.as_str()))
            .filter(user_tokens::created_at.gt(since)),
    ))
    .get_result(conn)
}

pub fn create_session(conn: &mut DbConn, session: &UserSession) -> QueryResult<()> {
    diesel::insert_into(user_sessions::table)
        .values(session)
        .execute(conn)
        .map(|_| ())
}

/// The session whose token has this digest, ended or not.
pub fn session_by_token_hash(
    conn: &mut DbConn,
    token_hash: &str,
) -> QueryResult<Option<UserSession>> {
    user_sessions::table
        .filter(user_sessions::token_hash.eq(token_hash))
        .select(UserSession::as_select())
        .get_result(conn)
        .optional()
}

pub fn find_session(conn: &mut DbConn, id: &SessionId) -> QueryResult<Option<UserSession>> {
    user_sessions::table
        .find(id)
        .select(UserSession::as_select())
        .get_result(conn)
        .optional()
}

/// Moves the session's `last_seen_at` to `now` — forward only: two requests may
/// touch it at once, and the later commit may carry the earlier time.
pub fn touch_session(conn: &mut DbConn, id: &SessionId, now: NaiveDateTime) -> QueryResult<()> {
    diesel::update(
        user_sessions::table
            .find(id)
            .filter(user_sessions::last_seen_at.lt(now)),
    )
    .set(user_sessions::last_seen_at.eq(now))
    .execute(conn)
    .map(|_| ())
}

/// Ends the session `id`; `false` if it had ended already.
pub fn end_session(conn: &mut DbConn, id: &SessionId, now: NaiveDateTime) -> QueryResult<bool> {
    let ended = diesel::update(
        user_sessions::table
            .find(id)
            .filter(user_sessions::ended_at.is_null()),
    )
    .set(user_sessions::ended_at.eq(now))
    .execute(conn)?;
    Ok(ended == 1)
}

/// Ends every open session of the person; how many.
pub fn end_sessions_of(
    conn: &mut DbConn,
    user_id: &UserId,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(
        user_sessions::table
            .filter(user_sessions::user_id.eq(user_id))
            .filter(user_sessions::ended_at.is_null()),
    )
    .set(user_sessions::ended_at.eq(now))
    .execute(conn)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::orgs;
    use crate::store::test_support::memory_conn;

    fn org(conn: &mut DbConn, slug: &str, now: NaiveDateTime) -> OrgId {
        let new = orgs::model::NewOrganization::new(slug, slug, now);
        orgs::repo::create(conn, &new).unwrap().id
    }

    #[test]
    fn users_and_memberships_round_trip() {
        let mut conn = memory_conn();
        let now = chrono::Utc::now().naive_utc();
        let (acme, beta) = (org(&mut conn, "acme", now), org(&mut conn, "beta", now));
        let new = NewUser::new("Ada@Example.com", Some("Ada"), now);
        let ada = create(&mut conn, &new).unwrap();
        assert!(ada.id.as_str().starts_with("usr_") && ada.password_hash.is_none());
        assert_eq!(
            find_by_email(&mut conn, "ada@EXAMPLE.com")
                .unwrap()
                .map(|u| u.id),
            Some(ada.id.clone())
        );
        let again = NewUser::new("ADA@example.com", None, now);
        assert!(
            create(&mut conn, &again).is_err(),
            "emails are unique in any case"
        );
        let later = now + chrono::Duration::seconds(1);
        add_membership(
            &mut conn,
            &Membership::new(&ada.id, &beta, Role::Viewer, later),
        )
        .unwrap();
        add_membership(
            &mut conn,
            &Membership::new(&ada.id, &acme, Role::Owner, now),
        )
        .unwrap();
        let first = &memberships_of(&mut conn, &ada.id).unwrap()[0];
        assert_eq!((&first.org_id, first.role()), (&acme, Role::Owner));
        assert_eq!(
            membership(&mut conn, &ada.id, &beta)
                .unwrap()
                .unwrap()
                .role(),
            Role::Viewer
        );
        let members = members_of(&mut conn, &acme).unwrap();
        assert_eq!(members.len(), 1);
        assert_eq!(members[0].0.email, "Ada@Example.com");
        assert_eq!(members_of_any_org(&mut conn).unwrap().len(), 2);
        assert_eq!(
            set_password(&mut conn, &ada.id, "$argon2id$x", now).unwrap(),
            1
        );
        assert!(disable(&mut conn, &ada.id, now).unwrap());
        assert!(!disable(&mut conn, &ada.id, now).unwrap(), "once");
        let ada = find(&mut conn, &ada.id).unwrap().unwrap();
        assert!(ada.is_disabled() && ada.password_hash.is_some());
    }

    #[test]
    fn a_token_is_spent_once_and_not_after_it_expires() {
        let mut conn = memory_conn();
        let now = chrono::Utc::now().naive_utc();
        let user = create(&mut conn, &NewUser::new("a@b.c", None, now)).unwrap();
        for (hash, expires_at) in [("h1", now + chrono::Duration::hours(1)), ("h2", now)] {
            let token = UserToken {
                token_hash: hash.into(),
                user_id: user.id.clone(),
                purpose: Purpose::Setup.as_str().into(),
                created_at: now,
                expires_at,
                used_at: None,
            };
            create_token(&mut conn, &token).unwrap();
        }
        assert!(use_token(&mut conn, "h1", now).unwrap().is_some());
        assert!(use_token(&mut conn, "h1", now).unwrap().is_none());
        assert!(use_token(&mut conn, "h2", now).unwrap().is_none());
    }
}
