//! The meter: counts in memory per request, and the task that writes them out.

use std::sync::Arc;

use actix_web::web;
use dashmap::DashMap;

use super::counts::{status_class, CounterKey, Metered, TokenCounterKey, ISSUED};
use super::repo;
use crate::clock::Clock;
use crate::store::Store;

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
        if !self.enabled || !crate::tokens::TokenKind::ClientId.is_id(client_id) {
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
    use chrono::DateTime;

    use super::super::counts::minute_start;
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
