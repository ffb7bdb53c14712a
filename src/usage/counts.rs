//! What is counted: whose request (`Metered`), and the keys of the request and
//! token-endpoint counters, by minute.

use std::sync::Arc;

use chrono::{DateTime, NaiveDateTime};

/// Whose request it was, as the `Principal` extractor leaves it in the request's
/// extensions for `meter_requests`.
#[derive(Clone, Debug)]
pub struct Metered {
    pub subject_id: Arc<str>,
    pub org_id: Arc<str>,
}

/// One counter's identity.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct CounterKey {
    pub subject_id: Arc<str>,
    pub org_id: Arc<str>,
    /// Unix time in minutes (cheaper to take per request than a truncated date).
    pub minute: i64,
    pub status_class: &'static str,
}

/// `2xx`, `4xx`…, from a status code.
pub fn status_class(status: u16) -> &'static str {
    match status {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    }
}

/// One token-endpoint counter's identity. The client's organization is looked up when
/// the counts are written (a client id that names no client is dropped then), so the
/// token endpoint counts without reading anything.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TokenCounterKey {
    pub client_id: Arc<str>,
    /// Unix time in minutes.
    pub minute: i64,
    /// `issued`, or the refusal's error code (`invalid_client`, `invalid_scope`,
    /// `invalid_target`, `rate_limit_exceeded`, …).
    pub outcome: &'static str,
}

/// The outcome of an issued token.
pub const ISSUED: &str = "issued";

/// The start of a counter's minute.
pub fn minute_start(minute: i64) -> NaiveDateTime {
    DateTime::from_timestamp(minute.saturating_mul(60), 0)
        .unwrap_or_default()
        .naive_utc()
}
