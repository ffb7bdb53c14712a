use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::model::{NewOrganization, Organization, DEFAULT_ORG_SLUG};
use crate::ids::OrgId;
use crate::store::schema::organizations;
use crate::store::DbConn;

pub fn find_by_slug(conn: &mut DbConn, slug: &str) -> QueryResult<Option<Organization>> {
    organizations::table
        .filter(organizations::slug.eq(slug))
        .select(Organization::as_select())
        .get_result(conn)
        .optional()
}

/// The organization with id `id`.
pub fn find(conn: &mut DbConn, id: &OrgId) -> QueryResult<Option<Organization>> {
    organizations::table
        .find(id)
        .select(Organization::as_select())
        .get_result(conn)
        .optional()
}

pub fn list(conn: &mut DbConn) -> QueryResult<Vec<Organization>> {
    organizations::table
        .order(organizations::created_at.asc())
        .select(Organization::as_select())
        .load(conn)
}

pub fn create(conn: &mut DbConn, new: &NewOrganization) -> QueryResult<Organization> {
    diesel::insert_into(organizations::table)
        .values(new)
        .execute(conn)?;
    organizations::table
        .find(&new.id)
        .select(Organization::as_select())
        .get_result(conn)
}

/// Moves the organization `slug` to `tier`; `None` if there is no such organization.
pub fn set_tier(conn: &mut DbConn, slug: &str, tier: &str) -> QueryResult<Option<Organization>> {
    diesel::update(organizations::table.filter(organizations::slug.eq(slug)))
        .set(organizations::tier.eq(tier))
        .execute(conn)?;
    find_by_slug(conn, slug)
}

/// Renames the organization `id`; `None` if there is no such organization.
pub fn set_name(conn: &mut DbConn, id: &OrgId, name: &str) -> QueryResult<Option<Organization>> {
    diesel::update(organizations::table.find(id))
        .set(organizations::name.eq(name))
        .execute(conn)?;
    find(conn, id)
}

/// Sets whether the members of `id` must sign in with a second factor; `None` if
/// there is no such organization.
pub fn set_second_factor_required(
    conn: &mut DbConn,
    id: &OrgId,
    required: bool,
) -> QueryResult<Option<Organization>> {
    diesel::update(organizations::table.find(id))
        .set(organizations::second_factor_required.eq(required))
        .execute(conn)?;
    find(conn, id)
}

/// Creates the default organization if the database has none; returns it and whether
/// it was created now. Safe when several instances start at once: the unique slug lets
/// exactly one insert win and the others read the winner's row.
pub fn ensure_default(conn: &mut DbConn, now: NaiveDateTime) -> QueryResult<(Organization, bool)> {
    if let Some(org) = find_by_slug(conn, DEFAULT_ORG_SLUG)? {
        return Ok((org, false));
    }
    match create(
        conn,
        &NewOrganization::new(DEFAULT_ORG_SLUG, "Default", now),
    ) {
        Ok(org) => Ok((org, true)),
        Err(diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::UniqueViolation,
            _,
        )) => {
            let org =
                find_by_slug(conn, DEFAULT_ORG_SLUG)?.ok_or(diesel::result::Error::NotFound)?;
            Ok((org, false))
        }
        Err(other) => Err(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::test_support::memory_conn;

    #[test]
    fn default_org_is_created_once() {
        let mut conn = memory_conn();
        let now = chrono::Utc::now().naive_utc();
        let (first, created) = ensure_default(&mut conn, now).unwrap();
        assert!(created);
        let (again, created) = ensure_default(&mut conn, now).unwrap();
        assert!(!created);
        assert_eq!(first.id, again.id);
        assert_eq!(list(&mut conn).unwrap().len(), 1);
    }

    #[test]
    fn slugs_are_unique() {
        let mut conn = memory_conn();
        let now = chrono::Utc::now().naive_utc();
        create(&mut conn, &NewOrganization::new("acme", "Acme", now)).unwrap();
        assert!(create(&mut conn, &NewOrganization::new("acme", "Acme 2", now)).is_err());
    }
}
