//! `keygate signing-key …`: the on-disk signing-key lifecycle (generate, activate,
//! retire, remove), each step recorded in the audit log.

use anyhow::Context;
use chrono::Utc;
use clap::Subcommand;

use crate::audit::{self, By, Change, SigningKeyStep, Target};
use crate::config::Settings;
use crate::orgs;
use crate::startup::open_store;
use crate::store::Store;
use crate::tokens::signing_keys::{self, KeyAlg};

/// A `kid` is a base64url thumbprint and may begin with `-`, so KID arguments accept
/// leading hyphens as values.
#[derive(Subcommand)]
pub enum KeyCommand {
    /// Generate a key: active if none is, else pending (published, not signing).
    Generate {
        #[arg(long, default_value = "ES256")]
        alg: KeyAlg,
    },
    List,
    /// Make a pending key the signing key; the previous one is retired.
    Activate {
        #[arg(allow_hyphen_values = true)]
        kid: String,
    },
    /// Stop a pending key from ever signing (the active key: activate another first).
    Retire {
        #[arg(allow_hyphen_values = true)]
        kid: String,
    },
    /// Delete a retired key once every token it signed has expired.
    Remove {
        #[arg(allow_hyphen_values = true)]
        kid: String,
    },
}

pub(super) async fn run(
    command: KeyCommand,
    settings: Settings,
) -> anyhow::Result<serde_json::Value> {
    match command {
        KeyCommand::Generate { alg } => generate(&settings, alg).await,
        KeyCommand::List => Ok(serde_json::to_value(signing_keys::read_metas(
            &settings.keys_dir,
        )?)?),
        KeyCommand::Activate { kid } => activate(&settings, &kid).await,
        KeyCommand::Retire { kid } => retire(&settings, &kid).await,
        KeyCommand::Remove { kid } => remove(&settings, &kid).await,
    }
}

async fn generate(settings: &Settings, alg: KeyAlg) -> anyhow::Result<serde_json::Value> {
    let meta = signing_keys::generate(&settings.keys_dir, alg, Utc::now())?;
    let view = serde_json::to_value(&meta)?;
    let store = open_store(settings)?;
    record_signing_key_event(
        &store,
        SigningKeyStep::Generated,
        "cli",
        &meta.kid,
        view.clone(),
    )
    .await?;
    Ok(view)
}

/// Signing keys belong to the whole server; their events go to the default
/// organization's log.
pub async fn record_signing_key_event(
    store: &Store,
    step: SigningKeyStep,
    actor: &str,
    kid: &str,
    key: serde_json::Value,
) -> anyhow::Result<()> {
    let now = Utc::now().naive_utc();
    let (actor, kid) = (actor.to_owned(), kid.to_owned());
    store
        .write(move |tx| -> anyhow::Result<()> {
            let (org, _) = orgs::repo::ensure_default(tx, now)?;
            let target = Target {
                org_id: &org.id,
                id: &kid,
            };
            let change = Change::SigningKey { step, key };
            audit::repo::record(tx, target, By::operator(&actor), change, now)?;
            Ok(())
        })
        .await
        .context("recording the signing-key event in the audit log")
}

async fn activate(settings: &Settings, kid: &str) -> anyhow::Result<serde_json::Value> {
    let previous = active_kid(settings)?;
    let view = serde_json::to_value(signing_keys::activate(&settings.keys_dir, kid, Utc::now())?)?;
    let store = open_store(settings)?;
    record_signing_key_event(&store, SigningKeyStep::Activated, "cli", kid, view.clone()).await?;
    // Activation retires the key that signed until now.
    if let Some(previous) = previous.filter(|p| p != kid) {
        let details = serde_json::json!({"retired_by_activating": kid});
        record_signing_key_event(&store, SigningKeyStep::Retired, "cli", &previous, details)
            .await?;
    }
    Ok(view)
}

fn active_kid(settings: &Settings) -> anyhow::Result<Option<String>> {
    Ok(signing_keys::read_metas(&settings.keys_dir)?
        .into_iter()
        .find(|m| m.state == signing_keys::KeyState::Active)
        .map(|m| m.kid))
}

async fn retire(settings: &Settings, kid: &str) -> anyhow::Result<serde_json::Value> {
    let was_retired = signing_keys::read_metas(&settings.keys_dir)?
        .iter()
        .any(|m| m.kid == kid && m.state == signing_keys::KeyState::Retired);
    let view = serde_json::to_value(signing_keys::retire(&settings.keys_dir, kid, Utc::now())?)?;
    if !was_retired {
        let store = open_store(settings)?;
        record_signing_key_event(&store, SigningKeyStep::Retired, "cli", kid, view.clone()).await?;
    }
    Ok(view)
}

async fn remove(settings: &Settings, kid: &str) -> anyhow::Result<serde_json::Value> {
    signing_keys::remove(
        &settings.keys_dir,
        kid,
        settings.access_token_ttl_max,
        Utc::now(),
    )?;
    let view = serde_json::json!({"removed": kid});
    let store = open_store(settings)?;
    record_signing_key_event(&store, SigningKeyStep::Removed, "cli", kid, view.clone()).await?;
    Ok(view)
}
