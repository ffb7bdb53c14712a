//! What the commands' arguments name: durations, and organizations by slug.

use std::time::Duration;

use anyhow::Context;

use crate::ids::OrgId;

/// Parses `--token-ttl 10m` / `--expires-in 90d`.
pub fn parse_duration_arg(text: &str) -> Result<Duration, String> {
    crate::config::parse_duration(text)
}

/// The id of the organization with slug `slug`, or an error naming it.
pub(super) fn org_id_of(conn: &mut crate::store::DbConn, slug: &str) -> anyhow::Result<OrgId> {
    Ok(crate::orgs::repo::find_by_slug(conn, slug)?
        .with_context(|| format!("organization '{slug}' does not exist"))?
        .id)
}
