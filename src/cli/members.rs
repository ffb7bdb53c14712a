//! `keygate member …`: an organization's members — list, invite (printing a setup
//! link when the person has no password yet), set a role, remove — through the same
//! use cases as `/v1/members` and the dashboard (`users::members`), as the operator
//! (`cli`), who acts as an owner of every organization.

use chrono::Utc;
use clap::Subcommand;

use super::args::org_id_of;
use super::users::parse_role;
use crate::config::Settings;
use crate::identity::authority::Actor;
use crate::ids::UserId;
use crate::startup::open_store;
use crate::users::{members, service, MemberView, Role, UserError};

#[derive(Subcommand)]
pub enum MemberCommand {
    /// The members of an organization, oldest first.
    List {
        /// Organization slug.
        #[arg(long, default_value = crate::orgs::DEFAULT_ORG_SLUG)]
        org: String,
    },
    /// Make the person with EMAIL a member (an account is made if there is none);
    /// prints a one-time setup link when they have no password yet.
    Invite {
        #[arg(long)]
        email: String,
        /// Display name (for a new account).
        #[arg(long)]
        name: Option<String>,
        #[arg(long, default_value = crate::orgs::DEFAULT_ORG_SLUG)]
        org: String,
        /// owner, admin, developer or viewer.
        #[arg(long, value_parser = parse_role)]
        role: Role,
    },
    /// Give a member another role (the last owner keeps theirs).
    SetRole {
        user_id: UserId,
        /// owner, admin, developer or viewer.
        #[arg(value_parser = parse_role)]
        role: Role,
        #[arg(long, default_value = crate::orgs::DEFAULT_ORG_SLUG)]
        org: String,
    },
    /// End a membership and the person's sessions in the organization (the last
    /// owner stays).
    Remove {
        user_id: UserId,
        #[arg(long, default_value = crate::orgs::DEFAULT_ORG_SLUG)]
        org: String,
    },
}

pub(super) async fn run(
    command: MemberCommand,
    settings: Settings,
) -> anyhow::Result<serde_json::Value> {
    let store = open_store(&settings)?;
    let cli = Actor::operator("cli");
    let now = Utc::now().naive_utc();
    let named = |id: &UserId| {
        let id = id.clone();
        move |error: UserError| match error {
            UserError::NotFound => anyhow::anyhow!("{id} is not a member of this organization"),
            other => other.into(),
        }
    };
    match command {
        MemberCommand::List { org } => {
            store
                .read(move |tx| -> anyhow::Result<_> {
                    let org_id = org_id_of(tx, &org)?;
                    let members = members::list(tx, &cli, &org_id)?;
                    let views: Vec<_> = members
                        .iter()
                        .map(|(user, membership)| MemberView::new(user, membership))
                        .collect();
                    Ok(serde_json::to_value(views)?)
                })
                .await
        }
        MemberCommand::Invite {
            email,
            name,
            org,
            role,
        } => {
            let invited = store
                .write(move |tx| -> anyhow::Result<_> {
                    crate::orgs::repo::ensure_default(tx, now)?;
                    let org_id = org_id_of(tx, &org)?;
                    Ok(members::invite(
                        tx,
                        &cli,
                        &org_id,
                        &email,
                        name.as_deref(),
                        role,
                        now,
                    )?)
                })
                .await?;
            let mut shown =
                serde_json::to_value(MemberView::new(&invited.user, &invited.membership))?;
            if let (Some(token), serde_json::Value::Object(fields)) =
                (&invited.setup_token, &mut shown)
            {
                let url = service::setup_url(settings.issuer_base(), token);
                fields.insert("setup_url".into(), url.into());
                let expires = (now + service::SETUP_TOKEN_LIFETIME).and_utc();
                fields.insert("setup_expires_at".into(), serde_json::to_value(expires)?);
            }
            Ok(shown)
        }
        MemberCommand::SetRole { user_id, role, org } => {
            let on_error = named(&user_id);
            store
                .write(move |tx| -> anyhow::Result<_> {
                    let org_id = org_id_of(tx, &org)?;
                    let membership = members::change_role(tx, &cli, &org_id, &user_id, role, now)
                        .map_err(on_error)?;
                    Ok(serde_json::json!({
                        "user_id": membership.user_id,
                        "role": membership.role,
                    }))
                })
                .await
        }
        MemberCommand::Remove { user_id, org } => {
            let on_error = named(&user_id);
            store
                .write(move |tx| -> anyhow::Result<_> {
                    let org_id = org_id_of(tx, &org)?;
                    let ended =
                        members::remove(tx, &cli, &org_id, &user_id, now).map_err(on_error)?;
                    Ok(serde_json::json!({
                        "user_id": user_id,
                        "removed": true,
                        "sessions_ended": ended,
                    }))
                })
                .await
        }
    }
}
