//! Wiring: open and migrate the store, make sure the default organization and an
//! active signing key exist, build the shared state, and start the HTTP server.

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::dev::Server;
use actix_web::middleware::from_fn;
use actix_web::{web, App, HttpServer};
use anyhow::Context;

use crate::clients::SecretVerifier;
use crate::clock::{Clock, SystemClock};
use crate::config::Settings;
use crate::oauth::OAuthState;
use crate::store::Store;
use crate::tokens::{keys, KeyRing};
use crate::{error, health, oauth, orgs, telemetry, tokens};

pub struct Application {
    server: Server,
    port: u16,
}

impl Application {
    pub fn build(settings: Settings) -> anyhow::Result<Self> {
        Self::build_with_clock(settings, Arc::new(SystemClock))
    }

    pub fn build_with_clock(settings: Settings, clock: Arc<dyn Clock>) -> anyhow::Result<Self> {
        let store = open_store(&settings)?;
        bootstrap(&store, clock.as_ref())?;
        let keys = web::Data::new(load_signing_keys(&settings, clock.as_ref())?);
        let verifier =
            SecretVerifier::new(settings.secret_cache_entries, settings.argon2_permits())
                .context("preparing client-secret verification")?;
        let oauth_state = web::Data::new(
            OAuthState::new(&settings, keys.clone(), verifier, clock).context("issuer URL")?,
        );
        let store = web::Data::new(store);

        let listener = TcpListener::bind(&settings.bind)
            .with_context(|| format!("cannot listen on {}", settings.bind))?;
        let port = listener
            .local_addr()
            .context("reading the bound address")?
            .port();
        let server = HttpServer::new(move || {
            App::new()
                .wrap(from_fn(telemetry::log_request))
                .app_data(store.clone())
                .app_data(keys.clone())
                .app_data(oauth_state.clone())
                .configure(oauth::configure)
                .configure(tokens::configure)
                .configure(health::configure)
                .default_service(web::to(error::not_found))
        })
        .workers(settings.worker_count())
        // Blocking work is a database read (bounded by the pool) or argon2 (bounded by
        // its leases); more threads than that only cost memory.
        .worker_max_blocking_threads(
            settings.database_max_connections as usize + settings.argon2_permits(),
        )
        .listen(listener)
        .context("starting the HTTP server")?
        .run();
        tracing::info!(address = %format!("{}:{port}", listener_host(&settings.bind)), database = %settings.database()?.redacted(), "keygate listening");
        Ok(Self { server, port })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}

fn listener_host(bind: &str) -> &str {
    bind.rsplit_once(':').map_or(bind, |(host, _)| host)
}

/// Opens the pool and applies pending migrations.
pub fn open_store(settings: &Settings) -> anyhow::Result<Store> {
    let url = settings.database()?;
    let store = Store::open(&url, settings.database_max_connections)?;
    let applied = store.migrate().context("migrating the database")?;
    if applied > 0 {
        tracing::info!(applied, "applied database migrations");
    }
    Ok(store)
}

/// First-run set-up of an empty database.
fn bootstrap(store: &Store, clock: &dyn Clock) -> anyhow::Result<()> {
    let now = clock.now().naive_utc();
    let (org, created) = store
        .with_conn(|conn| {
            orgs::repo::ensure_default(conn, now).map_err(crate::store::StoreError::from)
        })
        .context("creating the default organization")?;
    if created {
        tracing::info!(org = %org.slug, "created the default organization");
    }
    Ok(())
}

/// Loads `keys/`, generating an ES256 key first if there is no active one.
fn load_signing_keys(settings: &Settings, clock: &dyn Clock) -> anyhow::Result<KeyRing> {
    if let Some(generated) = keys::ensure_active(&settings.keys_dir, clock.now())
        .context("generating the first signing key")?
    {
        tracing::info!(kid = %generated.kid, alg = %generated.alg, dir = %settings.keys_dir.display(),
            "no signing key found: generated one");
    }
    KeyRing::load(&settings.keys_dir).context("loading signing keys")
}
