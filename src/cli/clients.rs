//! `keygate client …`: register, list, show and disable OAuth clients.

use std::time::Duration;

use anyhow::Context;
use chrono::Utc;
use clap::Subcommand;

use super::{org_id_of, with_secret_first};
use crate::audit::{self, By, Change};
use crate::clients::handlers::ClientView;
use crate::clients::registration;
use crate::clients::{self, ClientRegistration};
use crate::config::Settings;
use crate::orgs;
use crate::startup::open_store;
use crate::store::StoreError;

#[derive(Subcommand)]
pub enum ClientCommand {
    /// Register a client; prints its client_id and client_secret (shown once).
    Create {
        #[arg(long)]
        name: String,
        /// Space-separated scopes the client may request, e.g. "read write".
        #[arg(long)]
        scope: String,
        /// Scopes granted when a request names none (default: all of --scope).
        #[arg(long)]
        default_scope: Option<String>,
        /// client_credentials (default) and/or refresh_token; repeatable.
        #[arg(long = "grant-type")]
        grant_types: Vec<String>,
        /// Organization slug.
        #[arg(long, default_value = crate::orgs::DEFAULT_ORG_SLUG)]
        org: String,
        /// An audience (RFC 8707 resource) the client may obtain tokens for;
        /// repeatable, the first is the default `aud` (none: the server's default
        /// audience).
        #[arg(long = "audience")]
        audiences: Vec<String>,
        /// Access-token lifetime, e.g. 10m (default: the server's access_token_ttl).
        #[arg(long, value_parser = super::parse_duration_arg)]
        token_ttl: Option<Duration>,
        /// How long a retry of a just-spent refresh token is taken for a lost response
        /// instead of reuse, e.g. 10s (default 0, at most 5m). See README.
        #[arg(long, value_parser = super::parse_duration_arg)]
        refresh_reuse_grace: Option<Duration>,
        /// Requests per minute for this client alone (only tightens its tier's).
        #[arg(long)]
        rate_limit: Option<u32>,
        /// client_secret_basic or client_secret_post: the only method then accepted
        /// (default: either).
        #[arg(long)]
        token_endpoint_auth_method: Option<String>,
    },
    /// List clients (never their secrets).
    List {
        #[arg(long)]
        org: Option<String>,
    },
    /// Disable a client: its secret stops working at once.
    Disable { client_id: String },
    /// Show one client, as `GET /v1/clients/{id}` does (never its secret).
    Show { client_id: String },
}

pub(super) async fn run(
    command: ClientCommand,
    settings: Settings,
) -> anyhow::Result<serde_json::Value> {
    match command {
        ClientCommand::Create {
            name,
            scope,
            default_scope,
            grant_types,
            org,
            audiences,
            token_ttl,
            refresh_reuse_grace,
            rate_limit,
            token_endpoint_auth_method,
        } => {
            let registration = ClientRegistration {
                name,
                scope,
                default_scope,
                grant_types,
                audience: None,
                audiences,
                access_token_ttl: token_ttl,
                refresh_reuse_grace,
                rate_limit_per_minute: rate_limit,
                token_endpoint_auth_method,
            };
            create(&settings, registration, org).await
        }
        ClientCommand::List { org } => list(&settings, org).await,
        ClientCommand::Disable { client_id } => disable(&settings, client_id).await,
        ClientCommand::Show { client_id } => show(&settings, client_id).await,
    }
}

async fn create(
    settings: &Settings,
    registration: ClientRegistration,
    org: String,
) -> anyhow::Result<serde_json::Value> {
    let store = open_store(settings)?;
    let policy = settings.credential_policy();
    let now = Utc::now().naive_utc();
    let (client, secret) = store
        .write(move |tx| {
            orgs::repo::ensure_default(tx, now).map_err(StoreError::from)?;
            let (client, secret) = registration::register(tx, registration, &org, &policy, now)?;
            let change = Change::ClientRegistered {
                name: &client.name,
                scope: &client.allowed_scopes,
                via: None,
            };
            audit::repo::record(tx, &client, By::operator("cli"), change, now)
                .map_err(StoreError::from)?;
            Ok::<_, registration::RegisterError>((client, secret))
        })
        .await?;
    let view = serde_json::to_value(ClientView::new(&client, now))?;
    // Shown once (keygate keeps only its argon2id hash): first, next to the id.
    Ok(with_secret_first(
        view,
        "client_id",
        "client_secret",
        secret.expose(),
    ))
}

async fn show(settings: &Settings, id: String) -> anyhow::Result<serde_json::Value> {
    let store = open_store(settings)?;
    let now = Utc::now().naive_utc();
    let found = {
        let id = id.clone();
        store
            .read(move |tx| clients::repo::find(tx, &id).map_err(StoreError::from))
            .await?
    };
    let client = found.with_context(|| format!("no client {id}"))?;
    Ok(serde_json::to_value(ClientView::new(&client, now))?)
}

async fn list(settings: &Settings, org: Option<String>) -> anyhow::Result<serde_json::Value> {
    let store = open_store(settings)?;
    let now = Utc::now().naive_utc();
    let clients = store
        .read(move |tx| -> anyhow::Result<_> {
            let org_id = org.map(|slug| org_id_of(tx, &slug)).transpose()?;
            Ok(clients::repo::list(tx, org_id.as_deref())?)
        })
        .await?;
    Ok(serde_json::to_value(
        clients
            .iter()
            .map(|c| ClientView::new(c, now))
            .collect::<Vec<_>>(),
    )?)
}

async fn disable(settings: &Settings, id: String) -> anyhow::Result<serde_json::Value> {
    let store = open_store(settings)?;
    let now = Utc::now().naive_utc();
    let client = store
        .write(move |tx| -> anyhow::Result<_> {
            let now_disabled = clients::repo::disable(tx, &id, now)?;
            let client = clients::repo::find(tx, &id)?
                .with_context(|| format!("no client with id '{id}'"))?;
            if now_disabled {
                let change = Change::ClientDisabled {
                    name: &client.name,
                    via: None,
                };
                audit::repo::record(tx, &client, By::operator("cli"), change, now)?;
            }
            Ok(client)
        })
        .await?;
    Ok(serde_json::to_value(ClientView::new(&client, now))?)
}
