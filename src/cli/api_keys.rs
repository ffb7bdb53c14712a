//! `keygate api-key …`: create, list, show, update, rotate and revoke API keys, and
//! an organization's key policy,
//! through the same use cases as `/v1/api-keys` (`api_keys::service`). The operator
//! may grant any configured scope and sees every organization.

use std::time::Duration;

use anyhow::Context;
use chrono::Utc;
use clap::Subcommand;

use super::args::org_id_of;
use super::output::with_secret_first;
use crate::api_keys::policy::KeyPolicy;
use crate::api_keys::service::{self, KeyUpdate};
use crate::api_keys::{self, ApiKeyView, Environment, IssuedKey, KeyError, KeyRequest};
use crate::config::Settings;
use crate::identity::authority::Actor;
use crate::ids::ApiKeyId;
use crate::orgs;
use crate::startup::open_store;

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
        #[arg(long, value_parser = super::args::parse_duration_arg)]
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
    /// Rename a key, narrow its scopes or change its rate limit, as
    /// `PATCH /v1/api-keys/{id}` does.
    Update {
        id: ApiKeyId,
        #[arg(long)]
        name: Option<String>,
        /// A subset of the key's scopes; repeatable or space-separated.
        #[arg(long = "scope")]
        scopes: Option<Vec<String>>,
        /// Requests per minute for this key alone.
        #[arg(long, conflicts_with = "no_rate_limit")]
        rate_limit: Option<u32>,
        /// Remove the key's own rate limit (its organization's tier applies).
        #[arg(long)]
        no_rate_limit: bool,
    },
    /// Replace a key with a new one (printed once); the old key keeps working for
    /// --overlap (default: it stops at once).
    Rotate {
        id: ApiKeyId,
        /// e.g. 1h (at most 30 days).
        #[arg(long, value_parser = super::args::parse_duration_arg)]
        overlap: Option<Duration>,
    },
    /// Revoke an API key: it stops working on the next request.
    Revoke { id: ApiKeyId },
    /// Show one API key, masked, as `GET /v1/api-keys/{id}` does.
    Show { id: ApiKeyId },
    /// Show an organization's API-key policy, or change it (as `PUT
    /// /v1/api-key-policy` does): every create and rotate of its keys keeps to it.
    Policy {
        /// Organization slug.
        #[arg(long, default_value = crate::orgs::DEFAULT_ORG_SLUG)]
        org: String,
        /// The longest a key may live, e.g. 90d (1 hour to 10 years), or `none`.
        #[arg(long, value_parser = parse_max_lifetime)]
        max_lifetime: Option<MaxLifetime>,
        /// Whether every key must have an expiry: true or false.
        #[arg(long)]
        expiry_required: Option<bool>,
    },
}

/// `--max-lifetime`: a duration, or `none` for no maximum.
#[derive(Clone, Copy, Debug)]
pub struct MaxLifetime(Option<Duration>);

fn parse_max_lifetime(text: &str) -> Result<MaxLifetime, String> {
    if text == "none" {
        return Ok(MaxLifetime(None));
    }
    super::args::parse_duration_arg(text).map(|d| MaxLifetime(Some(d)))
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
        ApiKeyCommand::Update {
            id,
            name,
            scopes,
            rate_limit,
            no_rate_limit,
        } => {
            let rate_limit_per_minute = match (rate_limit, no_rate_limit) {
                (_, true) => Some(None),
                (Some(limit), false) => Some(Some(limit)),
                (None, false) => None,
            };
            let update = KeyUpdate {
                name,
                scopes,
                rate_limit_per_minute,
            };
            update_key(&settings, id, update).await
        }
        ApiKeyCommand::Rotate { id, overlap } => {
            rotate(&settings, id, overlap.unwrap_or_default()).await
        }
        ApiKeyCommand::Revoke { id } => revoke(&settings, id).await,
        ApiKeyCommand::Show { id } => show(&settings, id).await,
        ApiKeyCommand::Policy {
            org,
            max_lifetime,
            expiry_required,
        } => policy(&settings, org, max_lifetime, expiry_required).await,
    }
}

/// Shows the policy; with either flag, changes that part of it first.
async fn policy(
    settings: &Settings,
    org: String,
    max_lifetime: Option<MaxLifetime>,
    expiry_required: Option<bool>,
) -> anyhow::Result<serde_json::Value> {
    let store = open_store(settings)?;
    let now = Utc::now().naive_utc();
    let policy = store
        .write(move |tx| -> anyhow::Result<_> {
            let org_id = org_id_of(tx, &org)?;
            let actor = Actor::operator("cli");
            let current = service::policy(tx, &actor, &org_id)?;
            if max_lifetime.is_none() && expiry_required.is_none() {
                return Ok(current);
            }
            let asked = KeyPolicy {
                max_lifetime: max_lifetime.map_or(current.max_lifetime, |m| m.0),
                expiry_required: expiry_required.unwrap_or(current.expiry_required),
            };
            Ok(service::set_policy(tx, &actor, &org_id, asked, now)?)
        })
        .await?;
    Ok(serde_json::to_value(policy)?)
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
            let actor = Actor::operator("cli");
            Ok(service::create(
                tx,
                &actor,
                &org_id,
                request,
                &known_scopes,
                now,
            )?)
        })
        .await?;
    shown_once(&issued, now)
}

/// The key's view with the key itself first, next to the id: it is shown this once
/// (keygate keeps only its SHA-256 digest).
fn shown_once(issued: &IssuedKey, now: chrono::NaiveDateTime) -> anyhow::Result<serde_json::Value> {
    let view = serde_json::to_value(ApiKeyView::new(&issued.row, now))?;
    Ok(with_secret_first(view, "id", "key", issued.key.expose()))
}

async fn show(settings: &Settings, id: ApiKeyId) -> anyhow::Result<serde_json::Value> {
    let store = open_store(settings)?;
    let now = Utc::now().naive_utc();
    let found = {
        let id = id.clone();
        store
            .read(move |tx| service::find(tx, &Actor::operator("cli"), &id))
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
                let page = api_keys::repo::list(tx, org_id.as_ref(), after.as_ref(), 500)?;
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

async fn update_key(
    settings: &Settings,
    id: ApiKeyId,
    update: KeyUpdate,
) -> anyhow::Result<serde_json::Value> {
    let store = open_store(settings)?;
    let known_scopes = settings.scopes.clone();
    let now = Utc::now().naive_utc();
    let key = store
        .write({
            let id = id.clone();
            move |tx| {
                let actor = Actor::operator("cli");
                service::update(tx, &actor, &id, update, &known_scopes, now)
            }
        })
        .await
        .map_err(naming(id.as_str()))?;
    Ok(serde_json::to_value(ApiKeyView::new(&key, now))?)
}

async fn rotate(
    settings: &Settings,
    id: ApiKeyId,
    overlap: Duration,
) -> anyhow::Result<serde_json::Value> {
    let store = open_store(settings)?;
    let now = Utc::now().naive_utc();
    let issued = {
        let id = id.clone();
        store.write(move |tx| service::rotate(tx, &Actor::operator("cli"), &id, overlap, now))
    }
    .await
    .map_err(naming(id.as_str()))?;
    shown_once(&issued, now)
}

async fn revoke(settings: &Settings, id: ApiKeyId) -> anyhow::Result<serde_json::Value> {
    let store = open_store(settings)?;
    let now = Utc::now().naive_utc();
    let key = {
        let id = id.clone();
        store.write(move |tx| service::revoke(tx, &Actor::operator("cli"), &id, now))
    }
    .await
    .map_err(naming(id.as_str()))?;
    Ok(serde_json::to_value(ApiKeyView::new(&key, now))?)
}

/// A key that is not there, named as `show` names it.
fn naming(id: &str) -> impl FnOnce(KeyError) -> anyhow::Error + '_ {
    move |error| match error {
        KeyError::NotFound => anyhow::anyhow!("no API key {id}"),
        other => other.into(),
    }
}

fn parse_environment(text: &str) -> Result<Environment, String> {
    Environment::parse(text).ok_or_else(|| "use live or test".to_owned())
}
