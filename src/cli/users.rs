//! `keygate user …`: create a person (printing their one-time setup link), list
//! people with their memberships, disable one — through the people use cases
//! (`users::service`), as the operator (`cli`), who sees every organization.

use chrono::Utc;
use clap::Subcommand;

use super::args::org_id_of;
use crate::config::Settings;
use crate::identity::authority::Actor;
use crate::ids::UserId;
use crate::orgs;
use crate::startup::open_store;
use crate::users::{self, service, Role, UserError, UserView};

#[derive(Subcommand)]
pub enum UserCommand {
    /// Create a person in an organization; prints their one-time setup link, where
    /// they choose a password (valid 24 hours, shown once).
    Create {
        #[arg(long)]
        email: String,
        /// Display name.
        #[arg(long)]
        name: Option<String>,
        /// Organization slug.
        #[arg(long, default_value = crate::orgs::DEFAULT_ORG_SLUG)]
        org: String,
        /// owner, admin, developer or viewer.
        #[arg(long, value_parser = parse_role)]
        role: Role,
    },
    /// List people with their memberships (of one organization with --org).
    List {
        #[arg(long)]
        org: Option<String>,
    },
    /// Disable a person: they cannot sign in, and every session of theirs ends.
    Disable { id: UserId },
    /// A new one-time setup link for a person (a forgotten password, an expired
    /// link): shown once, valid 24 hours; using it ends their sessions.
    SetupLink { id: UserId },
    /// Turn off a person's second factor (they lost their app and their recovery
    /// codes); they sign in with their password and may enrol again.
    ResetSecondFactor { id: UserId },
}

pub(super) async fn run(
    command: UserCommand,
    settings: Settings,
) -> anyhow::Result<serde_json::Value> {
    match command {
        UserCommand::Create {
            email,
            name,
            org,
            role,
        } => create(&settings, email, name, org, role).await,
        UserCommand::List { org } => list(&settings, org).await,
        UserCommand::Disable { id } => disable(&settings, id).await,
        UserCommand::SetupLink { id } => setup_link(&settings, id).await,
        UserCommand::ResetSecondFactor { id } => reset_second_factor(&settings, id).await,
    }
}

async fn create(
    settings: &Settings,
    email: String,
    name: Option<String>,
    org: String,
    role: Role,
) -> anyhow::Result<serde_json::Value> {
    let store = open_store(settings)?;
    let now = Utc::now().naive_utc();
    let (user, token) = {
        let org = org.clone();
        store
            .write(move |tx| -> anyhow::Result<_> {
                orgs::repo::ensure_default(tx, now)?;
                let org_id = org_id_of(tx, &org)?;
                let created = service::create_user(
                    tx,
                    &Actor::operator("cli"),
                    &email,
                    name.as_deref(),
                    &org_id,
                    role,
                    now,
                )?;
                Ok(created)
            })
            .await?
    };
    let expires = (now + service::SETUP_TOKEN_LIFETIME).and_utc();
    // The setup link right after the id, where a person looks: it is shown this once
    // (keygate keeps only its digest).
    Ok(serde_json::json!({
        "user_id": user.id,
        "setup_url": service::setup_url(settings.issuer_base(), &token),
        "email": user.email,
        "org": org,
        "role": role.as_str(),
        "setup_expires_at": expires,
    }))
}

async fn list(settings: &Settings, org: Option<String>) -> anyhow::Result<serde_json::Value> {
    let store = open_store(settings)?;
    let listed = store
        .read(move |tx| -> anyhow::Result<_> {
            let members = match &org {
                Some(slug) => {
                    let org_id = org_id_of(tx, slug)?;
                    users::repo::members_of(tx, &org_id)?
                }
                None => users::repo::members_of_any_org(tx)?,
            };
            let slugs: std::collections::HashMap<_, _> = orgs::repo::list(tx)?
                .into_iter()
                .map(|o| (o.id, o.slug))
                .collect();
            let views = members
                .iter()
                .map(|(user, membership)| {
                    let org = slugs
                        .get(&membership.org_id)
                        .map_or(membership.org_id.as_str(), String::as_str);
                    serde_json::to_value(UserView::new(user, membership, org))
                })
                .collect::<Result<Vec<_>, _>>()?;
            Ok(views)
        })
        .await?;
    Ok(serde_json::Value::Array(listed))
}

async fn setup_link(settings: &Settings, id: UserId) -> anyhow::Result<serde_json::Value> {
    let store = open_store(settings)?;
    let now = Utc::now().naive_utc();
    let token = {
        let id = id.clone();
        store.write(move |tx| service::new_setup_link(tx, &Actor::operator("cli"), &id, now))
    }
    .await
    .map_err(|error| match error {
        UserError::NotFound => anyhow::anyhow!("no person {id} (or they are disabled)"),
        other => other.into(),
    })?;
    Ok(serde_json::json!({
        "user_id": id,
        "setup_url": service::setup_url(settings.issuer_base(), &token),
        "setup_expires_at": (now + service::SETUP_TOKEN_LIFETIME).and_utc(),
    }))
}

async fn disable(settings: &Settings, id: UserId) -> anyhow::Result<serde_json::Value> {
    let store = open_store(settings)?;
    let now = Utc::now().naive_utc();
    let user = {
        let id = id.clone();
        store.write(move |tx| service::disable_user(tx, &Actor::operator("cli"), &id, now))
    }
    .await
    .map_err(|error| match error {
        UserError::NotFound => anyhow::anyhow!("no person {id}"),
        other => other.into(),
    })?;
    Ok(serde_json::json!({
        "user_id": user.id,
        "email": user.email,
        "disabled_at": user.disabled_at.map(|t| t.and_utc()),
    }))
}

async fn reset_second_factor(settings: &Settings, id: UserId) -> anyhow::Result<serde_json::Value> {
    let store = open_store(settings)?;
    let now = Utc::now().naive_utc();
    let reset = {
        let id = id.clone();
        store.write(move |tx| {
            users::second_factor::reset_by_operator(tx, &Actor::operator("cli"), &id, now)
        })
    }
    .await
    .map_err(|error| match error {
        users::second_factor::SecondFactorError::NotEnabled => anyhow::anyhow!("no person {id}"),
        other => other.into(),
    })?;
    Ok(serde_json::json!({ "user_id": id, "second_factor_was_on": reset }))
}

pub(super) fn parse_role(text: &str) -> Result<Role, String> {
    Role::parse(text)
        .ok_or_else(|| format!("unknown role '{text}': use owner, admin, developer or viewer"))
}
