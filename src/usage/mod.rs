//! Usage metering: requests per credential (API key or client), minute and status
//! class, and token-endpoint requests per client, minute and outcome (`issued`, or the
//! refusal's RFC 6749 error code). Every request the identity resolver attributes to a
//! credential is counted in memory (`Meter::count`), and so is every token request
//! that names a client (`Meter::count_token`): no database write per request. A
//! background task writes both in one transaction every `usage_flush_interval`, and
//! `Application` writes the rest when the server stops gracefully. Read as reports
//! (`report`) through `GET /v1/usage` and `keygate usage`.

pub mod handlers;
pub mod repo;
pub mod report;

use std::sync::Arc;

use actix_web::web;
use chrono::{DateTime, NaiveDateTime};
use dashmap::DashMap;

use crate::clock::Clock;
use crate::store::Store;

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

/// How many distinct token counters may wait for a flush for refusals that come
/// before (or instead of) a client's authentication. Anyone can name any client id,
/// so those are bounded; outcomes only an authenticated client reaches (an issued
/// token, a refused scope, resource, grant or grant type) are bounded by the clients
/// that exist and always counted.
const MAX_UNAUTHENTICATED_COUNTERS: usize = 10_000;

/// Whether only a client that authenticated can reach `outcome`.
fn after_authentication(outcome: &str) -> bool {
    matches!(
        outcome,
        ISSUED | "invalid_scope" | "invalid_target" | "invalid_grant" | "unauthorized_client"
    )
}

/// The in-memory counts since the last flush, in sharded maps so the workers that
/// count rarely wait for one another.
pub struct Meter {
    enabled: bool,
    clock: Arc<dyn Clock>,
    counts: DashMap<CounterKey, i64>,
    tokens: DashMap<TokenCounterKey, i64>,
}

/// What one drain takes: the request counts and the token-endpoint counts.
pub type Drained = (Vec<(CounterKey, i64)>, Vec<(TokenCounterKey, i64)>);

impl Meter {
    pub fn new(enabled: bool, clock: Arc<dyn Clock>) -> Self {
        Self {
            enabled,
            clock,
            counts: DashMap::new(),
            tokens: DashMap::new(),
        }
    }

    pub fn enabled(&self) -> bool {
        self.enabled
    }

    pub fn count(&self, metered: &Metered, status: u16) {
        if !self.enabled {
            return;
        }
        let key = CounterKey {
            subject_id: metered.subject_id.clone(),
            org_id: metered.org_id.clone(),
            minute: self.clock.now().timestamp().div_euclid(60),
            status_class: status_class(status),
        };
        *self.counts.entry(key).or_default() += 1;
    }

    /// Counts one token request naming `client_id` (as presented: it may name no
    /// client) with `outcome`.
    pub fn count_token(&self, client_id: &str, outcome: &'static str) {
        if !self.enabled
            || !crate::api::is_prefixed_id(client_id, crate::tokens::TokenKind::ClientId)
        {
            return;
        }
        let key = TokenCounterKey {
            client_id: Arc::from(client_id),
            minute: self.clock.now().timestamp().div_euclid(60),
            outcome,
        };
        if let Some(mut count) = self.tokens.get_mut(&key) {
            *count += 1;
        } else if after_authentication(outcome) || self.tokens.len() < MAX_UNAUTHENTICATED_COUNTERS
        {
            *self.tokens.entry(key).or_default() += 1;
        }
    }

    /// Takes the counts gathered so far, leaving none (a count that lands while this
    /// runs is taken now or left for the next drain, never lost).
    pub fn drain(&self) -> Drained {
        (drain_map(&self.counts), drain_map(&self.tokens))
    }

    /// Gives counts back after a failed write, so they are written next time.
    fn restore(&self, (counts, tokens): Drained) {
        for (key, n) in counts {
            *self.counts.entry(key).or_default() += n;
        }
        for (key, n) in tokens {
            *self.tokens.entry(key).or_default() += n;
        }
    }

    /// Writes everything counted so far; kept for the next flush if that fails.
    pub async fn flush(&self, store: &Store) {
        let (mut counts, mut tokens) = self.drain();
        if counts.is_empty() && tokens.is_empty() {
            return;
        }
        // One order for every instance, so two flushing at once cannot deadlock on
        // PostgreSQL's row locks.
        counts.sort_by(|(a, _), (b, _)| {
            (&a.subject_id, a.minute, a.status_class).cmp(&(
                &b.subject_id,
                b.minute,
                b.status_class,
            ))
        });
        tokens.sort_by(|(a, _), (b, _)| {
            (&a.client_id, a.minute, a.outcome).cmp(&(&b.client_id, b.minute, b.outcome))
        });
        let (batch, token_batch) = (counts.clone(), tokens.clone());
        let written = store
            .write(move |tx| {
                repo::add(tx, &batch, &token_batch).map_err(crate::store::StoreError::from)
            })
            .await;
        if let Err(error) = written {
            tracing::warn!(%error, "could not write usage counts; keeping them for the next flush");
            self.restore((counts, tokens));
        }
    }

    /// Flushes every `interval` until the process ends.
    pub fn spawn_flusher(
        meter: web::Data<Meter>,
        store: web::Data<Store>,
        every: std::time::Duration,
    ) {
        if !meter.enabled {
            return;
        }
        actix_web::rt::spawn(async move {
            let mut ticks = actix_web::rt::time::interval(every);
            ticks.tick().await;
            loop {
                ticks.tick().await;
                meter.flush(&store).await;
            }
        });
    }
}

/// Takes every entry of `map` (see `Meter::drain`).
fn drain_map<K: Clone + Eq + std::hash::Hash>(map: &DashMap<K, i64>) -> Vec<(K, i64)> {
    let keys: Vec<K> = map.iter().map(|e| e.key().clone()).collect();
    keys.into_iter()
        .filter_map(|key| map.remove(&key))
        .collect()
}

/// The start of a counter's minute.
pub fn minute_start(minute: i64) -> NaiveDateTime {
    DateTime::from_timestamp(minute.saturating_mul(60), 0)
        .unwrap_or_default()
        .naive_utc()
}

/// Middleware: counts each response of a metered request by its status class.
pub async fn meter_requests(
    req: actix_web::dev::ServiceRequest,
    next: actix_web::middleware::Next<impl actix_web::body::MessageBody>,
) -> Result<actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>, actix_web::Error> {
    use actix_web::HttpMessage;
    let meter = req.app_data::<web::Data<Meter>>().cloned();
    let response = next.call(req).await?;
    if let Some(meter) = meter {
        let metered = response.request().extensions().get::<Metered>().cloned();
        if let Some(metered) = metered {
            meter.count(&metered, response.status().as_u16());
        }
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;

    #[test]
    fn counts_add_up_per_subject_minute_and_class() {
        let start = DateTime::parse_from_rfc3339("2026-11-22T10:00:30Z")
            .unwrap()
            .with_timezone(&chrono::Utc);
        let clock = Arc::new(ManualClock::new(start));
        let meter = Meter::new(true, clock.clone());
        let who = Metered {
            subject_id: Arc::from("key_a"),
            org_id: Arc::from("org_1"),
        };
        meter.count(&who, 200);
        meter.count(&who, 204);
        meter.count(&who, 429);
        clock.advance(chrono::Duration::seconds(40));
        meter.count(&who, 200);
        let (mut counts, _) = meter.drain();
        counts.sort_by_key(|(k, _)| (k.minute, k.status_class));
        let summary: Vec<(String, &str, i64)> = counts
            .iter()
            .map(|(k, n)| {
                let start = minute_start(k.minute).format("%H:%M").to_string();
                (start, k.status_class, *n)
            })
            .collect();
        assert_eq!(
            summary,
            vec![
                ("10:00".to_owned(), "2xx", 2),
                ("10:00".to_owned(), "4xx", 1),
                ("10:01".to_owned(), "2xx", 1)
            ]
        );
        assert!(meter.drain().0.is_empty(), "drained");
        let off = Meter::new(false, clock);
        off.count(&who, 200);
        assert!(off.drain().0.is_empty());
    }
}
