//! Database URLs: which backend a URL names, parsed once, and its passwords kept out
//! of every log line, error and output.

/// Which database a URL names, parsed once at start-up. Neither it nor the URL it
/// holds has a `Display`, and `Debug` shows only `redacted`.
#[derive(Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    Postgres(PostgresUrl),
    /// A filesystem path, or `:memory:`.
    Sqlite(String),
}

/// A PostgreSQL URL, which may carry a password (in its userinfo or a query
/// parameter). The text is reachable only through `expose`, for libpq.
#[derive(Clone, PartialEq, Eq)]
pub struct PostgresUrl(String);

impl PostgresUrl {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for PostgresUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PostgresUrl({})", redact_url(&self.0))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum UrlError {
    #[error("database URL '{0}' has an unsupported scheme; use sqlite://PATH or postgres://…")]
    UnsupportedScheme(String),
    #[error("database URL '{0}' names no SQLite file")]
    EmptySqlitePath(String),
    #[error("database URL '{0}': an in-memory SQLite database cannot be shared by a connection pool; name a file")]
    InMemory(String),
}

impl DatabaseUrl {
    pub fn parse(url: &str) -> Result<Self, UrlError> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(Self::Postgres(PostgresUrl(url.to_owned())));
        }
        let path = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
            .ok_or_else(|| UrlError::UnsupportedScheme(redact_url(url)))?;
        if path.is_empty() {
            return Err(UrlError::EmptySqlitePath(redact_url(url)));
        }
        // Every pooled connection would get its own empty in-memory database.
        if path == ":memory:" || path.contains("mode=memory") {
            return Err(UrlError::InMemory(redact_url(url)));
        }
        Ok(Self::Sqlite(path.to_owned()))
    }

    /// The URL with any password replaced, for logs and error messages.
    pub fn redacted(&self) -> String {
        match self {
            Self::Postgres(url) => redact_url(url.expose()),
            Self::Sqlite(path) => format!("sqlite://{path}"),
        }
    }

    /// `text` (an error from libpq, say, which may quote part of the URL it was
    /// given) with every password of this URL, raw or percent-decoded, replaced.
    pub fn scrub(&self, text: &str) -> String {
        let Self::Postgres(url) = self else {
            return text.to_owned();
        };
        let mut text = text.to_owned();
        for secret in url_secrets(url.expose()) {
            text = text.replace(&secret, "***");
        }
        text
    }

    /// The file of a SQLite database.
    pub fn sqlite_path(&self) -> Option<&str> {
        match self {
            Self::Postgres(_) => None,
            Self::Sqlite(path) => Some(path),
        }
    }
}

impl std::fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DatabaseUrl({})", self.redacted())
    }
}

/// libpq parameters keygate gives every PostgreSQL connection unless its URL sets
/// them itself (libpq's own defaults wait for ever).
///
/// - `connect_timeout` (seconds): a server that accepts the TCP connection and never
///   answers — wedged, or a proxy whose backend is gone — otherwise holds `serve` and
///   every CLI command without a word, and r2d2's connecting threads with them.
/// - keepalives and `tcp_user_timeout` (milliseconds): when the server's host dies or
///   drops off the network mid-statement, the kernel closes the socket after about
///   20 s instead of leaving a thread and its pool connection waiting for ever. (A
///   hung server process still acknowledges at the TCP level: the store turn's
///   deadline answers its requests, see `Store::blocking`.)
const POSTGRES_CONNECTION_DEFAULTS: [(&str, &str); 5] = [
    ("connect_timeout", "5"),
    ("keepalives_idle", "10"),
    ("keepalives_interval", "5"),
    ("keepalives_count", "2"),
    ("tcp_user_timeout", "20000"),
];

/// `url` with `POSTGRES_CONNECTION_DEFAULTS` appended to its query, each unless the
/// URL sets it. Done on the text: `url::Url` would re-encode what libpq accepts (host
/// lists, socket directories in the host part).
pub(super) fn with_connection_defaults(url: &str) -> String {
    let query = url.split_once('?').map_or("", |(_, query)| query);
    let given: Vec<String> = url::form_urlencoded::parse(query.as_bytes())
        .map(|(key, _)| key.into_owned())
        .collect();
    let mut full = url.to_owned();
    let mut separator = match url.split_once('?') {
        None => "?",
        Some((_, "")) => "",
        Some((_, query)) if query.ends_with('&') => "",
        Some(_) => "&",
    };
    for (key, value) in POSTGRES_CONNECTION_DEFAULTS {
        if !given.iter().any(|k| k == key) {
            full.push_str(&format!("{separator}{key}={value}"));
            separator = "&";
        }
    }
    full
}

/// Query parameters whose value libpq takes as a password.
const SECRET_PARAMETERS: [&str; 2] = ["password", "sslpassword"];

fn is_secret_parameter(name: &str) -> bool {
    SECRET_PARAMETERS
        .iter()
        .any(|p| name.eq_ignore_ascii_case(p))
}

/// The URL with every password it carries replaced by `***`, for logs, errors and
/// output: the userinfo one (`postgres://user:secret@host/db`) and the `password` and
/// `sslpassword` parameters libpq also accepts (`postgres://user@host/db?password=…`),
/// however their names and values are percent-encoded. A fragment is replaced too:
/// libpq does not know fragments, so a `#` can be part of a parameter's value.
/// Anything that does not parse as a URL — a libpq `key=value` string, which keygate
/// refuses anyway — is not shown at all.
pub fn redact_url(url: &str) -> String {
    let Ok(mut parsed) = url::Url::parse(url) else {
        return "<unparseable database URL>".to_owned();
    };
    if parsed.password().is_some() {
        // set_password fails only for URLs that cannot carry one; this one does.
        let _ = parsed.set_password(Some("***"));
    }
    if parsed
        .query_pairs()
        .any(|(name, _)| is_secret_parameter(&name))
    {
        let pairs: Vec<(String, String)> = parsed
            .query_pairs()
            .map(|(name, value)| {
                let value = if is_secret_parameter(&name) {
                    "***".to_owned()
                } else {
                    value.into_owned()
                };
                (name.into_owned(), value)
            })
            .collect();
        parsed.query_pairs_mut().clear().extend_pairs(pairs);
    }
    if parsed.fragment().is_some() {
        parsed.set_fragment(Some("***"));
    }
    parsed.to_string()
}

/// Every password in `url` (see `redact_url`), as written and percent-decoded.
fn url_secrets(url: &str) -> Vec<String> {
    let Ok(parsed) = url::Url::parse(url) else {
        return Vec::new();
    };
    let mut raw: Vec<String> = parsed.password().map(str::to_owned).into_iter().collect();
    for pair in parsed.query().unwrap_or_default().split('&') {
        if let Some((name, value)) = pair.split_once('=') {
            let name = percent_encoding::percent_decode_str(name).decode_utf8_lossy();
            if is_secret_parameter(&name) {
                raw.push(value.to_owned());
            }
        }
    }
    raw.extend(parsed.fragment().map(str::to_owned));
    let mut secrets = Vec::new();
    for secret in raw.into_iter().filter(|s| !s.is_empty()) {
        let decoded = percent_encoding::percent_decode_str(&secret)
            .decode_utf8_lossy()
            .into_owned();
        secrets.push(secret);
        secrets.push(decoded);
    }
    // Longest first, so a password is not half-replaced through a shorter one.
    secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    secrets.dedup();
    secrets
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::ConnectionManager;

    #[test]
    fn url_scheme_selects_backend() {
        assert_eq!(
            DatabaseUrl::parse("sqlite://keygate.db").ok(),
            Some(DatabaseUrl::Sqlite("keygate.db".into()))
        );
        assert_eq!(
            DatabaseUrl::parse("sqlite:///var/lib/keygate.db").ok(),
            Some(DatabaseUrl::Sqlite("/var/lib/keygate.db".into()))
        );
        assert!(matches!(
            DatabaseUrl::parse("postgres://u@localhost/db"),
            Ok(DatabaseUrl::Postgres(_))
        ));
        assert!(DatabaseUrl::parse("mysql://x").is_err());
        assert!(DatabaseUrl::parse("keygate.db").is_err());
        assert!(DatabaseUrl::parse("sqlite://").is_err());
        assert!(DatabaseUrl::parse("sqlite://:memory:").is_err());
    }

    #[test]
    fn redaction_hides_password_only() {
        let url = DatabaseUrl::parse("postgres://kg:hunter2@db:5432/keygate").ok();
        let redacted = url.map(|u| u.redacted()).unwrap_or_default();
        assert_eq!(redacted, "postgres://kg:***@db:5432/keygate");
        assert!(!redacted.contains("hunter2"));
        let url = DatabaseUrl::parse("postgres://kg:hunter2@db/keygate").unwrap();
        let manager = ConnectionManager {
            background_checkpoint: false,
            url: url.clone(),
            statement_timeout: None,
        };
        assert!(!format!("{url:?} {manager:?}").contains("hunter2"));
        assert_eq!(
            redact_url("postgres://kg@db/keygate?sslmode=require&password=x&application_name=kg"),
            "postgres://kg@db/keygate?sslmode=require&password=***&application_name=kg"
        );
        assert_eq!(
            redact_url("postgres://kg@db/keygate?sslmode=require"),
            "postgres://kg@db/keygate?sslmode=require"
        );
    }

    #[test]
    fn every_form_of_password_libpq_accepts_is_redacted() {
        for url in [
            "postgres://kg:hunter2@db/keygate",
            "postgres://kg:hun%74er2@db/keygate",
            "postgres://:hunter2@db/keygate",
            "postgres://kg@db/keygate?password=hunter2",
            "postgresql://kg@db/keygate?sslmode=require&password=hunter2",
            "postgres://kg@db/keygate?pass%77ord=hunter2",
            "postgres://kg@db/keygate?password=hun%74er2",
            "postgres://kg@db/keygate?sslpassword=hunter2",
            "postgres://kg@db/keygate?PASSWORD=hunter2",
            "postgres://kg@db/keygate?password=hun#ter2",
            "postgres://kg:pw@db/keygate?password=hunter2&sslpassword=hunter2",
            "host=db user=kg password=hunter2",
            "mysql://kg:hunter2@db/keygate?password=hunter2",
        ] {
            let redacted = redact_url(url);
            for part in ["hunter2", "hun%74er2", "ter2"] {
                assert!(!redacted.contains(part), "{url} → {redacted}");
            }
            match DatabaseUrl::parse(url) {
                Ok(parsed) => {
                    let shown = format!("{parsed:?} {}", parsed.redacted());
                    assert!(!shown.contains("ter2"), "{url} → {shown}");
                    let scrubbed = parsed.scrub("invalid value: \"hunter2\" (hun%74er2)");
                    assert!(!scrubbed.contains("ter2"), "{url} → {scrubbed}");
                }
                Err(error) => assert!(!error.to_string().contains("ter2"), "{error}"),
            }
        }
    }

    #[test]
    fn postgres_connections_get_timeouts_unless_the_url_sets_them() {
        let defaults = "connect_timeout=5&keepalives_idle=10&keepalives_interval=5\
                        &keepalives_count=2&tcp_user_timeout=20000";
        for (url, expected) in [
            (
                "postgres://u@db/kg",
                format!("postgres://u@db/kg?{defaults}"),
            ),
            (
                "postgres://u@db/kg?",
                format!("postgres://u@db/kg?{defaults}"),
            ),
            (
                "postgres://u@db/kg?sslmode=disable",
                format!("postgres://u@db/kg?sslmode=disable&{defaults}"),
            ),
            (
                "postgres://u@db/kg?connect_timeout=30&tcp_user_timeout=0",
                "postgres://u@db/kg?connect_timeout=30&tcp_user_timeout=0\
                 &keepalives_idle=10&keepalives_interval=5&keepalives_count=2"
                    .to_owned(),
            ),
        ] {
            assert_eq!(with_connection_defaults(url), expected);
        }
    }
}
