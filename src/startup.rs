//! Wiring: open and migrate the store, make sure an active signing key exists, build
//! the shared state, bind the listener, and only then — with everything that can fail
//! behind it — create the default organization and bootstrap key, and start serving.

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::dev::Server;
use actix_web::middleware::from_fn;
use actix_web::{web, App, HttpServer};
use anyhow::Context;

use crate::api_keys;
use crate::argon2_budget::{Argon2Budget, FailedAuthThrottle};
use crate::clients::{self, SecretVerifier};
use crate::clock::{Clock, SystemClock};
use crate::config::Settings;
use crate::identity::authority::Actor;
use crate::identity::{self, Resolver};
use crate::limits::{self, RateLimits};
use crate::oauth::handlers::Metadata;
use crate::oauth::resource_metadata::ProtectedResources;
use crate::oauth::{ClientAuthentication, OAuthState, TokenIssuance};
use crate::secret::Secret;
use crate::store::Store;
use crate::tokens::{signing_keys, KeyRing, SigningKeys};
use crate::usage::{self, Meter};
use crate::{audit, error, health, oauth, orgs, telemetry, tokens};

pub struct Application {
    server: Server,
    port: u16,
    bootstrap_key: Option<Secret>,
    meter: web::Data<Meter>,
    store: web::Data<Store>,
}

impl Application {
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        Self::build_with_clock(settings, Arc::new(SystemClock)).await
    }

    pub async fn build_with_clock(
        settings: Settings,
        clock: Arc<dyn Clock>,
    ) -> anyhow::Result<Self> {
        let store = open_store(&settings)?;
        let database = settings.database_url.redacted();
        let keys = web::Data::new(SigningKeys::with_permissions(
            &settings.keys_dir,
            load_signing_keys(&settings, &store, clock.as_ref()).await?,
            settings.loose_key_permissions(),
        ));
        SigningKeys::spawn_watcher(keys.clone(), settings.keys_reload_interval);
        // Beside the signing keys, shared the same way by every instance.
        let sealer = web::Data::new(load_sealer(&settings)?);
        let argon2_budget = web::Data::new(
            Argon2Budget::new(
                settings.argon2_permits(),
                settings.argon2_max_wait,
                FailedAuthThrottle::new(
                    settings.auth_failures_per_minute,
                    settings.auth_failures_per_minute_per_source,
                ),
            )
            .context("preparing client-secret verification")?,
        );
        let resolver = web::Data::new(Resolver::new(
            keys.clone(),
            settings.issuer.as_str().to_owned(),
            settings.management_audience(),
            settings.audience().to_owned(),
            clock.clone(),
        ));
        // The one clock, and the one credential policy, every handler reads.
        let app_clock: web::Data<dyn Clock> = web::Data::from(clock.clone());
        let policy = web::Data::new(settings.credential_policy());
        let dashboard = web::Data::new(crate::web::DashboardSettings::new(&settings));
        let meter = web::Data::new(Meter::new(settings.usage_metering, clock.clone()));
        let mut rate_limits =
            RateLimits::new(settings.rate_limits, settings.tiers.clone(), clock.clone());
        if let Some(url) = &settings.redis_url {
            let shared = limits::SharedLimiter::new(url.expose(), &settings.redis_key_prefix)
                .context("redis_url")?;
            rate_limits = rate_limits.with_shared(shared);
            tracing::info!(redis_host = %url.host(), "rate limits shared through Redis");
        }
        let rate_limits = web::Data::new(rate_limits);
        let mailer = web::Data::new(start_mailer(&settings)?);
        let metrics = web::Data::new(crate::metrics::Metrics::default());
        let oauth_state = web::Data::new(OAuthState {
            issuance: TokenIssuance::new(&settings, keys.clone(), policy.clone()),
            client_auth: ClientAuthentication {
                verifier: SecretVerifier::new(settings.secret_cache_entries),
                budget: argon2_budget.clone(),
            },
            max_body_bytes: settings.max_body_bytes,
            clock: clock.clone(),
            open_registration: crate::oauth::registration::OpenRegistration::from_settings(
                &settings,
            ),
        });
        let metadata = web::Data::new(Metadata::render(&settings));
        let protected_resources = web::Data::new(ProtectedResources::new(&settings));
        let store = web::Data::new(store);
        Meter::spawn_flusher(meter.clone(), store.clone(), settings.usage_flush_interval);
        let (app_meter, app_store) = (meter.clone(), store.clone());
        let body_limit = settings.max_body_bytes;

        let listener = TcpListener::bind(&settings.bind)
            .with_context(|| format!("cannot listen on {}", settings.bind))?;
        let port = listener
            .local_addr()
            .context("reading the bound address")?
            .port();
        let server = HttpServer::new(move || {
            App::new()
                .wrap(from_fn(usage::meter_requests))
                .wrap(from_fn(limits::rate_limit_headers))
                .wrap(from_fn(telemetry::log_request))
                .app_data(store.clone())
                .app_data(keys.clone())
                .app_data(oauth_state.clone())
                .app_data(metadata.clone())
                .app_data(protected_resources.clone())
                .app_data(argon2_budget.clone())
                .app_data(resolver.clone())
                .app_data(app_clock.clone())
                .app_data(policy.clone())
                .app_data(rate_limits.clone())
                .app_data(metrics.clone())
                .app_data(meter.clone())
                .app_data(error::json_config(body_limit))
                .app_data(crate::api::BodyLimit(body_limit))
                .app_data(error::query_config())
                .app_data(web::FormConfig::default().limit(body_limit))
                .app_data(web::PayloadConfig::new(body_limit))
                .app_data(dashboard.clone())
                .app_data(sealer.clone())
                .app_data(mailer.clone())
                .configure(oauth::handlers::configure)
                .configure(identity::handlers::configure)
                .configure(api_keys::handlers::configure)
                .configure(clients::handlers::configure)
                .configure(crate::users::handlers::configure)
                .configure(orgs::handlers::configure)
                .configure(audit::handlers::configure)
                .configure(usage::handlers::configure)
                .configure(tokens::handlers::configure)
                .configure(health::configure)
                .configure(crate::metrics::configure)
                .configure(crate::openapi::configure)
                .configure(crate::web::handlers::configure)
                .default_service(web::to(error::not_found))
        })
        .workers(settings.worker_count())
        // Blocking work is a database read (bounded by the pool) or argon2 (bounded by
        // its leases); more threads than that only cost memory.
        .worker_max_blocking_threads(
            settings.database_max_connections as usize + settings.argon2_permits(),
        )
        .listen(listener)
        .context("starting the HTTP server")?;
        // Last, once nothing else can fail: a key made by a start that then failed
        // (a broken keys directory, the port taken) would never be shown, and the
        // next start makes none, as the database has a key — the operator would be
        // locked out.
        let bootstrap_key = bootstrap(&app_store, &settings, clock.as_ref()).await?;
        let server = server.run();
        tracing::info!(address = %format!("{}:{port}", listener_host(&settings.bind)), %database, "keygate listening");
        Ok(Self {
            server,
            port,
            bootstrap_key,
            meter: app_meter,
            store: app_store,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The admin API key created on an empty database, once; `serve` prints it.
    pub fn take_bootstrap_key(&mut self) -> Option<Secret> {
        self.bootstrap_key.take()
    }

    /// Serves until stopped (SIGINT/SIGTERM: in-flight requests finish), then writes
    /// the usage counted since the last flush.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let served = self.server.await;
        self.meter.flush(&self.store).await;
        served
    }
}

/// The key that seals second factors; a keys directory that has none and cannot take
/// one (mounted read-only) serves without it, saying so, rather than not at all.
fn load_sealer(settings: &Settings) -> anyhow::Result<crate::users::sealing::Sealer> {
    use crate::users::sealing::{SealError, Sealer};
    match Sealer::load_or_create(&settings.keys_dir) {
        Ok(sealer) => Ok(sealer),
        Err(error @ SealError::CannotCreate { .. }) => {
            tracing::warn!(%error, "second factors cannot be set up until the key file exists; sign-ins without one are unaffected");
            Ok(Sealer::without_key())
        }
        Err(error) => Err(error).context("the key that seals second factors"),
    }
}

/// The mail thread, when a relay is configured; otherwise a mailer that sends
/// nothing (invitations show their link; no password-reset form).
fn start_mailer(settings: &Settings) -> anyhow::Result<crate::mail::Mailer> {
    match settings.mail_relay()? {
        Some((relay, from)) => {
            tracing::info!(smtp_host = %relay.host, smtp_port = relay.port,
                encryption = ?relay.encryption, "invitations and password resets are mailed");
            crate::mail::Mailer::start(relay, from).context("starting the mail thread")
        }
        None => Ok(crate::mail::Mailer::off()),
    }
}

fn listener_host(bind: &str) -> &str {
    bind.rsplit_once(':').map_or(bind, |(host, _)| host)
}

/// Opens the pool and applies pending migrations.
pub fn open_store(settings: &Settings) -> anyhow::Result<Store> {
    let store = Store::open_with_statement_timeout(
        &settings.database_url,
        settings.database_max_connections,
        Some(settings.database_statement_timeout),
    )?;
    store.check_writable()?;
    let applied = store.migrate().context("migrating the database")?;
    if applied > 0 {
        tracing::info!(applied, "applied database migrations");
    }
    Ok(store)
}

/// First-run set-up of an empty database: the default organization and, on a
/// database without API keys or clients, an admin key with every configured scope,
/// returned to be shown once. A database that already has clients (made with the
/// CLI, or by a version without API keys) gets no key: `keygate api-key create`
/// makes one.
async fn bootstrap(
    store: &Store,
    settings: &Settings,
    clock: &dyn Clock,
) -> anyhow::Result<Option<Secret>> {
    let now = clock.now().naive_utc();
    let (org, created) = store
        .write(move |tx| {
            orgs::repo::ensure_default(tx, now).map_err(crate::store::StoreError::from)
        })
        .await
        .context("creating the default organization")?;
    if created {
        tracing::info!(org = %org.slug, "created the default organization");
    }
    let known = settings.scopes.clone();
    let issued = store
        .write(move |tx| api_keys::service::create_bootstrap(tx, &org.id, &known, now))
        .await
        .context("creating the bootstrap API key")?;
    Ok(issued.map(|issued| {
        tracing::info!(key_id = %issued.row.id, "created the bootstrap admin API key");
        issued.key
    }))
}

/// Loads `keys/`, generating an ES256 key first if there is no active one.
async fn load_signing_keys(
    settings: &Settings,
    store: &Store,
    clock: &dyn Clock,
) -> anyhow::Result<KeyRing> {
    let (dir, now) = (settings.keys_dir.clone(), clock.now());
    let generated = store
        .write(move |tx| {
            let actor = Actor::operator("serve");
            signing_keys::service::ensure_active(tx, &actor, &dir, now)
        })
        .await
        .context("generating the first signing key")?;
    if let Some(generated) = generated {
        tracing::info!(kid = %generated.kid, alg = %generated.alg, dir = %settings.keys_dir.display(),
            "no signing key found: generated one");
    }
    KeyRing::load_with(&settings.keys_dir, settings.loose_key_permissions())
        .context("loading signing keys")
}
