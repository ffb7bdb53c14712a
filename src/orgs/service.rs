//! The organization use cases — create one, move one to another tier (the operator's),
//! rename one, require a second factor of its members (its admins', through
//! `/v1/organization`, the dashboard's settings and `keygate org`). Each takes the
//! connection of the caller's store turn, the actor, the input and `now`, and commits
//! the change with its audit event (in the organization's own log) in one
//! transaction; a change to what it already is records nothing.

use std::collections::BTreeMap;

use chrono::NaiveDateTime;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel::Connection;

use super::model::{NewOrganization, Organization};
use super::repo;
use crate::audit::{self, Change, Diff, Target};
use crate::identity::authority::{Actor, AuthorityError};
use crate::ids::OrgId;
use crate::limits::tiers::TierLimit;
use crate::store::{DbConn, StoreError};

/// Why an organization use case refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum OrgError {
    #[error("organization slug must be 1-64 characters of a-z, 0-9 and '-'")]
    InvalidSlug,
    #[error("organization name must be 1 to 200 characters without control characters")]
    InvalidName,
    #[error("tier '{tier}' is not configured; known tiers: {known}")]
    UnknownTier { tier: String, known: String },
    #[error("organization '{0}' already exists")]
    Exists(String),
    #[error("organization '{0}' does not exist")]
    NotFound(String),
    /// The actor lacks what the change needs (`admin`).
    #[error(transparent)]
    Authority(#[from] AuthorityError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<DieselError> for OrgError {
    fn from(error: DieselError) -> Self {
        Self::Store(error.into())
    }
}

/// A new organization with slug `slug` on `tier`, one of `tiers` (the configured).
pub fn create(
    conn: &mut DbConn,
    actor: &Actor,
    slug: &str,
    name: &str,
    tier: &str,
    tiers: &BTreeMap<String, TierLimit>,
    now: NaiveDateTime,
) -> Result<Organization, OrgError> {
    validate_slug(slug)?;
    let name = validate_name(name)?;
    validate_tier(tier, tiers)?;
    let mut new = NewOrganization::new(slug, name, now);
    new.tier = tier.to_owned();
    conn.transaction(|c| {
        let org = repo::create(c, &new).map_err(|error| match error {
            DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _) => {
                OrgError::Exists(slug.to_owned())
            }
            other => other.into(),
        })?;
        let change = Change::OrganizationCreated {
            slug: &org.slug,
            name: &org.name,
            tier: &org.tier,
        };
        audit::repo::record(c, target(&org), actor.by(), change, now)?;
        Ok(org)
    })
}

/// Moves the organization `slug` to `tier`: its limits change at once, everywhere.
/// Moving it to the tier it is on records nothing.
pub fn set_tier(
    conn: &mut DbConn,
    actor: &Actor,
    slug: &str,
    tier: &str,
    tiers: &BTreeMap<String, TierLimit>,
    now: NaiveDateTime,
) -> Result<Organization, OrgError> {
    validate_tier(tier, tiers)?;
    conn.transaction(|c| {
        let before =
            repo::find_by_slug(c, slug)?.ok_or_else(|| OrgError::NotFound(slug.to_owned()))?;
        let after =
            repo::set_tier(c, slug, tier)?.ok_or_else(|| OrgError::NotFound(slug.to_owned()))?;
        let diff = Diff::default().field("tier", &before.tier, &after.tier);
        if !diff.is_empty() {
            let change = Change::OrganizationTierChanged(diff);
            audit::repo::record(c, target(&after), actor.by(), change, now)?;
        }
        Ok(after)
    })
}

/// Renames the organization `org_id` (1 to 200 characters, no control characters,
/// trimmed). A bounded actor needs `admin` and sees only its own organization.
pub fn rename(
    conn: &mut DbConn,
    actor: &Actor,
    org_id: &OrgId,
    name: &str,
    now: NaiveDateTime,
) -> Result<Organization, OrgError> {
    may_change(actor, org_id)?;
    let name = validate_name(name)?;
    conn.transaction(|c| {
        let before = repo::find(c, org_id)?.ok_or_else(|| not_found(org_id))?;
        if before.name == name {
            return Ok(before);
        }
        let after = repo::set_name(c, org_id, name)?.ok_or_else(|| not_found(org_id))?;
        let diff = Diff::default().field("name", &before.name, &after.name);
        let change = Change::OrganizationRenamed(diff);
        audit::repo::record(c, target(&after), actor.by(), change, now)?;
        Ok(after)
    })
}

/// Sets whether the members of `org_id` must sign in with a second factor (one
/// without is sent to enrol at sign-in). A bounded actor needs `admin` and sees only
/// its own organization.
pub fn set_second_factor_required(
    conn: &mut DbConn,
    actor: &Actor,
    org_id: &OrgId,
    required: bool,
    now: NaiveDateTime,
) -> Result<Organization, OrgError> {
    may_change(actor, org_id)?;
    conn.transaction(|c| {
        let before = repo::find(c, org_id)?.ok_or_else(|| not_found(org_id))?;
        if before.second_factor_required == required {
            return Ok(before);
        }
        let after = repo::set_second_factor_required(c, org_id, required)?
            .ok_or_else(|| not_found(org_id))?;
        let diff = Diff::default().field(
            "second_factor_required",
            &before.second_factor_required,
            &after.second_factor_required,
        );
        let change = Change::OrganizationSecondFactorRequirementChanged(diff);
        audit::repo::record(c, target(&after), actor.by(), change, now)?;
        Ok(after)
    })
}

/// The organization `org_id` as `actor` may see it: another organization is, to a
/// bounded actor, one that does not exist.
pub fn find(conn: &mut DbConn, actor: &Actor, org_id: &OrgId) -> Result<Organization, OrgError> {
    if !actor.sees(org_id) {
        return Err(not_found(org_id));
    }
    repo::find(conn, org_id)?.ok_or_else(|| not_found(org_id))
}

/// What changing an organization's settings asks of the actor: that it sees the
/// organization, then that it holds `admin`.
fn may_change(actor: &Actor, org_id: &OrgId) -> Result<(), OrgError> {
    if !actor.sees(org_id) {
        return Err(not_found(org_id));
    }
    actor.require_admin()?;
    Ok(())
}

fn not_found(org_id: &OrgId) -> OrgError {
    OrgError::NotFound(org_id.as_str().to_owned())
}

/// An organization's events are in its own log, about itself.
fn target(org: &Organization) -> Target<'_> {
    Target {
        org_id: &org.id,
        id: org.id.as_str(),
    }
}

fn validate_slug(slug: &str) -> Result<(), OrgError> {
    let ok = !slug.is_empty()
        && slug.len() <= 64
        && slug
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if ok {
        Ok(())
    } else {
        Err(OrgError::InvalidSlug)
    }
}

fn validate_name(name: &str) -> Result<&str, OrgError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 200 || name.chars().any(char::is_control) {
        return Err(OrgError::InvalidName);
    }
    Ok(name)
}

fn validate_tier(tier: &str, tiers: &BTreeMap<String, TierLimit>) -> Result<(), OrgError> {
    if tiers.contains_key(tier) {
        return Ok(());
    }
    Err(OrgError::UnknownTier {
        tier: tier.to_owned(),
        known: tiers.keys().cloned().collect::<Vec<_>>().join(", "),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::test_support::memory_conn;

    fn tiers() -> BTreeMap<String, TierLimit> {
        let tiers = crate::limits::default_tiers();
        assert!(tiers.contains_key("free") && tiers.contains_key("pro"));
        tiers
    }

    #[test]
    fn an_organization_is_created_once_and_moved_between_configured_tiers() {
        let mut conn = memory_conn();
        let (cli, now) = (Actor::operator("cli"), chrono::Utc::now().naive_utc());
        let org = create(&mut conn, &cli, "acme", " Acme ", "free", &tiers(), now).unwrap();
        assert_eq!((org.name.as_str(), org.tier.as_str()), ("Acme", "free"));
        let again = create(&mut conn, &cli, "acme", "Acme", "free", &tiers(), now);
        assert!(matches!(again, Err(OrgError::Exists(slug)) if slug == "acme"));
        let moved = set_tier(&mut conn, &cli, "acme", "pro", &tiers(), now).unwrap();
        assert_eq!(moved.tier, "pro");
        let unknown = set_tier(&mut conn, &cli, "acme", "gold", &tiers(), now).unwrap_err();
        assert_eq!(
            unknown.to_string(),
            "tier 'gold' is not configured; known tiers: enterprise, free, pro"
        );
        let missing = set_tier(&mut conn, &cli, "nope", "pro", &tiers(), now);
        assert!(matches!(missing, Err(OrgError::NotFound(_))));
    }

    fn bounded(org: &Organization, scopes: &str) -> Actor {
        let scopes = crate::scope::ScopeSet::parse(scopes).unwrap();
        let source = crate::audit::Source(None);
        Actor::bounded("key:key_1".into(), source, &org.id, scopes, None, None)
    }

    fn events(conn: &mut DbConn, org: &Organization) -> Vec<String> {
        let filter = audit::repo::EventFilter::of_org(org.id.clone(), 100);
        audit::repo::list(conn, &filter)
            .unwrap()
            .into_iter()
            .map(|e| e.event_type)
            .collect()
    }

    #[test]
    fn an_admin_renames_and_requires_a_second_factor_once_each() {
        let mut conn = memory_conn();
        let (cli, now) = (Actor::operator("cli"), chrono::Utc::now().naive_utc());
        let org = create(&mut conn, &cli, "acme", "Acme", "free", &tiers(), now).unwrap();
        let admin = bounded(&org, "read admin");
        let renamed = rename(&mut conn, &admin, &org.id, " Acme Ltd ", now).unwrap();
        assert_eq!(renamed.name, "Acme Ltd");
        let same = rename(&mut conn, &admin, &org.id, "Acme Ltd", now).unwrap();
        assert_eq!(same.name, "Acme Ltd");
        let on = set_second_factor_required(&mut conn, &admin, &org.id, true, now).unwrap();
        assert!(on.second_factor_required);
        set_second_factor_required(&mut conn, &admin, &org.id, true, now).unwrap();
        let types = events(&mut conn, &org);
        let count = |t: &str| types.iter().filter(|e| *e == t).count();
        assert_eq!(count("organization.renamed"), 1, "{types:?}");
        assert_eq!(
            count("organization.second_factor_requirement_changed"),
            1,
            "{types:?}"
        );
        for name in ["", "a\u{1b}[2J", &"n".repeat(201)] {
            let refused = rename(&mut conn, &admin, &org.id, name, now);
            assert!(matches!(refused, Err(OrgError::InvalidName)), "{name:?}");
        }
    }

    #[test]
    fn a_reader_or_another_organization_changes_nothing() {
        let mut conn = memory_conn();
        let (cli, now) = (Actor::operator("cli"), chrono::Utc::now().naive_utc());
        let org = create(&mut conn, &cli, "acme", "Acme", "free", &tiers(), now).unwrap();
        let other = create(&mut conn, &cli, "beta", "Beta", "free", &tiers(), now).unwrap();
        let reader = bounded(&org, "read");
        let refused = rename(&mut conn, &reader, &org.id, "Mine", now);
        assert!(matches!(refused, Err(OrgError::Authority(_))));
        let refused = set_second_factor_required(&mut conn, &reader, &org.id, true, now);
        assert!(matches!(refused, Err(OrgError::Authority(_))));
        let foreign = bounded(&other, "read admin");
        let refused = rename(&mut conn, &foreign, &org.id, "Mine", now);
        assert!(matches!(refused, Err(OrgError::NotFound(_))));
        assert!(matches!(
            find(&mut conn, &foreign, &org.id),
            Err(OrgError::NotFound(_))
        ));
        let unchanged = find(&mut conn, &cli, &org.id).unwrap();
        assert_eq!(unchanged.name, "Acme");
        assert!(!unchanged.second_factor_required);
    }

    #[test]
    fn slugs_and_names_are_checked() {
        let mut conn = memory_conn();
        let (cli, now) = (Actor::operator("cli"), chrono::Utc::now().naive_utc());
        let long = "a".repeat(65);
        for slug in ["", "Acme", "a b", "a_b", long.as_str()] {
            let refused = create(&mut conn, &cli, slug, "n", "free", &tiers(), now);
            assert!(matches!(refused, Err(OrgError::InvalidSlug)), "{slug:?}");
        }
        for name in ["", "  ", "a\u{7}b"] {
            let refused = create(&mut conn, &cli, "ok", name, "free", &tiers(), now);
            assert!(matches!(refused, Err(OrgError::InvalidName)), "{name:?}");
        }
    }
}
