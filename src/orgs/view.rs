//! How an organization is shown: `/v1/organization`, `keygate org` and the
//! dashboard's settings show the same fields.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::model::Organization;

#[derive(Serialize, utoipa::ToSchema)]
pub struct OrgView<'a> {
    pub id: &'a str,
    #[schema(example = "default")]
    pub slug: &'a str,
    /// 1 to 200 characters, no control characters.
    pub name: &'a str,
    /// Set by the operator (`keygate org set-tier`); it sets the rate limits.
    #[schema(example = "free")]
    pub tier: &'a str,
    /// Whether members must sign in with a second factor (TOTP).
    pub second_factor_required: bool,
    pub created_at: DateTime<Utc>,
}

impl<'a> OrgView<'a> {
    pub fn new(org: &'a Organization) -> Self {
        Self {
            id: org.id.as_str(),
            slug: &org.slug,
            name: &org.name,
            tier: &org.tier,
            second_factor_required: org.second_factor_required,
            created_at: org.created_at.and_utc(),
        }
    }
}
