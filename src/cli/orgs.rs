//! `keygate org …`: create organizations, list them, move one to another tier,
//! through the organization use cases (`orgs::service`).

use chrono::Utc;
use clap::Subcommand;

use crate::config::Settings;
use crate::identity::authority::Actor;
use crate::orgs::{self, service, OrgView};
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
    let store = open_store(settings)?;
    let tiers = settings.tiers.clone();
    let now = Utc::now().naive_utc();
    let org = store
        .write(move |tx| {
            service::create(
                tx,
                &Actor::operator("cli"),
                &slug,
                &name,
                &tier,
                &tiers,
                now,
            )
        })
        .await?;
    Ok(serde_json::to_value(OrgView::new(&org))?)
}

/// `keygate org set-tier SLUG TIER`.
async fn set_tier(
    settings: &Settings,
    slug: String,
    tier: String,
) -> anyhow::Result<serde_json::Value> {
    let store = open_store(settings)?;
    let tiers = settings.tiers.clone();
    let now = Utc::now().naive_utc();
    let org = store
        .write(move |tx| service::set_tier(tx, &Actor::operator("cli"), &slug, &tier, &tiers, now))
        .await?;
    Ok(serde_json::to_value(OrgView::new(&org))?)
}

async fn list(settings: &Settings) -> anyhow::Result<serde_json::Value> {
    let store = open_store(settings)?;
    let orgs = store
        .read(|tx| orgs::repo::list(tx).map_err(StoreError::from))
        .await?;
    Ok(serde_json::to_value(
        orgs.iter().map(OrgView::new).collect::<Vec<_>>(),
    )?)
}
