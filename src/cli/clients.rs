//! `keygate client …`: register, list, show, update, rotate the secret of and disable
//! OAuth clients, through the same use cases as `/v1/clients` (`clients::service`).
//! The operator may grant any configured scope and sees every organization.

use std::time::Duration;

use anyhow::Context;
use chrono::{NaiveDateTime, Utc};
use clap::Subcommand;

use super::args::org_id_of;
use super::output::with_secret_first;
use crate::clients::service::{self, ClientError, IssuedClient, SecretOverlap};
use crate::clients::view::ClientView;
use crate::clients::{self, ClientRegistration, ClientUpdate};
use crate::config::Settings;
use crate::identity::authority::Actor;
use crate::ids::ClientId;
use crate::orgs;
use crate::startup::open_store;

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
        /// client_credentials (default), authorization_code and/or refresh_token;
        /// repeatable.
        #[arg(long = "grant-type")]
        grant_types: Vec<String>,
        /// For authorization_code: where a person is sent back with a code;
        /// repeatable (exact match; `http://127.0.0.1` and `http://[::1]` at any port).
        #[arg(long = "redirect-uri")]
        redirect_uris: Vec<String>,
        /// Organization slug.
        #[arg(long, default_value = crate::orgs::DEFAULT_ORG_SLUG)]
        org: String,
        /// An audience (RFC 8707 resource) the client may obtain tokens for;
        /// repeatable, the first is the default `aud` (none: the server's default
        /// audience).
        #[arg(long = "audience")]
        audiences: Vec<String>,
        /// Access-token lifetime, e.g. 10m (default: the server's access_token_ttl).
        #[arg(long, value_parser = super::args::parse_duration_arg)]
        token_ttl: Option<Duration>,
        /// How long a retry of a just-spent refresh token is taken for a lost response
        /// instead of reuse, e.g. 10s (default 0, at most 5m). See README.
        #[arg(long, value_parser = super::args::parse_duration_arg)]
        refresh_reuse_grace: Option<Duration>,
        /// Requests per minute for this client alone (only tightens its tier's).
        #[arg(long)]
        rate_limit: Option<u32>,
        /// client_secret_basic or client_secret_post: the only method then accepted
        /// (default: either); none: a public client, with no secret.
        #[arg(long)]
        token_endpoint_auth_method: Option<String>,
    },
    /// List clients (never their secrets).
    List {
        #[arg(long)]
        org: Option<String>,
    },
    /// Change a client's metadata, as `PATCH /v1/clients/{id}` does: an absent flag
    /// leaves a setting as it is, and the result is validated as a whole.
    Update {
        client_id: ClientId,
        #[arg(long)]
        name: Option<String>,
        /// Space-separated scopes the client may request; the default scopes narrow
        /// with them unless --default-scope is given.
        #[arg(long)]
        scope: Option<String>,
        /// Scopes granted when a request names none.
        #[arg(long)]
        default_scope: Option<String>,
        /// client_credentials, authorization_code and/or refresh_token; repeatable,
        /// replaces the list.
        #[arg(long = "grant-type")]
        grant_types: Option<Vec<String>>,
        /// A redirect URI; repeatable, replaces the list.
        #[arg(long = "redirect-uri")]
        redirect_uris: Option<Vec<String>>,
        /// An audience the client may obtain tokens for; repeatable, replaces the
        /// list, and the first is the default `aud` (as in `client create`).
        #[arg(long = "audience")]
        audiences: Option<Vec<String>>,
        /// Access-token lifetime, e.g. 10m.
        #[arg(long, value_parser = super::args::parse_duration_arg)]
        token_ttl: Option<Duration>,
        /// Refresh-token reuse grace, e.g. 10s (at most 5m).
        #[arg(long, value_parser = super::args::parse_duration_arg)]
        refresh_reuse_grace: Option<Duration>,
        /// Requests per minute for this client alone.
        #[arg(long, conflicts_with = "no_rate_limit")]
        rate_limit: Option<u32>,
        /// Remove the client's own rate limit (its organization's tier applies).
        #[arg(long)]
        no_rate_limit: bool,
        /// client_secret_basic or client_secret_post: the only method then accepted.
        #[arg(long, conflicts_with = "any_auth_method")]
        token_endpoint_auth_method: Option<String>,
        /// Accept either authentication method again.
        #[arg(long)]
        any_auth_method: bool,
    },
    /// Give a client a new secret (printed once); the old one keeps working for
    /// --overlap (default: it stops at once).
    RotateSecret {
        client_id: ClientId,
        /// e.g. 1h (at most 30 days).
        #[arg(long, value_parser = super::args::parse_duration_arg)]
        overlap: Option<Duration>,
    },
    /// Disable a client: its secret stops working at once.
    Disable { client_id: ClientId },
    /// Show one client, as `GET /v1/clients/{id}` does (never its secret).
    Show { client_id: ClientId },
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
            redirect_uris,
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
                redirect_uris,
            };
            create(&settings, registration, org).await
        }
        ClientCommand::List { org } => list(&settings, org).await,
        ClientCommand::Update {
            client_id,
            name,
            scope,
            default_scope,
            grant_types,
            redirect_uris,
            audiences,
            token_ttl,
            refresh_reuse_grace,
            rate_limit,
            no_rate_limit,
            token_endpoint_auth_method,
            any_auth_method,
        } => {
            let update = ClientUpdate {
                name,
                scope,
                default_scope,
                grant_types,
                // The first is the default, as in `client create`.
                audience: audiences.as_ref().map(|list| list.first().cloned()),
                audiences,
                access_token_ttl: token_ttl,
                refresh_reuse_grace,
                rate_limit_per_minute: either(rate_limit, no_rate_limit),
                token_endpoint_auth_method: either(token_endpoint_auth_method, any_auth_method),
                redirect_uris,
            };
            update_client(&settings, client_id, update).await
        }
        ClientCommand::RotateSecret { client_id, overlap } => {
            rotate_secret(&settings, client_id, overlap.unwrap_or_default()).await
        }
        ClientCommand::Disable { client_id } => disable(&settings, client_id).await,
        ClientCommand::Show { client_id } => show(&settings, client_id).await,
    }
}

/// A setting to set (`value`), to clear (`clear`), or to leave as it is.
fn either<T>(value: Option<T>, clear: bool) -> Option<Option<T>> {
    match (value, clear) {
        (_, true) => Some(None),
        (Some(value), false) => Some(Some(value)),
        (None, false) => None,
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
    let org_id = store
        .write(move |tx| -> anyhow::Result<_> {
            orgs::repo::ensure_default(tx, now)?;
            org_id_of(tx, &org)
        })
        .await?;
    let actor = Actor::operator("cli");
    let draft = service::draft(&actor, &org_id, registration, &policy, None)?;
    let issued = store
        .blocking(move |store| {
            // argon2 first, with no connection held.
            let prepared = draft.prepare(now)?;
            store.write(|tx| service::register(tx, &actor, prepared, now))
        })
        .await?;
    shown_once(&issued, now)
}

/// The client's view with its secret first, next to the id: it is shown this once
/// (keygate keeps only its argon2id hash).
fn shown_once(issued: &IssuedClient, now: NaiveDateTime) -> anyhow::Result<serde_json::Value> {
    let view = serde_json::to_value(ClientView::new(&issued.client, now))?;
    Ok(match &issued.secret {
        Some(secret) => with_secret_first(view, "client_id", "client_secret", secret.expose()),
        // A public client has no secret to show.
        None => view,
    })
}

async fn show(settings: &Settings, id: ClientId) -> anyhow::Result<serde_json::Value> {
    let store = open_store(settings)?;
    let now = Utc::now().naive_utc();
    let found = {
        let id = id.clone();
        store
            .read(move |tx| service::find(tx, &Actor::operator("cli"), &id))
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
            Ok(clients::repo::list(tx, org_id.as_ref())?)
        })
        .await?;
    Ok(serde_json::to_value(
        clients
            .iter()
            .map(|c| ClientView::new(c, now))
            .collect::<Vec<_>>(),
    )?)
}

async fn update_client(
    settings: &Settings,
    id: ClientId,
    update: ClientUpdate,
) -> anyhow::Result<serde_json::Value> {
    let store = open_store(settings)?;
    let policy = settings.credential_policy();
    let now = Utc::now().naive_utc();
    let client = {
        let id = id.clone();
        store.write(move |tx| {
            service::update(tx, &Actor::operator("cli"), &id, update, &policy, now)
        })
    }
    .await
    .map_err(naming(id.as_str()))?;
    Ok(serde_json::to_value(ClientView::new(&client, now))?)
}

async fn rotate_secret(
    settings: &Settings,
    id: ClientId,
    overlap: Duration,
) -> anyhow::Result<serde_json::Value> {
    let overlap = SecretOverlap::new(overlap)?;
    let store = open_store(settings)?;
    let now = Utc::now().naive_utc();
    let issued = {
        let id = id.clone();
        store.blocking(move |store| {
            // argon2 first, with no connection held.
            let new = service::new_secret()?;
            store.write(|tx| {
                service::rotate_secret(tx, &Actor::operator("cli"), &id, overlap, new, now)
            })
        })
    }
    .await
    .map_err(naming(id.as_str()))?;
    shown_once(&issued, now)
}

async fn disable(settings: &Settings, id: ClientId) -> anyhow::Result<serde_json::Value> {
    let store = open_store(settings)?;
    let now = Utc::now().naive_utc();
    let client = {
        let id = id.clone();
        store.write(move |tx| service::disable(tx, &Actor::operator("cli"), &id, None, now))
    }
    .await
    .map_err(naming(id.as_str()))?;
    Ok(serde_json::to_value(ClientView::new(&client, now))?)
}

/// A client that is not there, named as `show` names it.
fn naming(id: &str) -> impl FnOnce(ClientError) -> anyhow::Error + '_ {
    move |error| match error {
        ClientError::NotFound => anyhow::anyhow!("no client {id}"),
        other => other.into(),
    }
}
