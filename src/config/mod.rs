//! Settings: built-in defaults, overlaid by an optional TOML file, overlaid by
//! `KEYGATE_*` environment variables (`KEYGATE_FOO_FILE` reads `foo` from a file, for
//! secrets). Everything is validated here, at load time, with a message naming the key,
//! and parsed once into typed values (`values`): the database URL, the issuer, the
//! Redis URL, the scopes.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::limits::TierLimit;
use crate::scope::ScopeSet;
use crate::store::DatabaseUrl;

mod values;

pub use values::{parse_duration, Issuer, RedisUrl, SmtpUrl};

/// Environment variables that configure the CLI or the test harness rather than
/// `Settings`, and so are not overlaid.
const NOT_SETTINGS: &[&str] = &["KEYGATE_CONFIG", "KEYGATE_LOG"];
const ENV_PREFIX: &str = "KEYGATE_";

/// Per-client access-token lifetimes may not go below this.
pub const MIN_ACCESS_TOKEN_TTL: Duration = Duration::from_secs(60);

/// `Debug` is derived: the secrets it holds (the database and Redis URLs) are types
/// whose own `Debug` redacts them.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// `sqlite://PATH` (default, embedded) or `postgres://…`.
    #[serde(deserialize_with = "values::database_url")]
    pub database_url: DatabaseUrl,
    /// Upper bound of the connection pool. Size it to the database server, not to the
    /// load: a few connections per database core. Beyond that, on a 2-core PostgreSQL
    /// server, backends contend for the same hot buffers and p99 latency grew from
    /// ~2 ms (4 connections) to 0.4–1 s (16) in `bench/me.sh`, with no more throughput.
    pub database_max_connections: u32,
    /// PostgreSQL: a statement that takes longer (waiting on a lock) is cancelled and
    /// its request answered 503; migrations have none. On either backend a request's
    /// whole wait for the database is bounded by this plus the 5 s connection wait,
    /// a hung server's (which cannot cancel its own statement) included.
    #[serde(deserialize_with = "values::duration")]
    pub database_statement_timeout: Duration,
    /// Address the HTTP server listens on.
    pub bind: String,
    /// The `iss` of every token and the base of the published endpoint URLs.
    pub issuer: Issuer,
    /// Where signing keys are kept as PEM files.
    pub keys_dir: PathBuf,
    /// Accept (with a warning) a `keys_dir` or PEM files that group or others may
    /// access, which are otherwise refused: for mounts whose modes cannot be chosen.
    pub allow_loose_key_permissions: bool,
    /// How often the server looks for changes in `keys_dir` (new, activated, retired
    /// or removed keys) and reloads them.
    #[serde(deserialize_with = "values::duration")]
    pub keys_reload_interval: Duration,
    /// `aud` of access tokens for clients registered without an audience; defaults to
    /// the issuer.
    pub default_audience: Option<String>,
    /// The `aud` keygate's own API (`/v1`) accepts; defaults to `<issuer>/v1`. Never
    /// the default audience: a token a client got for the platform's API, `admin`
    /// scope or not, must not manage keygate. Register a client with this audience
    /// to manage keygate with access tokens.
    pub management_audience: Option<String>,
    /// Access-token lifetime for clients registered without one.
    #[serde(deserialize_with = "values::duration")]
    pub access_token_ttl: Duration,
    /// The longest lifetime a client may be registered with.
    #[serde(deserialize_with = "values::duration")]
    pub access_token_ttl_max: Duration,
    /// Absolute lifetime of a refresh-token family (from the original grant).
    #[serde(deserialize_with = "values::duration")]
    pub refresh_token_ttl: Duration,
    /// A refresh token unused for this long expires.
    #[serde(deserialize_with = "values::duration")]
    pub refresh_token_idle_ttl: Duration,
    /// Largest accepted request body, in bytes: on `/oauth/*`, and for every JSON body
    /// of the management API (`web::Json` and the rotate endpoints' optional ones).
    pub max_body_bytes: usize,
    /// HTTP worker threads; 0 means one per core.
    pub workers: usize,
    /// Concurrent argon2id verifications; 0 means one per core. Each uses ~19 MiB.
    pub argon2_max_concurrency: usize,
    /// How long a request may wait for an argon2 verification slot before it is
    /// answered 503 (`temporarily_unavailable`) — bounds the queue a flood can build.
    #[serde(deserialize_with = "values::duration")]
    pub argon2_max_wait: Duration,
    /// Successful client-secret verifications remembered, so the token endpoint does
    /// not pay argon2 on every request.
    pub secret_cache_entries: usize,
    /// `text` or `json`.
    pub log_format: LogFormat,
    /// Failed client authentications allowed per client id per minute (then 429).
    pub auth_failures_per_minute: u32,
    /// Failed client authentications allowed per source address per minute.
    pub auth_failures_per_minute_per_source: u32,
    /// Whether requests are counted per key/client, minute and status class.
    pub usage_metering: bool,
    /// How often the counts are written to the database (and at a graceful stop).
    #[serde(deserialize_with = "values::duration")]
    pub usage_flush_interval: Duration,
    /// `redis://…`: rate limits shared by every instance using it (optional).
    pub redis_url: Option<RedisUrl>,
    /// Prefix of keygate's Redis keys (instances sharing limits use the same one).
    pub redis_key_prefix: String,
    /// Whether requests resolved by the identity resolver are rate limited.
    pub rate_limits: bool,
    /// Requests per minute and burst per organization tier (`[tiers.<name>]` in the
    /// settings file). Organizations whose tier is not listed get `free`'s.
    pub tiers: BTreeMap<String, TierLimit>,
    /// A dashboard session unused for this long ends (the person signs in again).
    #[serde(deserialize_with = "values::duration")]
    pub session_idle_timeout: Duration,
    /// The longest a dashboard session lasts from sign-in, however busy.
    #[serde(deserialize_with = "values::duration")]
    pub session_lifetime: Duration,
    /// Every scope a client may be registered with (published as `scopes_supported`).
    #[serde(deserialize_with = "values::scope_list")]
    pub scopes: ScopeSet,
    /// The SMTP relay invitations and password resets are mailed through
    /// (`smtps://user:password@host[:465]`; `smtp://…` upgrades with STARTTLS, which
    /// is required; `smtp://127.0.0.1:25?tls=none` only on loopback). Unset: no mail.
    pub smtp_url: Option<SmtpUrl>,
    /// The From of keygate's letters, e.g. `keygate <no-reply@example.com>`; needed
    /// with `smtp_url`.
    pub mail_from: Option<String>,
    /// RFC 7591 registration without an initial access token, for public clients only
    /// (what MCP clients expect). Off: every registration needs an admin credential.
    pub open_registration: bool,
    /// The organization (slug) openly registered clients belong to.
    pub open_registration_org: String,
    /// Open registrations one source address may make per minute.
    pub open_registrations_per_minute_per_source: u32,
    /// The most an openly registered client may be registered for (anyone can
    /// register one, so it starts small: a person's consent still bounds it).
    #[serde(deserialize_with = "values::scope_list")]
    pub open_registration_max_scope: ScopeSet,
}

/// What any credential keygate issues may carry, from the settings: held once, in
/// the app data, by every handler that checks a new or changed key or client.
#[derive(Clone, Debug)]
pub struct CredentialPolicy {
    /// Every scope a key or client may be given (the configured `scopes`).
    pub known_scopes: ScopeSet,
    /// The longest access-token lifetime a client may be registered with, and the
    /// bound every issued token's lifetime is clamped to.
    pub max_token_ttl: Duration,
}

#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            database_url: DatabaseUrl::Sqlite("keygate.db".into()),
            database_max_connections: 8,
            bind: "127.0.0.1:8080".into(),
            issuer: Issuer::default(),
            keys_dir: PathBuf::from("./keys"),
            allow_loose_key_permissions: false,
            keys_reload_interval: Duration::from_secs(10),
            default_audience: None,
            management_audience: None,
            access_token_ttl: Duration::from_secs(300),
            access_token_ttl_max: Duration::from_secs(3600),
            refresh_token_ttl: Duration::from_secs(30 * 24 * 3600),
            refresh_token_idle_ttl: Duration::from_secs(7 * 24 * 3600),
            max_body_bytes: 16 * 1024,
            workers: 0,
            argon2_max_concurrency: 0,
            argon2_max_wait: Duration::from_secs(2),
            database_statement_timeout: Duration::from_secs(10),
            secret_cache_entries: 10_000,
            log_format: LogFormat::Text,
            auth_failures_per_minute: 10,
            auth_failures_per_minute_per_source: 30,
            usage_metering: true,
            usage_flush_interval: Duration::from_secs(10),
            redis_url: None,
            redis_key_prefix: "keygate:rl".into(),
            rate_limits: true,
            tiers: crate::limits::default_tiers(),
            session_idle_timeout: Duration::from_secs(30 * 60),
            session_lifetime: Duration::from_secs(12 * 3600),
            scopes: ScopeSet::parse("read write admin webhook").unwrap_or_default(),
            smtp_url: None,
            mail_from: None,
            open_registration: false,
            open_registration_org: crate::orgs::DEFAULT_ORG_SLUG.to_owned(),
            open_registrations_per_minute_per_source: 10,
            open_registration_max_scope: ScopeSet::parse("read").unwrap_or_default(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("config file {path} is not valid TOML: {message}")]
    Toml { path: String, message: String },
    #[error("cannot read {var} (from {var}_FILE): {source}")]
    SecretFile { var: String, source: std::io::Error },
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

fn invalid(message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid(message.into())
}

impl Settings {
    /// Defaults → TOML file (if given) → `KEYGATE_*` from the process environment.
    pub fn load(config_file: Option<&Path>) -> Result<Self, ConfigError> {
        Self::load_from(config_file, std::env::vars())
    }

    pub fn load_from(
        config_file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let mut table = match config_file {
            Some(path) => read_toml(path)?,
            None => toml::Table::new(),
        };
        for (key, value) in env_overrides(env)? {
            table.insert(key, value);
        }
        let settings = Settings::deserialize(toml::Value::Table(table))
            .map_err(|e| invalid(e.message().to_owned()))?;
        settings.validate()?;
        Ok(settings)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        if self.database_max_connections == 0 {
            return Err(invalid("database_max_connections must be at least 1"));
        }
        if self.open_registrations_per_minute_per_source == 0 {
            return Err(invalid(
                "open_registrations_per_minute_per_source must be at least 1 (turn open_registration off instead)",
            ));
        }
        if self.database_statement_timeout < Duration::from_millis(100) {
            return Err(invalid(
                "database_statement_timeout: must be at least 100ms",
            ));
        }
        if self.bind.parse::<SocketAddr>().is_err() {
            return Err(invalid(format!(
                "bind: '{}' is not an address like 127.0.0.1:8080",
                self.bind
            )));
        }
        if self.access_token_ttl_max < MIN_ACCESS_TOKEN_TTL
            || self.access_token_ttl_max > Duration::from_secs(24 * 3600)
        {
            return Err(invalid("access_token_ttl_max: must be between 1m and 24h"));
        }
        if self.access_token_ttl < MIN_ACCESS_TOKEN_TTL
            || self.access_token_ttl > self.access_token_ttl_max
        {
            return Err(invalid(
                "access_token_ttl: must be between 1m and access_token_ttl_max",
            ));
        }
        if self.refresh_token_idle_ttl < MIN_ACCESS_TOKEN_TTL
            || self.refresh_token_idle_ttl > self.refresh_token_ttl
            || self.refresh_token_ttl > Duration::from_secs(10 * 365 * 24 * 3600)
        {
            return Err(invalid(
                "refresh_token_idle_ttl: must be between 1m and refresh_token_ttl (at most 10 years)",
            ));
        }
        if self.scopes.is_empty() {
            return Err(invalid("scopes: at least one scope is needed"));
        }
        if self.auth_failures_per_minute == 0 || self.auth_failures_per_minute_per_source == 0 {
            return Err(invalid(
                "auth_failures_per_minute and auth_failures_per_minute_per_source must be at least 1",
            ));
        }
        if self.keys_reload_interval < Duration::from_secs(1)
            || self.keys_reload_interval > Duration::from_secs(3600)
        {
            return Err(invalid("keys_reload_interval: must be between 1s and 1h"));
        }
        if self.usage_flush_interval < Duration::from_secs(1)
            || self.usage_flush_interval > Duration::from_secs(3600)
        {
            return Err(invalid("usage_flush_interval: must be between 1s and 1h"));
        }
        if !self.tiers.contains_key(crate::limits::FALLBACK_TIER) {
            return Err(invalid(format!(
                "tiers: the '{}' tier must be defined (new organizations and unknown tiers use it)",
                crate::limits::FALLBACK_TIER
            )));
        }
        if let Some((name, _)) = self
            .tiers
            .iter()
            .find(|(_, t)| t.requests_per_minute == 0 || t.burst == 0)
        {
            return Err(invalid(format!(
                "tiers.{name}: requests_per_minute and burst must be at least 1"
            )));
        }
        let management = self.management_audience();
        if url::Url::parse(&management).is_err() {
            return Err(invalid("management_audience: must be an absolute URI"));
        }
        if management == self.audience() {
            return Err(invalid(
                "management_audience: must differ from default_audience, or every client's tokens could manage keygate",
            ));
        }
        if self.session_idle_timeout.is_zero() || self.session_lifetime.is_zero() {
            return Err(invalid(
                "session_idle_timeout and session_lifetime: must be more than 0",
            ));
        }
        if self.session_idle_timeout > self.session_lifetime {
            return Err(invalid(
                "session_idle_timeout: must be at most session_lifetime",
            ));
        }
        if !(1024..=1024 * 1024).contains(&self.max_body_bytes) {
            return Err(invalid("max_body_bytes: must be between 1024 and 1048576"));
        }
        self.mail_relay()?;
        Ok(())
    }

    /// The SMTP relay and the From address, when mail is configured: both or neither.
    pub fn mail_relay(
        &self,
    ) -> Result<Option<(crate::mail::Relay, lettre::message::Mailbox)>, ConfigError> {
        let (url, from) = match (&self.smtp_url, &self.mail_from) {
            (None, None) => return Ok(None),
            (Some(url), Some(from)) => (url, from),
            (Some(_), None) => {
                return Err(invalid(
                    "mail_from: needed with smtp_url (e.g. 'keygate <no-reply@example.com>')",
                ))
            }
            (None, Some(_)) => return Err(invalid("mail_from: set smtp_url as well, or neither")),
        };
        let relay = crate::mail::Relay::parse(url.expose())
            .map_err(|problem| invalid(format!("smtp_url: {problem}")))?;
        let from = crate::mail::parse_from(from)
            .map_err(|problem| invalid(format!("mail_from: {problem}")))?;
        Ok(Some((relay, from)))
    }

    pub fn loose_key_permissions(&self) -> crate::tokens::signing_keys::LoosePermissions {
        use crate::tokens::signing_keys::LoosePermissions;
        if self.allow_loose_key_permissions {
            LoosePermissions::Allow
        } else {
            LoosePermissions::Refuse
        }
    }

    /// The issuer without a trailing slash, ready to have paths appended.
    pub fn issuer_base(&self) -> &str {
        self.issuer.base()
    }

    pub fn audience(&self) -> &str {
        self.default_audience
            .as_deref()
            .unwrap_or(self.issuer.as_str())
    }

    pub fn management_audience(&self) -> String {
        self.management_audience
            .clone()
            .unwrap_or_else(|| format!("{}/v1", self.issuer_base()))
    }

    pub fn refresh_lifetimes(&self) -> crate::refresh::Lifetimes {
        let chrono = |d: Duration| chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX);
        crate::refresh::Lifetimes {
            absolute: chrono(self.refresh_token_ttl),
            idle: chrono(self.refresh_token_idle_ttl),
        }
    }

    pub fn credential_policy(&self) -> CredentialPolicy {
        CredentialPolicy {
            known_scopes: self.scopes.clone(),
            max_token_ttl: self.access_token_ttl_max,
        }
    }

    pub fn worker_count(&self) -> usize {
        non_zero_or_cores(self.workers)
    }

    pub fn argon2_permits(&self) -> usize {
        non_zero_or_cores(self.argon2_max_concurrency)
    }
}

fn non_zero_or_cores(n: usize) -> usize {
    if n > 0 {
        return n;
    }
    std::thread::available_parallelism().map_or(2, usize::from)
}

fn read_toml(path: &Path) -> Result<toml::Table, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.display().to_string(),
        source,
    })?;
    text.parse::<toml::Table>().map_err(|e| ConfigError::Toml {
        path: path.display().to_string(),
        message: e.message().to_owned(),
    })
}

/// `KEYGATE_ISSUER=…` → `issuer`; `KEYGATE_DATABASE_URL_FILE=/run/secrets/db` →
/// `database_url` read from that file. Numbers and booleans are typed so the settings'
/// integer fields accept them; an unknown name reaches `deny_unknown_fields` and is
/// reported by name.
fn env_overrides(
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<BTreeMap<String, toml::Value>, ConfigError> {
    let mut plain = BTreeMap::new();
    let mut from_files = BTreeMap::new();
    for (var, value) in env {
        let Some(name) = var.strip_prefix(ENV_PREFIX) else {
            continue;
        };
        if NOT_SETTINGS.contains(&var.as_str()) || name.starts_with("TEST_") {
            continue;
        }
        if let Some(base) = name.strip_suffix("_FILE") {
            let contents =
                std::fs::read_to_string(&value).map_err(|source| ConfigError::SecretFile {
                    var: format!("{ENV_PREFIX}{base}"),
                    source,
                })?;
            from_files.insert(base.to_ascii_lowercase(), typed(contents.trim_end()));
        } else {
            plain.insert(name.to_ascii_lowercase(), typed(&value));
        }
    }
    // A value given directly wins over one given by file.
    from_files.extend(plain);
    Ok(from_files)
}

fn typed(value: &str) -> toml::Value {
    if let Ok(n) = value.parse::<i64>() {
        return toml::Value::Integer(n);
    }
    match value {
        "true" => toml::Value::Boolean(true),
        "false" => toml::Value::Boolean(false),
        _ => toml::Value::String(value.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_serve_a_newcomer() {
        let s = Settings::load_from(None, env(&[])).unwrap();
        assert_eq!(s.database_url, DatabaseUrl::Sqlite("keygate.db".into()));
        assert_eq!(s.bind, "127.0.0.1:8080");
        assert_eq!(s.issuer.as_str(), "http://127.0.0.1:8080");
        assert_eq!(s.keys_dir, PathBuf::from("./keys"));
        assert_eq!(s.audience(), "http://127.0.0.1:8080");
        assert_eq!(s.scopes.to_string(), "admin read webhook write");
        assert_eq!(s.session_idle_timeout, Duration::from_secs(30 * 60));
        assert_eq!(s.session_lifetime, Duration::from_secs(12 * 3600));
    }

    #[test]
    fn env_overrides_file_and_types_values() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("keygate.toml");
        std::fs::write(&file, "bind = \"0.0.0.0:9000\"\nworkers = 3\n").unwrap();
        let s = Settings::load_from(
            Some(&file),
            env(&[
                ("KEYGATE_WORKERS", "5"),
                ("KEYGATE_ACCESS_TOKEN_TTL", "10m"),
            ]),
        )
        .unwrap();
        assert_eq!(s.bind, "0.0.0.0:9000");
        assert_eq!(s.workers, 5);
        assert_eq!(s.access_token_ttl, Duration::from_secs(600));
    }

    #[test]
    fn debug_hides_the_database_password() {
        let s = Settings::load_from(
            None,
            env(&[("KEYGATE_DATABASE_URL", "postgres://kg:hunter2@db/kg")]),
        )
        .unwrap();
        let debug = format!("{s:?}");
        assert!(debug.contains("postgres://kg:***@db/kg"), "{debug}");
        assert!(!debug.contains("hunter2"));
    }

    #[test]
    fn debug_hides_the_redis_password() {
        let s = Settings::load_from(
            None,
            env(&[("KEYGATE_REDIS_URL", "redis://:hunter2@cache:6379/0")]),
        )
        .unwrap();
        let debug = format!("{s:?}");
        assert!(debug.contains("redis://cache:6379"), "{debug}");
        assert!(!debug.contains("hunter2"), "{debug}");
    }

    #[test]
    fn mail_needs_a_relay_and_a_sender_and_never_shows_the_relay_password() {
        let s = Settings::load_from(
            None,
            env(&[
                (
                    "KEYGATE_SMTP_URL",
                    "smtps://mailer:hunter2@mail.example.com",
                ),
                ("KEYGATE_MAIL_FROM", "keygate <no-reply@example.com>"),
            ]),
        )
        .unwrap();
        let debug = format!("{s:?}");
        assert!(debug.contains("smtps://mail.example.com"), "{debug}");
        assert!(!debug.contains("hunter2"), "{debug}");
        assert!(s.mail_relay().unwrap().is_some());
        assert!(Settings::default().mail_relay().unwrap().is_none());

        for (vars, expected) in [
            (
                vec![("KEYGATE_SMTP_URL", "smtps://mail.example.com")],
                "mail_from",
            ),
            (vec![("KEYGATE_MAIL_FROM", "a@example.com")], "mail_from"),
            (
                vec![
                    (
                        "KEYGATE_SMTP_URL",
                        "smtp://u:hunter2@mail.example.com?tls=none",
                    ),
                    ("KEYGATE_MAIL_FROM", "a@example.com"),
                ],
                "smtp_url: ?tls=none is allowed only for a relay on a loopback address",
            ),
            (
                vec![
                    ("KEYGATE_SMTP_URL", "smtps://mail.example.com"),
                    ("KEYGATE_MAIL_FROM", "not an address"),
                ],
                "mail_from: expected an address",
            ),
        ] {
            let refused = Settings::load_from(None, env(&vars))
                .unwrap_err()
                .to_string();
            assert!(refused.contains(expected), "{vars:?}: {refused}");
            assert!(!refused.contains("hunter2"), "{refused}");
        }
    }

    #[test]
    fn secrets_come_from_file_variables() {
        let dir = tempfile::tempdir().unwrap();
        let secret = dir.path().join("db_url");
        std::fs::write(&secret, "postgres://kg:pw@localhost/kg\n").unwrap();
        let s = Settings::load_from(
            None,
            env(&[("KEYGATE_DATABASE_URL_FILE", secret.to_str().unwrap())]),
        )
        .unwrap();
        assert_eq!(
            s.database_url,
            DatabaseUrl::parse("postgres://kg:pw@localhost/kg").unwrap()
        );
    }

    #[test]
    fn unknown_keys_are_named() {
        let err = Settings::load_from(None, env(&[("KEYGATE_ISUER", "x")])).unwrap_err();
        assert!(err.to_string().contains("isuer"), "{err}");
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("k.toml");
        std::fs::write(&file, "colour = 1\n").unwrap();
        let err = Settings::load_from(Some(&file), env(&[])).unwrap_err();
        assert!(err.to_string().contains("colour"), "{err}");
    }

    #[test]
    fn invalid_values_fail_fast_with_the_key_name() {
        for (var, value, key) in [
            ("KEYGATE_DATABASE_URL", "mysql://x", "database_url"),
            ("KEYGATE_BIND", "nowhere", "bind"),
            ("KEYGATE_ISSUER", "http://x/?q=1", "issuer"),
            ("KEYGATE_ISSUER", "https://x/auth", "issuer"),
            ("KEYGATE_DATABASE_URL", "sqlite://:memory:", "in-memory"),
            ("KEYGATE_ACCESS_TOKEN_TTL", "1s", "access_token_ttl"),
            ("KEYGATE_ACCESS_TOKEN_TTL", "soon", "soon"),
            ("KEYGATE_MAX_BODY_BYTES", "10", "max_body_bytes"),
            (
                "KEYGATE_DATABASE_STATEMENT_TIMEOUT",
                "10ms",
                "database_statement_timeout",
            ),
            ("KEYGATE_SCOPES", "r\u{e9}ad", "scope"),
            (
                "KEYGATE_MANAGEMENT_AUDIENCE",
                "http://127.0.0.1:8080",
                "management_audience",
            ),
            (
                "KEYGATE_MANAGEMENT_AUDIENCE",
                "not a uri",
                "management_audience",
            ),
            ("KEYGATE_SESSION_LIFETIME", "0s", "session_lifetime"),
            (
                "KEYGATE_SESSION_IDLE_TIMEOUT",
                "13h",
                "session_idle_timeout",
            ),
        ] {
            let err = Settings::load_from(None, env(&[(var, value)])).unwrap_err();
            assert!(err.to_string().contains(key), "{var}={value}: {err}");
        }
    }

    #[test]
    fn test_harness_variables_are_not_settings() {
        let s = Settings::load_from(
            None,
            env(&[
                ("KEYGATE_TEST_DATABASE_URL", "postgres://x"),
                ("KEYGATE_LOG", "debug"),
            ]),
        );
        assert!(s.is_ok());
    }
}
