//! The SQL of consents: find, remember (widening the scopes it covers), list, delete,
//! and the liveness check of an access token acting for a person.

use chrono::NaiveDateTime;
use diesel::dsl::exists;
use diesel::prelude::*;

use super::{Consent, ListedConsent};
use crate::ids::{ClientId, OrgId, UserId};
use crate::scope::ScopeSet;
use crate::store::schema::{clients, memberships, oauth_consents, users};
use crate::store::DbConn;
use crate::users::Membership;

pub fn find(
    conn: &mut DbConn,
    user_id: &UserId,
    org_id: &OrgId,
    client_id: &ClientId,
) -> QueryResult<Option<Consent>> {
    oauth_consents::table
        .find((user_id, org_id, client_id))
        .select(Consent::as_select())
        .get_result(conn)
        .optional()
}

/// Remembers that the person allowed `scope`: a new consent, or the scopes added to
/// the one they gave before (a consent only grows until it is withdrawn).
pub fn remember(
    conn: &mut DbConn,
    user_id: &UserId,
    org_id: &OrgId,
    client_id: &ClientId,
    scope: &ScopeSet,
    now: NaiveDateTime,
) -> QueryResult<()> {
    conn.transaction(|c| match find(c, user_id, org_id, client_id)? {
        Some(existing) => {
            let given = ScopeSet::parse(&existing.scope)
                .unwrap_or_default()
                .union(scope);
            diesel::update(oauth_consents::table.find((user_id, org_id, client_id)))
                .set((
                    oauth_consents::scope.eq(given.to_string()),
                    oauth_consents::updated_at.eq(now),
                ))
                .execute(c)
                .map(|_| ())
        }
        None => diesel::insert_into(oauth_consents::table)
            .values(Consent {
                user_id: user_id.clone(),
                org_id: org_id.clone(),
                client_id: client_id.clone(),
                scope: scope.to_string(),
                created_at: now,
                updated_at: now,
            })
            .execute(c)
            .map(|_| ()),
    })
}

/// The consents given in an organization — by `user_id` alone when named — newest
/// first, at most 500.
pub fn listed(
    conn: &mut DbConn,
    org_id: &OrgId,
    user_id: Option<&UserId>,
) -> QueryResult<Vec<ListedConsent>> {
    let mut query = oauth_consents::table
        .inner_join(clients::table)
        .inner_join(users::table)
        .filter(oauth_consents::org_id.eq(org_id.clone()))
        .order(oauth_consents::updated_at.desc())
        .limit(500)
        .select((Consent::as_select(), clients::name, users::email))
        .into_boxed();
    if let Some(user_id) = user_id {
        query = query.filter(oauth_consents::user_id.eq(user_id.clone()));
    }
    let rows: Vec<(Consent, String, String)> = query.load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(consent, client_name, user_email)| ListedConsent {
            consent,
            client_name,
            user_email,
        })
        .collect())
}

pub fn delete(
    conn: &mut DbConn,
    user_id: &UserId,
    org_id: &OrgId,
    client_id: &ClientId,
) -> QueryResult<bool> {
    diesel::delete(oauth_consents::table.find((user_id, org_id, client_id)))
        .execute(conn)
        .map(|n| n == 1)
}

/// Deletes the consents of `user_id` — in `org_id` when named.
pub fn delete_of(
    conn: &mut DbConn,
    user_id: &UserId,
    org_id: Option<&OrgId>,
) -> QueryResult<usize> {
    match org_id {
        Some(org_id) => diesel::delete(
            oauth_consents::table
                .filter(oauth_consents::user_id.eq(user_id.clone()))
                .filter(oauth_consents::org_id.eq(org_id.clone())),
        )
        .execute(conn),
        None => diesel::delete(
            oauth_consents::table.filter(oauth_consents::user_id.eq(user_id.clone())),
        )
        .execute(conn),
    }
}

/// The membership a grant acting for `user_id` in `org_id` through `client_id` draws
/// on and the scopes the consent covers, while the grant may still be used — the
/// person not disabled, still a member, the consent not withdrawn: `None` otherwise.
/// One query.
pub fn live_membership(
    conn: &mut DbConn,
    user_id: &UserId,
    org_id: &OrgId,
    client_id: &ClientId,
) -> QueryResult<Option<(Membership, String)>> {
    memberships::table
        .inner_join(
            oauth_consents::table.on(oauth_consents::user_id
                .eq(memberships::user_id)
                .and(oauth_consents::org_id.eq(memberships::org_id))),
        )
        .filter(memberships::user_id.eq(user_id))
        .filter(memberships::org_id.eq(org_id))
        .filter(oauth_consents::client_id.eq(client_id))
        .filter(exists(
            users::table
                .find(user_id)
                .filter(users::disabled_at.is_null()),
        ))
        .select((Membership::as_select(), oauth_consents::scope))
        .get_result(conn)
        .optional()
}

/// Whether a credential acting for `user_id` in `org_id` through `client_id` may
/// still be used: the person is not disabled, is still a member of the organization,
/// and has not withdrawn the consent — `live_membership`'s one query.
pub fn is_live(
    conn: &mut DbConn,
    user_id: &UserId,
    org_id: &OrgId,
    client_id: &ClientId,
) -> QueryResult<bool> {
    live_membership(conn, user_id, org_id, client_id).map(|live| live.is_some())
}
