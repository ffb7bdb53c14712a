//! The typed values `Settings` holds, each parsed (and checked) once, as it is
//! deserialized: the issuer, the Redis URL (a secret: its `Debug` redacts), the
//! database URL (a `store::DatabaseUrl`, whose `Debug` redacts too), the scopes and
//! durations.

use std::time::Duration;

use serde::{Deserialize, Deserializer};

use crate::scope::ScopeSet;
use crate::store::DatabaseUrl;

/// The issuer: the `iss` of every token exactly as configured, and its parsed URL.
/// An http(s) URL without path, query or fragment (RFC 8414 §2: no query or
/// fragment; a path would move the metadata to
/// `/.well-known/oauth-authorization-server/<path>` (§3.1), which keygate does not
/// serve, so it is refused rather than published wrongly).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Issuer {
    text: String,
    url: url::Url,
}

impl Issuer {
    /// As configured: the `iss` claim.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    pub fn url(&self) -> &url::Url {
        &self.url
    }

    /// Without a trailing slash, ready to have paths appended.
    pub fn base(&self) -> &str {
        self.text.trim_end_matches('/')
    }
}

impl std::str::FromStr for Issuer {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let url =
            url::Url::parse(text).map_err(|e| format!("issuer: '{text}' is not a URL ({e})"))?;
        if !matches!(url.scheme(), "http" | "https")
            || url.query().is_some()
            || url.fragment().is_some()
            || !matches!(url.path(), "" | "/")
        {
            return Err("issuer: must be an http(s) URL without path, query or fragment".into());
        }
        Ok(Self {
            text: text.to_owned(),
            url,
        })
    }
}

impl Default for Issuer {
    /// `http://127.0.0.1:8080`, the address keygate listens on by default.
    #[allow(clippy::expect_used)] // A constant, and a test parses it.
    fn default() -> Self {
        "http://127.0.0.1:8080"
            .parse()
            .expect("the default issuer is valid")
    }
}

impl<'de> Deserialize<'de> for Issuer {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// `redis://…`: it can carry a password (in its userinfo, or for some clients in
/// its path or query), so it is reachable only through `expose`, and `Debug` shows
/// only its scheme, host and port.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct RedisUrl(String);

impl RedisUrl {
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The host it names, for logs (empty when it does not parse).
    pub fn host(&self) -> String {
        url::Url::parse(&self.0)
            .ok()
            .and_then(|u| u.host_str().map(str::to_owned))
            .unwrap_or_default()
    }
}

impl From<String> for RedisUrl {
    fn from(url: String) -> Self {
        Self(url)
    }
}

impl From<&str> for RedisUrl {
    fn from(url: &str) -> Self {
        Self(url.to_owned())
    }
}

impl std::fmt::Debug for RedisUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write_without_userinfo(f, "RedisUrl", &self.0)
    }
}

/// `smtp_url`: `smtps://user:password@host…` (`mail::Relay` reads it). It carries
/// the relay's password, so it is reachable only through `expose`, and `Debug` shows
/// only its scheme, host and port.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct SmtpUrl(String);

impl SmtpUrl {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl From<&str> for SmtpUrl {
    fn from(url: &str) -> Self {
        Self(url.to_owned())
    }
}

impl std::fmt::Debug for SmtpUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write_without_userinfo(f, "SmtpUrl", &self.0)
    }
}

/// `Name(scheme://host:port)`: a URL that may hold a password, without it.
fn write_without_userinfo(
    f: &mut std::fmt::Formatter<'_>,
    name: &str,
    text: &str,
) -> std::fmt::Result {
    match url::Url::parse(text) {
        Ok(url) => {
            let port = url.port().map(|p| format!(":{p}")).unwrap_or_default();
            let host = url.host_str().unwrap_or_default();
            write!(f, "{name}({}://{host}{port})", url.scheme())
        }
        Err(_) => write!(f, "{name}(<unparseable>)"),
    }
}

/// `database_url`, parsed into the backend it names.
pub(super) fn database_url<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<DatabaseUrl, D::Error> {
    let text = String::deserialize(deserializer)?;
    DatabaseUrl::parse(&text).map_err(|e| serde::de::Error::custom(format!("database_url: {e}")))
}

/// Accepts `"read write"` (handy in an environment variable) or `["read", "write"]`.
pub(super) fn scope_list<'de, D: Deserializer<'de>>(deserializer: D) -> Result<ScopeSet, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Spaced(String),
        List(Vec<String>),
    }
    let joined = match Raw::deserialize(deserializer)? {
        Raw::Spaced(text) => text,
        Raw::List(list) => list.join(" "),
    };
    ScopeSet::parse(&joined).map_err(serde::de::Error::custom)
}

/// Accepts `"90s"`, `"10m"`, `"1h 30m"`, `"90d"` or a number of seconds.
pub(super) fn duration<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Seconds(u64),
        Text(String),
    }
    match Raw::deserialize(deserializer)? {
        Raw::Seconds(secs) => Ok(Duration::from_secs(secs)),
        Raw::Text(text) => parse_duration(&text).map_err(serde::de::Error::custom),
    }
}

/// Parses a human duration such as `10m` or `90d`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text.trim())
        .map_err(|e| format!("'{text}' is not a duration like 90s, 10m, 1h or 90d ({e})"))
}
