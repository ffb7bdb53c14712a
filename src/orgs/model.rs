use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::store::schema::organizations;
use crate::tokens::TokenKind;

/// The organization created on an empty database and used when none is named.
pub const DEFAULT_ORG_SLUG: &str = "default";

/// An organization's id (`org_…`), as stored in `organizations.id`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct OrgId(pub String);

impl OrgId {
    pub fn generate() -> Self {
        Self(TokenKind::OrgId.with_suffix(uuid::Uuid::new_v4().simple()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[derive(Clone, Debug, Queryable, Selectable)]
#[diesel(table_name = organizations)]
pub struct Organization {
    pub id: String,
    pub slug: String,
    pub name: String,
    pub tier: String,
    pub created_at: NaiveDateTime,
}

impl Organization {
    pub fn id(&self) -> OrgId {
        OrgId(self.id.clone())
    }
}

#[derive(Debug, Insertable)]
#[diesel(table_name = organizations)]
pub struct NewOrganization {
    pub id: String,
    pub slug: String,
    pub name: String,
    pub tier: String,
    pub created_at: NaiveDateTime,
}

impl NewOrganization {
    pub fn new(slug: &str, name: &str, now: NaiveDateTime) -> Self {
        Self {
            id: OrgId::generate().0,
            slug: slug.to_owned(),
            name: name.to_owned(),
            tier: "free".to_owned(),
            created_at: now,
        }
    }
}
