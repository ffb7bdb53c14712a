use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::ids::OrgId;
use crate::store::schema::organizations;

/// The organization created on an empty database and used when none is named.
pub const DEFAULT_ORG_SLUG: &str = "default";

#[derive(Clone, Debug, Queryable, Selectable)]
#[diesel(table_name = organizations)]
pub struct Organization {
    pub id: OrgId,
    pub slug: String,
    pub name: String,
    pub tier: String,
    pub created_at: NaiveDateTime,
    /// Whether its members must sign in with a second factor (TOTP); one without
    /// is sent to enrol before any other page.
    pub second_factor_required: bool,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = organizations)]
pub struct NewOrganization {
    pub id: OrgId,
    pub slug: String,
    pub name: String,
    pub tier: String,
    pub created_at: NaiveDateTime,
}

impl NewOrganization {
    pub fn new(slug: &str, name: &str, now: NaiveDateTime) -> Self {
        Self {
            id: OrgId::generate(),
            slug: slug.to_owned(),
            name: name.to_owned(),
            tier: "free".to_owned(),
            created_at: now,
        }
    }
}
