//! Throttling of failed client authentications (brute force), the last part of the
//! argon2 budget. Failures are counted
//! per client id *from one source address*, and per source address; past either
//! allowance, that client id from that address (or anything from that address) is
//! answered 429 until it has refilled. Keying the client's count by address too means
//! a guesser elsewhere cannot lock the real client out (client ids are public: every
//! access token names its client); and only requests whose secret is not in the
//! verified cache get here at all. IPv6 addresses count per /64, which one host
//! typically holds whole.
//!
//! An attempt is *reserved* before it waits for argon2 and counts against both
//! allowances while it is in flight: checking first and counting after would let N
//! parallel guesses all pass the check before any of them is counted. A reservation
//! that succeeds is given back; one that fails becomes a failure; one dropped unsettled
//! (the caller went away before argon2 ran) is given back.
//!
//! Each allowance is a leaky bucket of failures: `per_minute` failures fit, and it
//! drains at `per_minute` per minute — the same quota the GCRA rate limits use.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use parking_lot::Mutex;

/// More tracked keys than this and idle ones are dropped; if all are live, new keys
/// are admitted untracked (their failures then stay plain 401s) rather than refused,
/// so a flood of made-up ids cannot turn the throttle against everyone.
const MAX_TRACKED: usize = 200_000;
/// Drop drained buckets every this many reservations.
const TIDY_EVERY: u64 = 4_096;

/// A block that a failure started (for the log and the audit log).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BurstStarted {
    pub key: String,
    pub retry_after_secs: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Kind {
    ClientAtSource,
    Source,
}

#[derive(Debug)]
struct Bucket {
    /// Failures not yet drained, as of `at`.
    failures: f64,
    at: DateTime<Utc>,
    in_flight: u32,
    /// Whether the last failure filled the bucket (a block is under way).
    blocked: bool,
}

impl Bucket {
    fn drain(&mut self, now: DateTime<Utc>, per_second: f64) {
        let elapsed = (now - self.at)
            .num_microseconds()
            .unwrap_or(i64::MAX)
            .max(0) as f64
            / 1e6;
        self.failures = (self.failures - elapsed * per_second).max(0.0);
        self.at = now;
        if self.failures <= 0.0 {
            self.blocked = false;
        }
    }

    fn idle(&self) -> bool {
        self.in_flight == 0 && self.failures <= 0.0
    }
}

struct State {
    buckets: HashMap<(Kind, u64), Bucket>,
    reservations: u64,
}

struct Inner {
    per_client: u32,
    per_source: u32,
    state: Mutex<State>,
}

impl Inner {
    fn allowance(&self, kind: Kind) -> u32 {
        match kind {
            Kind::ClientAtSource => self.per_client,
            Kind::Source => self.per_source,
        }
        .max(1)
    }

    fn per_second(&self, kind: Kind) -> f64 {
        f64::from(self.allowance(kind)) / 60.0
    }
}

#[derive(Clone)]
pub struct FailedAuthThrottle(Arc<Inner>);

/// A reserved attempt: settle it with `failed` or `succeeded`; dropped unsettled it is
/// given back.
pub struct Attempt {
    inner: Arc<Inner>,
    client_id: String,
    source: Option<String>,
    /// The buckets holding this attempt (none when admitted untracked).
    keys: Vec<(Kind, u64)>,
}

/// The address a failure is counted for: IPv6 per /64.
fn grouped(source: &str) -> String {
    match source.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V6(v6)) if v6.to_ipv4_mapped().is_none() => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
        _ => source.to_owned(),
    }
}

fn hashed(parts: &[&str]) -> u64 {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    parts.hash(&mut hasher);
    hasher.finish()
}

fn ceil_secs(secs: f64) -> u64 {
    if secs.is_finite() && secs > 0.0 {
        (secs.ceil() as u64).max(1)
    } else {
        1
    }
}

impl FailedAuthThrottle {
    pub fn new(per_client_per_minute: u32, per_source_per_minute: u32) -> Self {
        Self(Arc::new(Inner {
            per_client: per_client_per_minute,
            per_source: per_source_per_minute,
            state: Mutex::new(State {
                buckets: HashMap::new(),
                reservations: 0,
            }),
        }))
    }

    fn keys(client_id: &str, source: Option<&str>) -> Vec<(Kind, u64)> {
        let mut keys = vec![(
            Kind::ClientAtSource,
            hashed(&[client_id, source.unwrap_or("")]),
        )];
        if let Some(source) = source {
            keys.push((Kind::Source, hashed(&[source])));
        }
        keys
    }

    /// Reserves one attempt for this client id from this source, or says in how many
    /// seconds one may try again.
    pub fn reserve(
        &self,
        client_id: &str,
        source: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Attempt, u64> {
        let source = source.map(grouped);
        let inner = &self.0;
        let keys = Self::keys(client_id, source.as_deref());
        let mut state = inner.state.lock();
        state.reservations += 1;
        if state.reservations.is_multiple_of(TIDY_EVERY) || state.buckets.len() >= MAX_TRACKED {
            state.buckets.retain(|(kind, _), bucket| {
                bucket.drain(now, inner.per_second(*kind));
                !bucket.idle()
            });
        }
        let mut wait: Option<u64> = None;
        for key in &keys {
            if let Some(bucket) = state.buckets.get_mut(key) {
                let per_second = inner.per_second(key.0);
                bucket.drain(now, per_second);
                let allowance = f64::from(inner.allowance(key.0));
                let wanted = bucket.failures + f64::from(bucket.in_flight) + 1.0;
                if wanted > allowance {
                    // Until enough has drained, counting every attempt in flight as a
                    // failure-to-be.
                    let secs = ceil_secs((wanted - allowance) / per_second);
                    wait = Some(wait.map_or(secs, |w| w.max(secs)));
                }
            }
        }
        if let Some(secs) = wait {
            return Err(secs);
        }
        let untracked = keys.iter().any(|key| !state.buckets.contains_key(key))
            && state.buckets.len() + keys.len() > MAX_TRACKED;
        let keys = if untracked { Vec::new() } else { keys };
        for key in &keys {
            state
                .buckets
                .entry(*key)
                .or_insert_with(|| Bucket {
                    failures: 0.0,
                    at: now,
                    in_flight: 0,
                    blocked: false,
                })
                .in_flight += 1;
        }
        drop(state);
        Ok(Attempt {
            inner: inner.clone(),
            client_id: client_id.to_owned(),
            source,
            keys,
        })
    }
}

impl Attempt {
    /// The secret verified: the attempt is given back.
    pub fn succeeded(self) {}

    /// The secret did not verify: counts a failure; returns the blocks it started.
    pub fn failed(mut self, now: DateTime<Utc>) -> Vec<BurstStarted> {
        let keys = std::mem::take(&mut self.keys);
        let inner = &self.inner;
        let mut state = inner.state.lock();
        let mut started = Vec::new();
        for key in keys {
            let Some(bucket) = state.buckets.get_mut(&key) else {
                continue;
            };
            let per_second = inner.per_second(key.0);
            bucket.drain(now, per_second);
            bucket.in_flight = bucket.in_flight.saturating_sub(1);
            bucket.failures += 1.0;
            let allowance = f64::from(inner.allowance(key.0));
            // Full once the next attempt would be refused; not `failures >=
            // allowance`, which the drain since the first failure keeps just short
            // of it when failures come in real time, so the block went unreported.
            if bucket.failures + 1.0 > allowance && !bucket.blocked {
                bucket.blocked = true;
                started.push(BurstStarted {
                    key: match key.0 {
                        Kind::Source => format!("source {}", self.source.as_deref().unwrap_or("?")),
                        Kind::ClientAtSource => format!(
                            "client {} from {}",
                            self.client_id,
                            self.source.as_deref().unwrap_or("?")
                        ),
                    },
                    retry_after_secs: ceil_secs((bucket.failures + 1.0 - allowance) / per_second),
                });
            }
        }
        started
    }
}

impl Drop for Attempt {
    fn drop(&mut self) {
        if self.keys.is_empty() {
            return;
        }
        let mut state = self.inner.state.lock();
        for key in &self.keys {
            if let Some(bucket) = state.buckets.get_mut(key) {
                bucket.in_flight = bucket.in_flight.saturating_sub(1);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fail(
        throttle: &FailedAuthThrottle,
        client: &str,
        source: &str,
        now: DateTime<Utc>,
    ) -> Vec<BurstStarted> {
        throttle
            .reserve(client, Some(source), now)
            .unwrap()
            .failed(now)
    }

    #[test]
    fn failures_block_the_client_id_and_the_source_until_they_refill() {
        let mut now = Utc::now();
        let throttle = FailedAuthThrottle::new(3, 5);
        assert!(fail(&throttle, "kgc_a", "10.0.0.1", now).is_empty());
        assert!(fail(&throttle, "kgc_a", "10.0.0.1", now).is_empty());
        let started = fail(&throttle, "kgc_a", "10.0.0.1", now);
        assert_eq!(started.len(), 1, "the third failure fills the allowance");
        assert_eq!(started[0].key, "client kgc_a from 10.0.0.1");
        assert_eq!(started[0].retry_after_secs, 20);
        assert_eq!(
            throttle.reserve("kgc_a", Some("10.0.0.1"), now).err(),
            Some(20)
        );
        assert!(
            throttle.reserve("kgc_a", Some("10.0.0.2"), now).is_ok(),
            "the same client from elsewhere is not locked out"
        );
        assert!(
            throttle.reserve("kgc_b", Some("10.0.0.3"), now).is_ok(),
            "others go on"
        );
        // The source's own allowance (5) runs out across client ids: 3 + 2 failures.
        fail(&throttle, "kgc_b", "10.0.0.1", now);
        let started = fail(&throttle, "kgc_b", "10.0.0.1", now);
        assert_eq!(started[0].key, "source 10.0.0.1");
        assert!(throttle.reserve("kgc_c", Some("10.0.0.1"), now).is_err());
        now += chrono::Duration::seconds(21);
        assert!(
            throttle.reserve("kgc_a", Some("10.0.0.1"), now).is_ok(),
            "refilled"
        );
        // One IPv6 host's /64 is one source (5 failures allowed, then blocked).
        for n in 1..=5 {
            fail(
                &throttle,
                &format!("kgc_v6_{n}"),
                &format!("2001:db8:1:2::{n}"),
                now,
            );
        }
        assert!(throttle
            .reserve("kgc_new", Some("2001:db8:1:2::99"), now)
            .is_err());
    }

    #[test]
    fn attempts_in_flight_count_until_they_settle() {
        let now = Utc::now();
        let throttle = FailedAuthThrottle::new(3, 100);
        let in_flight: Vec<_> = (0..3)
            .map(|_| throttle.reserve("kgc_a", Some("10.0.0.1"), now).unwrap())
            .collect();
        assert!(
            throttle.reserve("kgc_a", Some("10.0.0.1"), now).is_err(),
            "three parallel guesses hold the whole allowance"
        );
        let mut in_flight = in_flight.into_iter();
        in_flight.next().unwrap().succeeded();
        drop(in_flight.next());
        assert!(
            throttle.reserve("kgc_a", Some("10.0.0.1"), now).is_ok(),
            "a success and an abandoned attempt are given back"
        );
        in_flight.next().unwrap().failed(now);
        let _a = throttle.reserve("kgc_a", Some("10.0.0.1"), now).unwrap();
        let _b = throttle.reserve("kgc_a", Some("10.0.0.1"), now).unwrap();
        assert!(throttle.reserve("kgc_a", Some("10.0.0.1"), now).is_err());
    }
}
