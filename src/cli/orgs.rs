//! `keygate org …`: create organizations, list them, move one to another tier.

use anyhow::Context;
use chrono::Utc;
use clap::Subcommand;

use crate::config::Settings;
use crate::orgs::{self, model::NewOrganization};
use crate::startup::open_store;
use crate::store::StoreError;

#[derive(Subcommand)]
pub enum OrgCommand {
    Create {
        #[arg(long)]
        slug: String,
        #[arg(long)]
        name: String,
        /// A tier from the settings' [tiers.*] (default: free).
        #[arg(long, default_value = crate::limits::FALLBACK_TIER)]
        tier: String,
    },
    /// Move an organization to another tier (its limits change at once, everywhere).
    SetTier {
        slug: String,
        tier: String,
    },
    List,
}

pub(super) async fn run(
    command: OrgCommand,
    settings: Settings,
) -> anyhow::Result<serde_json::Value> {
    match command {
        OrgCommand::Create { slug, name, tier } => create(&settings, slug, name, tier).await,
        OrgCommand::SetTier { slug, tier } => set_tier(&settings, slug, tier).await,
        OrgCommand::List => list(&settings).await,
    }
}

async fn create(
    settings: &Settings,
    slug: String,
    name: String,
    tier: String,
) -> anyhow::Result<serde_json::Value> {
    validate_slug(&slug)?;
    validate_tier(settings, &tier)?;
    let store = open_store(settings)?;
    let now = Utc::now().naive_utc();
    let new_slug = slug.clone();
    let org = store
        .write(move |tx| {
            let mut new = NewOrganization::new(&new_slug, &name, now);
            new.tier = tier;
            orgs::repo::create(tx, &new).map_err(StoreError::from)
        })
        .await
        .map_err(|e| match e {
            StoreError::Query(diesel::result::Error::DatabaseError(
                diesel::result::DatabaseErrorKind::UniqueViolation,
                _,
            )) => anyhow::anyhow!("organization '{slug}' already exists"),
            other => other.into(),
        })?;
    Ok(serde_json::json!({"id": org.id, "slug": org.slug, "name": org.name, "tier": org.tier}))
}

/// `keygate org set-tier SLUG TIER`.
async fn set_tier(
    settings: &Settings,
    slug: String,
    tier: String,
) -> anyhow::Result<serde_json::Value> {
    validate_tier(settings, &tier)?;
    let store = open_store(settings)?;
    let org = store
        .write(move |tx| -> anyhow::Result<_> {
            orgs::repo::set_tier(tx, &slug, &tier)?
                .with_context(|| format!("organization '{slug}' does not exist"))
        })
        .await?;
    Ok(serde_json::json!({"id": org.id, "slug": org.slug, "name": org.name, "tier": org.tier}))
}

fn validate_tier(settings: &Settings, tier: &str) -> anyhow::Result<()> {
    anyhow::ensure!(
        settings.tiers.contains_key(tier),
        "tier '{tier}' is not configured; known tiers: {}",
        settings
            .tiers
            .keys()
            .cloned()
            .collect::<Vec<_>>()
            .join(", ")
    );
    Ok(())
}

async fn list(settings: &Settings) -> anyhow::Result<serde_json::Value> {
    let store = open_store(settings)?;
    let orgs = store
        .read(|tx| orgs::repo::list(tx).map_err(StoreError::from))
        .await?;
    Ok(serde_json::Value::Array(
        orgs.into_iter()
            .map(
                |o| serde_json::json!({"id": o.id, "slug": o.slug, "name": o.name, "tier": o.tier}),
            )
            .collect(),
    ))
}

fn validate_slug(slug: &str) -> anyhow::Result<()> {
    let ok = !slug.is_empty()
        && slug.len() <= 64
        && slug
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    anyhow::ensure!(
        ok,
        "organization slug must be 1-64 characters of a-z, 0-9 and '-'"
    );
    Ok(())
}
