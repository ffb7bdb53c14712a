//! The in-process limiter: GCRA (the `governor` crate) per credential and per
//! organization, through the shared Redis state first when one is configured.

use std::collections::{BTreeMap, HashMap};
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use governor::clock::Clock as GovernorClock;
use governor::middleware::StateInformationMiddleware;
use governor::nanos::Nanos;
use governor::state::keyed::DashMapStateStore;
use governor::{Quota, RateLimiter};
use parking_lot::RwLock;

use super::shared::SharedLimiter;
use super::tiers::{TierLimit, FALLBACK_TIER};
use super::verdict::{Allowance, Limited};
use crate::clock::Clock;

/// keygate's clock as governor's: tests move time with `ManualClock`.
#[derive(Clone)]
struct LimiterClock(Arc<dyn Clock>);

impl GovernorClock for LimiterClock {
    type Instant = Nanos;

    fn now(&self) -> Nanos {
        let nanos = self.0.now().timestamp_nanos_opt().unwrap_or_default();
        Nanos::from(u64::try_from(nanos).unwrap_or_default())
    }
}

/// Limiter state is keyed by a 64-bit hash of the subject (`LimitKey`), not by its
/// text: no allocation per request, and a collision between two of the server-made ids
/// (about 1 in 10^7 for a million keys) would only make two credentials share a limit.
type KeyedLimiter =
    RateLimiter<u64, DashMapStateStore<u64>, LimiterClock, StateInformationMiddleware>;

/// What a limit counts: a credential or an organization.
#[derive(Clone, Copy, Debug, Hash)]
pub enum LimitKey<'a> {
    Credential(&'a str),
    Org(&'a str),
}

impl LimitKey<'_> {
    fn hashed(self) -> u64 {
        use std::hash::{Hash, Hasher};
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        self.hash(&mut hasher);
        hasher.finish()
    }
}

/// Forget keys idle long enough to be whole again, every this many checks.
const RETAIN_EVERY: u64 = 65_536;

pub struct RateLimits {
    enabled: bool,
    shared: Option<SharedLimiter>,
    tiers: BTreeMap<String, TierLimit>,
    clock: LimiterClock,
    /// One limiter per distinct (requests per minute, burst).
    limiters: RwLock<HashMap<(u32, u32), Arc<KeyedLimiter>>>,
    checks: AtomicU64,
    refused: super::recent::RecentRefusals,
}

impl RateLimits {
    pub fn new(enabled: bool, tiers: BTreeMap<String, TierLimit>, clock: Arc<dyn Clock>) -> Self {
        Self {
            enabled,
            shared: None,
            tiers,
            clock: LimiterClock(clock),
            limiters: RwLock::new(HashMap::new()),
            checks: AtomicU64::new(0),
            refused: super::recent::RecentRefusals::default(),
        }
    }

    /// Shares the limits with other instances through Redis.
    pub fn with_shared(mut self, shared: SharedLimiter) -> Self {
        self.shared = Some(shared);
        self
    }

    /// `check`, through Redis when it is configured and reachable; a refusal is
    /// remembered for `recently_limited`.
    pub async fn check_request(
        &self,
        credential: &str,
        org_id: &str,
        tier: &str,
        credential_override: Option<u32>,
    ) -> Option<Result<Allowance, Limited>> {
        let checked = self
            .check_request_unnoted(credential, org_id, tier, credential_override)
            .await;
        if let Some(Err(_)) = &checked {
            self.refused
                .note(credential, self.clock.0.now().timestamp());
        }
        checked
    }

    /// Whether this instance refused `credential` for a rate limit (its own or its
    /// organization's) within the last minute.
    pub fn recently_limited(&self, credential: &str) -> bool {
        self.refused
            .limited(credential, self.clock.0.now().timestamp())
    }

    async fn check_request_unnoted(
        &self,
        credential: &str,
        org_id: &str,
        tier: &str,
        credential_override: Option<u32>,
    ) -> Option<Result<Allowance, Limited>> {
        if !self.enabled {
            return None;
        }
        if let Some(shared) = &self.shared {
            let (credential_limit, org_limit) = self.limits_for(tier, credential_override);
            let now_ms = self.clock.0.now().timestamp_millis();
            let checked = shared
                .check(
                    [
                        (credential_limit, format!("c:{credential}")),
                        (org_limit, format!("o:{org_id}")),
                    ],
                    now_ms,
                )
                .await;
            if checked.is_some() {
                return checked;
            }
        }
        self.check(credential, org_id, tier, credential_override)
    }

    fn limits_for(&self, tier: &str, credential_override: Option<u32>) -> (TierLimit, TierLimit) {
        let org_limit = self.tier(tier);
        let credential_limit = match credential_override {
            Some(rpm) if rpm < org_limit.requests_per_minute => TierLimit {
                requests_per_minute: rpm,
                burst: org_limit.burst.min(rpm).max(1),
            },
            _ => org_limit,
        };
        (credential_limit, org_limit)
    }

    /// The configured limit of `tier` (unknown tiers get the fallback's).
    pub fn tier(&self, tier: &str) -> TierLimit {
        self.tiers
            .get(tier)
            .or_else(|| self.tiers.get(FALLBACK_TIER))
            .copied()
            .unwrap_or(TierLimit {
                requests_per_minute: 600,
                burst: 100,
            })
    }

    /// Counts one request of `credential` (a key or client id) in `org_id`. `None`
    /// when limits are off.
    pub fn check(
        &self,
        credential: &str,
        org_id: &str,
        tier: &str,
        credential_override: Option<u32>,
    ) -> Option<Result<Allowance, Limited>> {
        if !self.enabled {
            return None;
        }
        if self.checks.fetch_add(1, Ordering::Relaxed) % RETAIN_EVERY == RETAIN_EVERY - 1 {
            self.retain_recent();
        }
        let (credential_limit, org_limit) = self.limits_for(tier, credential_override);
        // The credential first, and the organization only if it passes: a request its
        // own (tighter) limit refuses must not use up its organization's allowance —
        // a throttled runaway key would otherwise starve every other key.
        let by_credential = self.check_one(credential_limit, LimitKey::Credential(credential));
        if by_credential.is_err() {
            return Some(by_credential);
        }
        let by_org = self.check_one(org_limit, LimitKey::Org(org_id));
        Some(tighter(by_credential, by_org))
    }

    fn check_one(&self, limit: TierLimit, key: LimitKey<'_>) -> Result<Allowance, Limited> {
        let limiter = self.limiter(limit);
        let now = self.clock.now();
        match limiter.check_key(&key.hashed()) {
            Ok(snapshot) => {
                let remaining = snapshot.remaining_burst_capacity();
                let per_cell = snapshot.quota().replenish_interval();
                let used = limit.burst.saturating_sub(remaining);
                Ok(Allowance {
                    limit: limit.requests_per_minute,
                    remaining,
                    reset_secs: ceil_secs(per_cell * used),
                })
            }
            Err(not_until) => Err(Limited {
                limit: limit.requests_per_minute,
                retry_after_secs: ceil_secs(not_until.wait_time_from(now)).max(1),
            }),
        }
    }

    fn limiter(&self, limit: TierLimit) -> Arc<KeyedLimiter> {
        let key = (limit.requests_per_minute, limit.burst);
        if let Some(limiter) = self.limiters.read().get(&key) {
            return limiter.clone();
        }
        self.limiters
            .write()
            .entry(key)
            .or_insert_with(|| Arc::new(self.build(limit)))
            .clone()
    }

    fn build(&self, limit: TierLimit) -> KeyedLimiter {
        let one = NonZeroU32::MIN;
        let rpm = NonZeroU32::new(limit.requests_per_minute).unwrap_or(one);
        let burst = NonZeroU32::new(limit.burst).unwrap_or(one);
        RateLimiter::dashmap_with_clock(
            Quota::per_minute(rpm).allow_burst(burst),
            self.clock.clone(),
        )
        .with_middleware::<StateInformationMiddleware>()
    }

    fn retain_recent(&self) {
        for limiter in self.limiters.read().values() {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
    }
}

/// Of two verdicts, the one the caller must obey.
fn tighter(
    a: Result<Allowance, Limited>,
    b: Result<Allowance, Limited>,
) -> Result<Allowance, Limited> {
    match (a, b) {
        (Err(a), Err(b)) => Err(if a.retry_after_secs >= b.retry_after_secs {
            a
        } else {
            b
        }),
        (Err(limited), Ok(_)) | (Ok(_), Err(limited)) => Err(limited),
        (Ok(a), Ok(b)) => Ok(if a.remaining <= b.remaining { a } else { b }),
    }
}

fn ceil_secs(duration: Duration) -> u64 {
    duration.as_secs() + u64::from(duration.subsec_nanos() > 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use crate::limits::default_tiers;

    fn limits(clock: Arc<ManualClock>) -> RateLimits {
        let mut tiers = default_tiers();
        tiers.insert(
            "tiny".into(),
            TierLimit {
                requests_per_minute: 60,
                burst: 3,
            },
        );
        RateLimits::new(true, tiers, clock)
    }

    #[test]
    fn a_burst_trips_then_recovers_at_the_rate() {
        let clock = Arc::new(ManualClock::new(chrono::Utc::now()));
        let limits = limits(clock.clone());
        let check = || limits.check("key:a", "org_1", "tiny", None).unwrap();
        for remaining in [2, 1, 0] {
            let allowed = check().unwrap();
            assert_eq!(allowed.remaining, remaining);
            assert_eq!(allowed.limit, 60);
        }
        let limited = check().unwrap_err();
        assert_eq!(limited.retry_after_secs, 1, "one request a second");
        clock.advance(chrono::Duration::seconds(1));
        assert!(check().is_ok(), "recovered one cell");
        assert!(check().is_err());
        clock.advance(chrono::Duration::seconds(3));
        assert_eq!(check().unwrap().remaining, 2, "whole again");
    }

    #[test]
    fn the_organization_limit_binds_all_its_credentials_and_overrides_only_tighten() {
        let clock = Arc::new(ManualClock::new(chrono::Utc::now()));
        let limits = limits(clock);
        for key in ["key:a", "key:b", "key:c"] {
            assert!(limits.check(key, "org_1", "tiny", None).unwrap().is_ok());
        }
        assert!(limits
            .check("key:d", "org_1", "tiny", None)
            .unwrap()
            .is_err());
        assert!(limits
            .check("key:d", "org_2", "tiny", None)
            .unwrap()
            .is_ok());
        // An override above the tier is ignored; below it binds.
        let allowed = limits
            .check("key:e", "org_3", "pro", Some(1))
            .unwrap()
            .unwrap();
        assert_eq!(allowed.limit, 1);
        assert!(limits
            .check("key:e", "org_3", "pro", Some(1))
            .unwrap()
            .is_err());
        let loose = limits
            .check("key:f", "org_4", "tiny", Some(10_000))
            .unwrap()
            .unwrap();
        assert_eq!(loose.limit, 60);
    }

    #[test]
    fn a_refused_request_does_not_use_up_its_organization() {
        let clock = Arc::new(ManualClock::new(chrono::Utc::now()));
        let limits = limits(clock);
        assert!(limits
            .check("key:slow", "org_1", "tiny", Some(1))
            .unwrap()
            .is_ok());
        for _ in 0..10 {
            assert!(limits
                .check("key:slow", "org_1", "tiny", Some(1))
                .unwrap()
                .is_err());
        }
        // The organization's burst of 3 lost only the one request that passed.
        assert!(limits
            .check("key:a", "org_1", "tiny", None)
            .unwrap()
            .is_ok());
        assert!(limits
            .check("key:b", "org_1", "tiny", None)
            .unwrap()
            .is_ok());
    }

    #[test]
    fn unknown_tiers_fall_back_and_disabled_limits_count_nothing() {
        let clock = Arc::new(ManualClock::new(chrono::Utc::now()));
        let limits = limits(clock.clone());
        assert_eq!(limits.tier("platinum"), default_tiers()["free"]);
        let off = RateLimits::new(false, default_tiers(), clock);
        assert!(off.check("key:a", "org_1", "free", None).is_none());
    }
}
