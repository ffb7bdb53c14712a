//! How an organization is shown.

use serde::Serialize;

use super::model::Organization;

#[derive(Serialize)]
pub struct OrgView<'a> {
    pub id: &'a str,
    pub slug: &'a str,
    pub name: &'a str,
    pub tier: &'a str,
}

impl<'a> OrgView<'a> {
    pub fn new(org: &'a Organization) -> Self {
        Self {
            id: org.id.as_str(),
            slug: &org.slug,
            name: &org.name,
            tier: &org.tier,
        }
    }
}
