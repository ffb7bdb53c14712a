//! The command line: argument definitions (clap) and the operator commands behind
//! them, one file per domain. Commands other than `serve` print JSON on stdout (a
//! stdout closed early, as by `| head`, ends them quietly); logs go to stderr.
//!
//! A command is one more caller of the store's doors, like an HTTP handler: each
//! runs on a small runtime of its own, and each change commits with its audit event
//! or not at all.

mod api_keys;
mod args;
mod clients;
mod members;
mod orgs;
mod output;
mod reports;
mod signing_keys;
mod users;

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};

pub use api_keys::ApiKeyCommand;
pub use clients::ClientCommand;
pub use members::MemberCommand;
pub use orgs::OrgCommand;
pub use signing_keys::KeyCommand;
pub use users::UserCommand;

use crate::config::Settings;
use crate::startup::Application;
use output::write_out;

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
    /// Manage people: accounts, their memberships and roles.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage an organization's members: invite, set a role, remove.
    #[command(subcommand)]
    Member(MemberCommand),
    /// Manage signing keys in the keys directory.
    #[command(subcommand, name = "signing-key")]
    SigningKey(KeyCommand),
    /// Requests and token requests per period, of an organization (with its busiest
    /// keys and clients) or of one key or client, as `GET /v1/usage`.
    Usage(reports::UsageArgs),
    /// An organization's audit events, oldest first, as `GET /v1/audit-events`.
    Audit(reports::AuditArgs),
    /// Print a completion script for SHELL (e.g. `keygate completions bash >
    /// /etc/bash_completion.d/keygate`). Needs no settings or database.
    Completions { shell: clap_complete::Shell },
}

/// Runs one command; all but `serve` print JSON on stdout.
pub fn execute(command: Command, settings: Settings) -> anyhow::Result<()> {
    let output = match command {
        Command::Serve => return serve(settings),
        Command::Completions { shell } => return print_completions(shell),
        Command::Migrate => migrate(&settings)?,
        Command::Client(command) => on_runtime(clients::run(command, settings))?,
        Command::ApiKey(command) => on_runtime(api_keys::run(command, settings))?,
        Command::Org(command) => on_runtime(orgs::run(command, settings))?,
        Command::User(command) => on_runtime(users::run(command, settings))?,
        Command::Member(command) => on_runtime(members::run(command, settings))?,
        Command::SigningKey(command) => on_runtime(signing_keys::run(command, settings))?,
        Command::Usage(args) => on_runtime(reports::usage(args, settings))?,
        Command::Audit(args) => on_runtime(reports::audit(args, settings))?,
    };
    match write_out(&serde_json::to_string_pretty(&output)?) {
        // The reader has gone (`keygate … | head`): not a failure of the command —
        // what it did is done, and whoever closed the pipe read what they wanted —
        // so it ends quietly, where `println!` would panic.
        Err(error) if error.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        written => written.context("writing the output"),
    }
}

/// Runs a command on a runtime of its own: the store's doors are async.
fn on_runtime<T>(
    command: impl std::future::Future<Output = anyhow::Result<T>>,
) -> anyhow::Result<T> {
    actix_web::rt::System::new().block_on(command)
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

fn serve(settings: Settings) -> anyhow::Result<()> {
    let workers = settings.worker_count();
    actix_web::rt::System::new().block_on(async move {
        let mut app = Application::build(settings).await?;
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

#[cfg(test)]
mod tests {
    use std::time::Duration;

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
