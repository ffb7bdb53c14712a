//! The command line: argument definitions (clap) and the operator commands behind
//! them. Commands other than `serve` print JSON on stdout (a stdout closed early, as
//! by `| head`, ends them quietly); logs go to stderr.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use chrono::Utc;
use clap::{Parser, Subcommand};

use crate::api_keys::handlers::ApiKeyView;
use crate::api_keys::{self, Actor, Environment, KeyDraft, KeyRequest};
use crate::audit::{self, EventType, NewEvent, Source};
use crate::clients::handlers::ClientView;
use crate::clients::registration::{self, RegistrationPolicy};
use crate::clients::{self, ClientRegistration};
use crate::config::Settings;
use crate::orgs::{self, model::NewOrganization};
use crate::startup::{open_store, Application};
use crate::store::StoreError;
use crate::tokens::keys::{self, KeyAlg};

#[derive(Parser)]
#[command(
    name = "keygate",
    version,
    about = "OAuth 2.0 authorization server with API-key fallback"
)]
pub struct Cli {
    /// TOML settings file; KEYGATE_* environment variables override it.
    #[arg(long, global = true, env = "KEYGATE_CONFIG")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Migrate the database, then serve HTTP.
    Serve,
    /// Apply pending database migrations.
    Migrate,
    /// Manage OAuth clients.
    #[command(subcommand)]
    Client(ClientCommand),
    /// Manage organizations.
    #[command(subcommand)]
    Org(OrgCommand),
    /// Manage API keys.
    #[command(subcommand, name = "api-key")]
    ApiKey(ApiKeyCommand),
    /// Manage signing keys in the keys directory.
    #[command(subcommand, name = "signing-key")]
    SigningKey(KeyCommand),
    /// Print a completion script for SHELL (e.g. `keygate completions bash >
    /// /etc/bash_completion.d/keygate`). Needs no settings or database.
    Completions { shell: clap_complete::Shell },
}

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
        #[arg(long, value_parser = parse_duration_arg)]
        token_ttl: Option<Duration>,
        /// How long a retry of a just-spent refresh token is taken for a lost response
        /// instead of reuse, e.g. 10s (default 0, at most 5m). See README.
        #[arg(long, value_parser = parse_duration_arg)]
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
        #[arg(long, value_parser = parse_duration_arg)]
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

/// Runs one command; all but `serve` print JSON on stdout.
pub fn execute(command: Command, settings: Settings) -> anyhow::Result<()> {
    let output = match command {
        Command::Serve => return serve(settings),
        Command::Migrate => migrate(&settings)?,
        Command::Client(ClientCommand::Create {
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
        }) => create_client(
            &settings,
            CreateClient {
                registration: ClientRegistration {
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
                },
                org,
            },
        )?,
        Command::Client(ClientCommand::List { org }) => list_clients(&settings, org.as_deref())?,
        Command::Client(ClientCommand::Disable { client_id }) => {
            disable_client(&settings, &client_id)?
        }
        Command::Client(ClientCommand::Show { client_id }) => show_client(&settings, &client_id)?,
        Command::ApiKey(ApiKeyCommand::Create {
            name,
            scopes,
            org,
            expires_in,
            environment,
            rate_limit,
        }) => create_api_key(
            &settings,
            &org,
            KeyRequest {
                name,
                scopes,
                environment: Some(environment),
                expires_in,
                rate_limit_per_minute: rate_limit,
            },
        )?,
        Command::ApiKey(ApiKeyCommand::List { org }) => list_api_keys(&settings, org.as_deref())?,
        Command::ApiKey(ApiKeyCommand::Revoke { id }) => revoke_api_key(&settings, &id)?,
        Command::ApiKey(ApiKeyCommand::Show { id }) => show_api_key(&settings, &id)?,
        Command::Org(OrgCommand::Create { slug, name, tier }) => {
            create_org(&settings, &slug, &name, &tier)?
        }
        Command::Org(OrgCommand::SetTier { slug, tier }) => set_org_tier(&settings, &slug, &tier)?,
        Command::Org(OrgCommand::List) => list_orgs(&settings)?,
        Command::SigningKey(KeyCommand::Generate { alg }) => generate_key(&settings, alg)?,
        Command::SigningKey(KeyCommand::List) => list_keys(&settings)?,
        Command::SigningKey(KeyCommand::Activate { kid }) => activate_key(&settings, &kid)?,
        Command::SigningKey(KeyCommand::Retire { kid }) => retire_key(&settings, &kid)?,
        Command::SigningKey(KeyCommand::Remove { kid }) => remove_key(&settings, &kid)?,
        Command::Completions { shell } => return print_completions(shell),
    };
    match write_out(&serde_json::to_string_pretty(&output)?) {
        // The reader has gone (`keygate … | head`): not a failure of the command —
        // what it did is done, and whoever closed the pipe read what they wanted —
        // so it ends quietly, where `println!` would panic.
        Err(error) if error.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        written => written.context("writing the output"),
    }
}

/// `keygate completions SHELL`. The script is made in memory first: clap_complete
/// panics on a failed write, and a closed stdout must end the command quietly.
pub fn print_completions(shell: clap_complete::Shell) -> anyhow::Result<()> {
    use clap::CommandFactory;
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "keygate", &mut script);
    let script = String::from_utf8(script).context("the completion script")?;
    match write_out(script.trim_end()) {
        Err(error) if error.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        written => written.context("writing the completion script"),
    }
}

/// Writes `text` and a newline to stdout, returning any error (`println!` panics).
fn write_out(text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{text}")?;
    stdout.flush()
}

fn serve(settings: Settings) -> anyhow::Result<()> {
    let workers = settings.worker_count();
    actix_web::rt::System::new().block_on(async move {
        let mut app = Application::build(settings)?;
        if let Some(key) = app.take_bootstrap_key() {
            // stdout, not the log: logs never carry a secret.
            let shown = write_out(&format!(
                "keygate: created the default organization and its bootstrap admin API key.\n\
                 It is shown this once; store it now:\n\n    {}\n",
                key.expose()
            ));
            if let Err(error) = shown {
                tracing::error!(%error, "the bootstrap admin API key could not be shown on stdout; make one with `keygate api-key create --scope admin …`");
            }
        }
        tracing::info!(workers, "serving");
        app.run_until_stopped()
            .await
            .context("server stopped with an error")
    })
}

pub fn migrate(settings: &Settings) -> anyhow::Result<serde_json::Value> {
    let url = &settings.database_url;
    let store = crate::store::Store::open(url, 1)?;
    let applied = store.migrate()?;
    Ok(serde_json::json!({"applied": applied, "database": url.redacted()}))
}

/// `keygate client create`.
pub struct CreateClient {
    pub registration: ClientRegistration,
    pub org: String,
}

pub fn create_client(settings: &Settings, cmd: CreateClient) -> anyhow::Result<serde_json::Value> {
    let store = open_store(settings)?;
    let known_scopes = settings.scope_set();
    let policy = RegistrationPolicy {
        known_scopes: &known_scopes,
        max_token_ttl: settings.access_token_ttl_max,
    };
    let now = Utc::now().naive_utc();
    let (client, secret) = store.with_conn(|conn| {
        orgs::repo::ensure_default(conn, now).map_err(StoreError::from)?;
        let (client, secret) =
            registration::register(conn, cmd.registration, &cmd.org, &policy, now)?;
        let details = serde_json::json!({"name": client.name, "scope": client.allowed_scopes});
        crate::audit::repo::record_about(
            conn,
            &client,
            EventType::ClientRegistered,
            "cli",
            &Source::default(),
            details,
            now,
        )
        .map_err(StoreError::from)?;
        Ok::<_, registration::RegisterError>((client, secret))
    })?;
    let view = serde_json::to_value(ClientView::new(&client, now))?;
    // Shown once (keygate keeps only its argon2id hash): first, next to the id.
    Ok(with_secret_first(
        view,
        "client_id",
        "client_secret",
        secret.expose(),
    ))
}

/// `view` with `id_field` and then `secret_field` first, where a person looks: a
/// secret shown once is not to be buried among a dozen fields.
fn with_secret_first(
    view: serde_json::Value,
    id_field: &str,
    secret_field: &str,
    secret: &str,
) -> serde_json::Value {
    let mut ordered = serde_json::Map::new();
    let serde_json::Value::Object(mut rest) = view else {
        return view;
    };
    if let Some(id) = rest.remove(id_field) {
        ordered.insert(id_field.to_owned(), id);
    }
    ordered.insert(secret_field.to_owned(), secret.into());
    ordered.extend(rest);
    serde_json::Value::Object(ordered)
}

pub fn show_client(settings: &Settings, id: &str) -> anyhow::Result<serde_json::Value> {
    let store = open_store(settings)?;
    let now = Utc::now().naive_utc();
    let client = store
        .with_conn(|conn| clients::repo::find(conn, id).map_err(StoreError::from))?
        .with_context(|| format!("no client {id}"))?;
    Ok(serde_json::to_value(ClientView::new(&client, now))?)
}

pub fn show_api_key(settings: &Settings, id: &str) -> anyhow::Result<serde_json::Value> {
    let store = open_store(settings)?;
    let now = Utc::now().naive_utc();
    let key = store
        .with_conn(|conn| api_keys::repo::find_any(conn, id).map_err(StoreError::from))?
        .with_context(|| format!("no API key {id}"))?;
    Ok(serde_json::to_value(ApiKeyView::new(&key, now))?)
}

pub fn list_clients(settings: &Settings, org: Option<&str>) -> anyhow::Result<serde_json::Value> {
    let store = open_store(settings)?;
    let now = Utc::now().naive_utc();
    let clients = store.with_conn(|conn| -> anyhow::Result<_> {
        let org_id = match org {
            Some(slug) => Some(
                orgs::repo::find_by_slug(conn, slug)?
                    .with_context(|| format!("organization '{slug}' does not exist"))?
                    .id,
            ),
            None => None,
        };
        Ok(clients::repo::list(conn, org_id.as_deref())?)
    })?;
    Ok(serde_json::to_value(
        clients
            .iter()
            .map(|c| ClientView::new(c, now))
            .collect::<Vec<_>>(),
    )?)
}

pub fn disable_client(settings: &Settings, id: &str) -> anyhow::Result<serde_json::Value> {
    let store = open_store(settings)?;
    let now = Utc::now().naive_utc();
    let client = store.with_conn(|conn| -> anyhow::Result<_> {
        let now_disabled = clients::repo::disable(conn, id, now)?;
        let client =
            clients::repo::find(conn, id)?.with_context(|| format!("no client with id '{id}'"))?;
        if now_disabled {
            let details = serde_json::json!({"name": client.name});
            crate::audit::repo::record_about(
                conn,
                &client,
                EventType::ClientDisabled,
                "cli",
                &Source::default(),
                details,
                now,
            )?;
        }
        Ok(client)
    })?;
    Ok(serde_json::to_value(ClientView::new(&client, now))?)
}

pub fn create_org(
    settings: &Settings,
    slug: &str,
    name: &str,
    tier: &str,
) -> anyhow::Result<serde_json::Value> {
    validate_slug(slug)?;
    validate_tier(settings, tier)?;
    let store = open_store(settings)?;
    let now = Utc::now().naive_utc();
    let org = store
        .with_conn(|conn| {
            let mut new = NewOrganization::new(slug, name, now);
            new.tier = tier.to_owned();
            orgs::repo::create(conn, &new).map_err(StoreError::from)
        })
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
pub fn set_org_tier(
    settings: &Settings,
    slug: &str,
    tier: &str,
) -> anyhow::Result<serde_json::Value> {
    validate_tier(settings, tier)?;
    let store = open_store(settings)?;
    let org = store.with_write_conn(|conn| -> anyhow::Result<_> {
        orgs::repo::set_tier(conn, slug, tier)?
            .with_context(|| format!("organization '{slug}' does not exist"))
    })?;
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

pub fn list_orgs(settings: &Settings) -> anyhow::Result<serde_json::Value> {
    let store = open_store(settings)?;
    let orgs = store.with_conn(|conn| orgs::repo::list(conn).map_err(StoreError::from))?;
    Ok(serde_json::Value::Array(
        orgs.into_iter()
            .map(
                |o| serde_json::json!({"id": o.id, "slug": o.slug, "name": o.name, "tier": o.tier}),
            )
            .collect(),
    ))
}

/// `keygate api-key create`: the operator may grant any configured scope.
pub fn create_api_key(
    settings: &Settings,
    org: &str,
    request: KeyRequest,
) -> anyhow::Result<serde_json::Value> {
    let store = open_store(settings)?;
    let now = Utc::now().naive_utc();
    let issued = store.with_write_conn(|conn| -> anyhow::Result<_> {
        orgs::repo::ensure_default(conn, now)?;
        let org_id = orgs::repo::find_by_slug(conn, org)?
            .with_context(|| format!("organization '{org}' does not exist"))?
            .id;
        let draft = KeyDraft::new(
            request,
            &org_id,
            &settings.scope_set(),
            &Actor::Operator("cli"),
            now,
        )?;
        let issued = api_keys::repo::create(conn, &draft, now)?;
        let event = NewEvent {
            org_id: &issued.row.org_id,
            event_type: EventType::ApiKeyCreated,
            actor: "cli",
            target_id: &issued.row.id,
            source: &Source::default(),
            details: serde_json::json!({"name": issued.row.name, "scopes": issued.row.scopes}),
        };
        audit::repo::record(conn, event, now)?;
        Ok(issued)
    })?;
    let view = serde_json::to_value(ApiKeyView::new(&issued.row, now))?;
    // Shown once (keygate keeps only its SHA-256 digest): first, next to the id.
    Ok(with_secret_first(view, "id", "key", issued.key.expose()))
}

pub fn list_api_keys(settings: &Settings, org: Option<&str>) -> anyhow::Result<serde_json::Value> {
    let store = open_store(settings)?;
    let now = Utc::now().naive_utc();
    let keys = store.with_conn(|conn| -> anyhow::Result<_> {
        let org_id = match org {
            Some(slug) => Some(
                orgs::repo::find_by_slug(conn, slug)?
                    .with_context(|| format!("organization '{slug}' does not exist"))?
                    .id,
            ),
            None => None,
        };
        let mut keys = Vec::new();
        loop {
            let after = keys.last().map(|k: &api_keys::ApiKey| k.id.clone());
            let page = api_keys::repo::list(conn, org_id.as_deref(), after.as_deref(), 500)?;
            if page.is_empty() {
                break;
            }
            keys.extend(page);
        }
        Ok(keys)
    })?;
    Ok(serde_json::to_value(
        keys.iter()
            .map(|k| ApiKeyView::new(k, now))
            .collect::<Vec<_>>(),
    )?)
}

pub fn revoke_api_key(settings: &Settings, id: &str) -> anyhow::Result<serde_json::Value> {
    let store = open_store(settings)?;
    let now = Utc::now().naive_utc();
    let key = store.with_write_conn(|conn| -> anyhow::Result<_> {
        let key = api_keys::repo::find_any(conn, id)?
            .with_context(|| format!("no API key with id '{id}'"))?;
        let (revoked, now_revoked) = api_keys::repo::revoke(conn, &key.org_id, id, now)?
            .with_context(|| format!("no API key with id '{id}'"))?;
        if now_revoked {
            let event = NewEvent {
                org_id: &key.org_id,
                event_type: EventType::ApiKeyRevoked,
                actor: "cli",
                target_id: &key.id,
                source: &Source::default(),
                details: serde_json::json!({"name": key.name}),
            };
            audit::repo::record(conn, event, now)?;
        }
        Ok(revoked)
    })?;
    Ok(serde_json::to_value(ApiKeyView::new(&key, now))?)
}

fn parse_environment(text: &str) -> Result<Environment, String> {
    Environment::parse(text).ok_or_else(|| "use live or test".to_owned())
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

pub fn generate_key(settings: &Settings, alg: KeyAlg) -> anyhow::Result<serde_json::Value> {
    let meta = keys::generate(&settings.keys_dir, alg, Utc::now())?;
    let view = serde_json::to_value(&meta)?;
    let store = open_store(settings)?;
    record_signing_key_event(
        &store,
        EventType::SigningKeyGenerated,
        "cli",
        &meta.kid,
        view.clone(),
    )?;
    Ok(view)
}

/// Signing keys belong to the whole server; their events go to the default
/// organization's log.
pub fn record_signing_key_event(
    store: &crate::store::Store,
    event_type: EventType,
    actor: &str,
    kid: &str,
    details: serde_json::Value,
) -> anyhow::Result<()> {
    let now = Utc::now().naive_utc();
    store
        .with_write_conn(|conn| -> anyhow::Result<()> {
            let (org, _) = orgs::repo::ensure_default(conn, now)?;
            let event = NewEvent {
                org_id: &org.id,
                event_type,
                actor,
                target_id: kid,
                source: &Source::default(),
                details,
            };
            audit::repo::record(conn, event, now)?;
            Ok(())
        })
        .context("recording the signing-key event in the audit log")
}

pub fn list_keys(settings: &Settings) -> anyhow::Result<serde_json::Value> {
    Ok(serde_json::to_value(keys::read_metas(&settings.keys_dir)?)?)
}

pub fn activate_key(settings: &Settings, kid: &str) -> anyhow::Result<serde_json::Value> {
    let previous = active_kid(settings)?;
    let view = serde_json::to_value(keys::activate(&settings.keys_dir, kid, Utc::now())?)?;
    let store = open_store(settings)?;
    record_signing_key_event(
        &store,
        EventType::SigningKeyActivated,
        "cli",
        kid,
        view.clone(),
    )?;
    // Activation retires the key that signed until now.
    if let Some(previous) = previous.filter(|p| p != kid) {
        let details = serde_json::json!({"retired_by_activating": kid});
        record_signing_key_event(
            &store,
            EventType::SigningKeyRetired,
            "cli",
            &previous,
            details,
        )?;
    }
    Ok(view)
}

fn active_kid(settings: &Settings) -> anyhow::Result<Option<String>> {
    Ok(keys::read_metas(&settings.keys_dir)?
        .into_iter()
        .find(|m| m.state == keys::KeyState::Active)
        .map(|m| m.kid))
}

pub fn retire_key(settings: &Settings, kid: &str) -> anyhow::Result<serde_json::Value> {
    let was_retired = keys::read_metas(&settings.keys_dir)?
        .iter()
        .any(|m| m.kid == kid && m.state == keys::KeyState::Retired);
    let view = serde_json::to_value(keys::retire(&settings.keys_dir, kid, Utc::now())?)?;
    if !was_retired {
        let store = open_store(settings)?;
        record_signing_key_event(
            &store,
            EventType::SigningKeyRetired,
            "cli",
            kid,
            view.clone(),
        )?;
    }
    Ok(view)
}

pub fn remove_key(settings: &Settings, kid: &str) -> anyhow::Result<serde_json::Value> {
    keys::remove(
        &settings.keys_dir,
        kid,
        settings.access_token_ttl_max,
        Utc::now(),
    )?;
    let view = serde_json::json!({"removed": kid});
    let store = open_store(settings)?;
    record_signing_key_event(
        &store,
        EventType::SigningKeyRemoved,
        "cli",
        kid,
        view.clone(),
    )?;
    Ok(view)
}

/// Parses `--token-ttl 10m` / `--expires-in 90d`.
pub fn parse_duration_arg(text: &str) -> Result<Duration, String> {
    crate::config::parse_duration(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kid_beginning_with_a_hyphen_is_a_value_not_a_flag() {
        // RFC 7638 thumbprints are base64url: about one in 64 starts with '-'.
        let kid = "-Tq3xX0gPzF3hJ9mQ1bYw2c4d5e6f7g8h9i0j1k2l3m";
        for action in ["activate", "retire", "remove"] {
            let cli = Cli::try_parse_from(["keygate", "signing-key", action, kid]).unwrap();
            let parsed = match cli.command {
                Command::SigningKey(
                    KeyCommand::Activate { kid }
                    | KeyCommand::Retire { kid }
                    | KeyCommand::Remove { kid },
                ) => kid,
                _ => panic!("wrong command"),
            };
            assert_eq!(parsed, kid);
        }
    }

    #[test]
    fn durations_and_grant_types_parse() {
        let cli = Cli::try_parse_from([
            "keygate",
            "client",
            "create",
            "--name",
            "n",
            "--scope",
            "read",
            "--token-ttl",
            "10m",
            "--grant-type",
            "client_credentials",
            "--grant-type",
            "refresh_token",
        ])
        .unwrap();
        match cli.command {
            Command::Client(ClientCommand::Create {
                token_ttl,
                grant_types,
                org,
                ..
            }) => {
                assert_eq!(token_ttl, Some(Duration::from_secs(600)));
                assert_eq!(grant_types, ["client_credentials", "refresh_token"]);
                assert_eq!(org, "default");
            }
            _ => panic!("wrong command"),
        }
        assert!(Cli::try_parse_from([
            "keygate",
            "client",
            "create",
            "--name",
            "n",
            "--scope",
            "r",
            "--token-ttl",
            "x"
        ])
        .is_err());
    }
}
