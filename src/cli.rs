//! The operator commands behind `keygate …` (other than `serve`). Each prints JSON on
//! stdout; logs go to stderr.

use std::time::Duration;

use anyhow::Context;
use chrono::Utc;
use serde::Serialize;

use crate::clients::registration::{self, RegistrationPolicy};
use crate::clients::{self, ClientRegistration};
use crate::config::Settings;
use crate::orgs::{self, model::NewOrganization};
use crate::startup::open_store;
use crate::store::StoreError;
use crate::tokens::keys::{self, KeyAlg};

pub fn migrate(settings: &Settings) -> anyhow::Result<serde_json::Value> {
    let url = settings.database()?;
    let store = crate::store::Store::open(&url, 1)?;
    let applied = store.migrate()?;
    Ok(serde_json::json!({"applied": applied, "database": url.redacted()}))
}

/// `keygate client create`.
pub struct CreateClient {
    pub registration: ClientRegistration,
    pub org: String,
}

#[derive(Serialize)]
struct ClientView {
    client_id: String,
    name: String,
    org_id: String,
    scope: String,
    default_scope: String,
    grant_types: Vec<String>,
    audience: Option<String>,
    access_token_ttl_secs: Option<i64>,
    created_at: String,
    disabled_at: Option<String>,
}

impl From<&clients::Client> for ClientView {
    fn from(c: &clients::Client) -> Self {
        Self {
            client_id: c.id.clone(),
            name: c.name.clone(),
            org_id: c.org_id.clone(),
            scope: c.allowed_scopes.clone(),
            default_scope: c.default_scopes.clone(),
            grant_types: c.grant_types.split(' ').map(str::to_owned).collect(),
            audience: c.audience.clone(),
            access_token_ttl_secs: c.access_token_ttl_secs,
            created_at: c.created_at.and_utc().to_rfc3339(),
            disabled_at: c.disabled_at.map(|t| t.and_utc().to_rfc3339()),
        }
    }
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
        registration::register(conn, cmd.registration, &cmd.org, &policy, now)
    })?;
    let mut view = serde_json::to_value(ClientView::from(&client))?;
    // Shown once; keygate keeps only its argon2id hash.
    view["client_secret"] = serde_json::Value::String(secret.expose().to_owned());
    Ok(view)
}

pub fn list_clients(settings: &Settings, org: Option<&str>) -> anyhow::Result<serde_json::Value> {
    let store = open_store(settings)?;
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
        clients.iter().map(ClientView::from).collect::<Vec<_>>(),
    )?)
}

pub fn disable_client(settings: &Settings, id: &str) -> anyhow::Result<serde_json::Value> {
    let store = open_store(settings)?;
    let now = Utc::now().naive_utc();
    let client = store.with_conn(|conn| -> anyhow::Result<_> {
        clients::repo::disable(conn, id, now)?;
        clients::repo::find(conn, id)?.with_context(|| format!("no client with id '{id}'"))
    })?;
    Ok(serde_json::to_value(ClientView::from(&client))?)
}

pub fn create_org(
    settings: &Settings,
    slug: &str,
    name: &str,
) -> anyhow::Result<serde_json::Value> {
    validate_slug(slug)?;
    let store = open_store(settings)?;
    let now = Utc::now().naive_utc();
    let org = store
        .with_conn(|conn| {
            orgs::repo::create(conn, &NewOrganization::new(slug, name, now))
                .map_err(StoreError::from)
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
    Ok(serde_json::to_value(meta)?)
}

pub fn list_keys(settings: &Settings) -> anyhow::Result<serde_json::Value> {
    Ok(serde_json::to_value(keys::read_metas(&settings.keys_dir)?)?)
}

pub fn activate_key(settings: &Settings, kid: &str) -> anyhow::Result<serde_json::Value> {
    Ok(serde_json::to_value(keys::activate(
        &settings.keys_dir,
        kid,
        Utc::now(),
    )?)?)
}

pub fn retire_key(settings: &Settings, kid: &str) -> anyhow::Result<serde_json::Value> {
    Ok(serde_json::to_value(keys::retire(
        &settings.keys_dir,
        kid,
        Utc::now(),
    )?)?)
}

pub fn remove_key(settings: &Settings, kid: &str) -> anyhow::Result<serde_json::Value> {
    keys::remove(
        &settings.keys_dir,
        kid,
        settings.access_token_ttl_max,
        Utc::now(),
    )?;
    Ok(serde_json::json!({"removed": kid}))
}

/// Parses `--token-ttl 10m` / `--expires-in 90d`.
pub fn parse_duration_arg(text: &str) -> Result<Duration, String> {
    crate::config::parse_duration(text)
}
