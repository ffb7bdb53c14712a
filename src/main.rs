//! The `keygate` command line: parse arguments, load settings, run a command.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};

use keygate::cli;
use keygate::clients::ClientRegistration;
use keygate::config::Settings;
use keygate::startup::Application;
use keygate::tokens::KeyAlg;

/// mimalloc instead of glibc malloc: the token path allocates many small objects
/// across worker and blocking threads, where glibc's per-thread arenas cost ~15 %
/// of throughput (bench/token.sh) and hold on to freed memory.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "keygate",
    version,
    about = "OAuth 2.0 authorization server with API-key fallback"
)]
struct Cli {
    /// TOML settings file; KEYGATE_* environment variables override it.
    #[arg(long, global = true, env = "KEYGATE_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
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
    /// Manage signing keys in the keys directory.
    #[command(subcommand, name = "signing-key")]
    SigningKey(KeyCommand),
}

#[derive(Subcommand)]
enum ClientCommand {
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
        #[arg(long, default_value = keygate::orgs::DEFAULT_ORG_SLUG)]
        org: String,
        /// `aud` of this client's access tokens (default: the server's default audience).
        #[arg(long)]
        audience: Option<String>,
        /// Access-token lifetime, e.g. 10m (default: the server's access_token_ttl).
        #[arg(long, value_parser = cli::parse_duration_arg)]
        token_ttl: Option<Duration>,
    },
    /// List clients (never their secrets).
    List {
        #[arg(long)]
        org: Option<String>,
    },
    /// Disable a client: its secret stops working at once.
    Disable { client_id: String },
}

#[derive(Subcommand)]
enum OrgCommand {
    Create {
        #[arg(long)]
        slug: String,
        #[arg(long)]
        name: String,
    },
    List,
}

/// A `kid` is a base64url thumbprint and may begin with `-`, so KID arguments accept
/// leading hyphens as values.
/// A `kid` is a base64url thumbprint and may begin with `-`, so KID arguments accept
/// leading hyphens as values.
#[derive(Subcommand)]
enum KeyCommand {
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

fn main() -> ExitCode {
    let args = Cli::parse();
    let settings = match Settings::load(args.config.as_deref()) {
        Ok(settings) => settings,
        Err(e) => {
            eprintln!("keygate: {e}");
            return ExitCode::from(2);
        }
    };
    keygate::telemetry::init(settings.log_format);
    match run(args.command, settings) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("keygate: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(command: Command, settings: Settings) -> anyhow::Result<()> {
    let output = match command {
        Command::Serve => return serve(settings),
        Command::Migrate => cli::migrate(&settings)?,
        Command::Client(ClientCommand::Create {
            name,
            scope,
            default_scope,
            grant_types,
            org,
            audience,
            token_ttl,
        }) => cli::create_client(
            &settings,
            cli::CreateClient {
                registration: ClientRegistration {
                    name,
                    scope,
                    default_scope,
                    grant_types,
                    audience,
                    access_token_ttl: token_ttl,
                },
                org,
            },
        )?,
        Command::Client(ClientCommand::List { org }) => {
            cli::list_clients(&settings, org.as_deref())?
        }
        Command::Client(ClientCommand::Disable { client_id }) => {
            cli::disable_client(&settings, &client_id)?
        }
        Command::Org(OrgCommand::Create { slug, name }) => {
            cli::create_org(&settings, &slug, &name)?
        }
        Command::Org(OrgCommand::List) => cli::list_orgs(&settings)?,
        Command::SigningKey(KeyCommand::Generate { alg }) => cli::generate_key(&settings, alg)?,
        Command::SigningKey(KeyCommand::List) => cli::list_keys(&settings)?,
        Command::SigningKey(KeyCommand::Activate { kid }) => cli::activate_key(&settings, &kid)?,
        Command::SigningKey(KeyCommand::Retire { kid }) => cli::retire_key(&settings, &kid)?,
        Command::SigningKey(KeyCommand::Remove { kid }) => cli::remove_key(&settings, &kid)?,
    };
    println!("{}", serde_json::to_string_pretty(&output)?);
    Ok(())
}

fn serve(settings: Settings) -> anyhow::Result<()> {
    let workers = settings.worker_count();
    actix_web::rt::System::new().block_on(async move {
        let app = Application::build(settings)?;
        tracing::info!(workers, "serving");
        app.run_until_stopped()
            .await
            .context("server stopped with an error")
    })
}
