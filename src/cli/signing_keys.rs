//! `keygate signing-key …`: the on-disk signing-key lifecycle (generate, activate,
//! retire, remove) through its use cases (`tokens::signing_keys::service`), each
//! step recorded in the audit log.

use chrono::Utc;
use clap::Subcommand;

use crate::config::Settings;
use crate::identity::authority::Actor;
use crate::startup::open_store;
use crate::tokens::signing_keys::{self, service, KeyAlg};

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
    if let KeyCommand::List = command {
        return Ok(serde_json::to_value(signing_keys::read_metas(
            &settings.keys_dir,
        )?)?);
    }
    let store = open_store(&settings)?;
    let dir = settings.keys_dir.clone();
    let longest_token_ttl = settings.access_token_ttl_max;
    let now = Utc::now();
    let view = store
        .write(move |tx| -> anyhow::Result<_> {
            let actor = Actor::operator("cli");
            let meta = match command {
                KeyCommand::List => unreachable!("answered above"),
                KeyCommand::Generate { alg } => service::generate(tx, &actor, &dir, alg, now)?,
                KeyCommand::Activate { kid } => service::activate(tx, &actor, &dir, &kid, now)?,
                KeyCommand::Retire { kid } => service::retire(tx, &actor, &dir, &kid, now)?,
                KeyCommand::Remove { kid } => {
                    service::remove(tx, &actor, &dir, &kid, longest_token_ttl, now)?;
                    return Ok(serde_json::json!({"removed": kid}));
                }
            };
            Ok(serde_json::to_value(meta)?)
        })
        .await?;
    Ok(view)
}
