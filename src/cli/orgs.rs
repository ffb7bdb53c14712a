//! `keygate org …`: create organizations, list them, move one to another tier,
//! rename one, require a second factor of its members — through the organization
//! use cases (`orgs::service`), as the operator.

use chrono::Utc;
use clap::Subcommand;

use crate::config::Settings;
use crate::identity::authority::Actor;
use crate::orgs::{self, service, OrgError, OrgView};
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
    /// Rename an organization (1 to 200 characters).
    Rename {
        slug: String,
        name: String,
    },
    /// Require members of an organization to sign in with a second factor (TOTP);
    /// `--off` lifts the requirement.
    RequireSecondFactor {
        slug: String,
        #[arg(long)]
        off: bool,
    },
}

pub(super) async fn run(
    command: OrgCommand,
    settings: Settings,
) -> anyhow::Result<serde_json::Value> {
    match command {
        OrgCommand::Create { slug, name, tier } => create(&settings, slug, name, tier).await,
        OrgCommand::SetTier { slug, tier } => set_tier(&settings, slug, tier).await,
        OrgCommand::List => list(&settings).await,
        OrgCommand::Rename { slug, name } => rename(&settings, slug, name).await,
        OrgCommand::RequireSecondFactor { slug, off } => {
            require_second_factor(&settings, slug, !off).await
        }
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

/// `keygate org rename SLUG NAME`.
async fn rename(
    settings: &Settings,
    slug: String,
    name: String,
) -> anyhow::Result<serde_json::Value> {
    let store = open_store(settings)?;
    let now = Utc::now().naive_utc();
    let org = store
        .write(move |tx| {
            let org = by_slug(tx, &slug)?;
            service::rename(tx, &Actor::operator("cli"), &org.id, &name, now)
        })
        .await?;
    Ok(serde_json::to_value(OrgView::new(&org))?)
}

/// `keygate org require-second-factor SLUG [--off]`.
async fn require_second_factor(
    settings: &Settings,
    slug: String,
    required: bool,
) -> anyhow::Result<serde_json::Value> {
    let store = open_store(settings)?;
    let now = Utc::now().naive_utc();
    let org = store
        .write(move |tx| {
            let org = by_slug(tx, &slug)?;
            let cli = Actor::operator("cli");
            service::set_second_factor_required(tx, &cli, &org.id, required, now)
        })
        .await?;
    Ok(serde_json::to_value(OrgView::new(&org))?)
}

fn by_slug(tx: &mut crate::store::DbConn, slug: &str) -> Result<orgs::Organization, OrgError> {
    orgs::repo::find_by_slug(tx, slug)?.ok_or_else(|| OrgError::NotFound(slug.to_owned()))
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
