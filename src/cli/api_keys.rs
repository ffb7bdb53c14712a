//! `keygate api-key …`: create, list, show and revoke API keys. The operator may
//! grant any configured scope.

use std::time::Duration;

use anyhow::Context;
use chrono::Utc;
use clap::Subcommand;

use super::{org_id_of, with_secret_first};
use crate::api_keys::handlers::ApiKeyView;
use crate::api_keys::{self, Actor, Environment, KeyDraft, KeyRequest};
use crate::audit::{self, By, Change};
use crate::config::Settings;
use crate::orgs;
use crate::startup::open_store;
use crate::store::StoreError;

#[derive(Subcommand)]
pub enum ApiKeyCommand {
    /// Create an API key; prints its id and the key (shown once).
    Create {
        #[arg(long)]
        name: String,
        /// read, write, admin, webhook (the configured scopes); repeatable or
        /// space-separated.
        #[arg(long = "scope", required = true)]
        scopes: Vec<String>,
        /// Organization slug.
        #[arg(long, default_value = crate::orgs::DEFAULT_ORG_SLUG)]
        org: String,
        /// e.g. 90d (default: no expiry).
        #[arg(long, value_parser = super::parse_duration_arg)]
        expires_in: Option<Duration>,
        /// live (default) or test: part of the key (kg_live_… / kg_test_…).
        #[arg(long = "env", default_value = "live", value_parser = parse_environment)]
        environment: Environment,
        /// Requests per minute for this key alone (only tightens its organization's tier).
        #[arg(long)]
        rate_limit: Option<u32>,
    },
    /// List API keys, masked (never the keys).
    List {
        #[arg(long)]
        org: Option<String>,
    },
    /// Revoke an API key: it stops working on the next request.
    Revoke { id: String },
    /// Show one API key, masked, as `GET /v1/api-keys/{id}` does.
    Show { id: String },
}

pub(super) async fn run(
    command: ApiKeyCommand,
    settings: Settings,
) -> anyhow::Result<serde_json::Value> {
    match command {
        ApiKeyCommand::Create {
            name,
            scopes,
            org,
            expires_in,
            environment,
            rate_limit,
        } => {
            let request = KeyRequest {
                name,
                scopes,
                environment: Some(environment),
                expires_in,
                rate_limit_per_minute: rate_limit,
            };
            create(&settings, org, request).await
        }
        ApiKeyCommand::List { org } => list(&settings, org).await,
        ApiKeyCommand::Revoke { id } => revoke(&settings, id).await,
        ApiKeyCommand::Show { id } => show(&settings, id).await,
    }
}

async fn create(
    settings: &Settings,
    org: String,
    request: KeyRequest,
) -> anyhow::Result<serde_json::Value> {
    let store = open_store(settings)?;
    let known_scopes = settings.scopes.clone();
    let now = Utc::now().naive_utc();
    let issued = store
        .write(move |tx| -> anyhow::Result<_> {
            orgs::repo::ensure_default(tx, now)?;
            let org_id = org_id_of(tx, &org)?;
            let draft = KeyDraft::new(
                request,
                &org_id,
                &known_scopes,
                &Actor::Operator("cli"),
                now,
            )?;
            let key = api_keys::format::generate(draft.environment)?;
            let issued = api_keys::repo::create(tx, &draft, key, now)?;
            let change = Change::ApiKeyCreated {
                name: &issued.row.name,
                scopes: &issued.row.scopes,
                expires_at: issued.row.expires_at,
            };
            let by = By::operator("cli");
            audit::repo::record(tx, &issued.row, by, change, now)?;
            Ok(issued)
        })
        .await?;
    let view = serde_json::to_value(ApiKeyView::new(&issued.row, now))?;
    // Shown once (keygate keeps only its SHA-256 digest): first, next to the id.
    Ok(with_secret_first(view, "id", "key", issued.key.expose()))
}

async fn show(settings: &Settings, id: String) -> anyhow::Result<serde_json::Value> {
    let store = open_store(settings)?;
    let now = Utc::now().naive_utc();
    let found = {
        let id = id.clone();
        store
            .read(move |tx| api_keys::repo::find_any(tx, &id).map_err(StoreError::from))
            .await?
    };
    let key = found.with_context(|| format!("no API key {id}"))?;
    Ok(serde_json::to_value(ApiKeyView::new(&key, now))?)
}

async fn list(settings: &Settings, org: Option<String>) -> anyhow::Result<serde_json::Value> {
    let store = open_store(settings)?;
    let now = Utc::now().naive_utc();
    let keys = store
        .read(move |tx| -> anyhow::Result<_> {
            let org_id = org.map(|slug| org_id_of(tx, &slug)).transpose()?;
            let mut keys = Vec::new();
            loop {
                let after = keys.last().map(|k: &api_keys::ApiKey| k.id.clone());
                let page = api_keys::repo::list(tx, org_id.as_deref(), after.as_deref(), 500)?;
                if page.is_empty() {
                    break;
                }
                keys.extend(page);
            }
            Ok(keys)
        })
        .await?;
    Ok(serde_json::to_value(
        keys.iter()
            .map(|k| ApiKeyView::new(k, now))
            .collect::<Vec<_>>(),
    )?)
}

async fn revoke(settings: &Settings, id: String) -> anyhow::Result<serde_json::Value> {
    let store = open_store(settings)?;
    let now = Utc::now().naive_utc();
    let key = store
        .write(move |tx| -> anyhow::Result<_> {
            let key = api_keys::repo::find_any(tx, &id)?
                .with_context(|| format!("no API key with id '{id}'"))?;
            let (revoked, now_revoked) = api_keys::repo::revoke(tx, &key.org_id, &id, now)?
                .with_context(|| format!("no API key with id '{id}'"))?;
            if now_revoked {
                let change = Change::ApiKeyRevoked { name: &key.name };
                audit::repo::record(tx, &key, By::operator("cli"), change, now)?;
            }
            Ok(revoked)
        })
        .await?;
    Ok(serde_json::to_value(ApiKeyView::new(&key, now))?)
}

fn parse_environment(text: &str) -> Result<Environment, String> {
    Environment::parse(text).ok_or_else(|| "use live or test".to_owned())
}
