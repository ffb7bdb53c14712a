//! Limits shared by several keygate instances through Redis: the same GCRA as the
//! in-process limiter, run atomically in Redis by one Lua script per check, so the
//! instances enforce one combined limit per credential and per organization.
//!
//! If Redis cannot be reached keygate **fails open to its in-process limiter** — each
//! instance then enforces the limits on its own share of the traffic — rather than
//! refusing every request: an outage of the limiter must not become an outage of the
//! API. The switch is logged once each way, not per request, and Redis is not tried
//! again for `RETRY_AFTER_FAILURE`, so a dead Redis costs no latency.

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use super::tiers::TierLimit;
use super::verdict::{Allowance, Limited};

/// GCRA over two limits at once — the credential's (`KEYS[1]`) and its organization's
/// (`KEYS[2]`) — committing both only if both allow, so a refused request uses up
/// neither. ARGV: now (ms), then for each key the interval between requests (ms) and
/// the burst. Returns {allowed (1/0), which key decided (1/2), retry after (ms),
/// remaining, reset (ms)}; when allowed, the key with fewer remaining decides.
const GCRA: &str = r"
local now = tonumber(ARGV[1])
local new_tats = {}
local remaining = {}
local resets = {}
for i = 1, 2 do
  local interval = tonumber(ARGV[2 * i])
  local burst = tonumber(ARGV[2 * i + 1])
  local tolerance = interval * (burst - 1)
  local tat = tonumber(redis.call('GET', KEYS[i]))
  if tat == nil or tat < now then tat = now end
  local allow_at = tat - tolerance
  if now < allow_at then
    return {0, i, math.ceil(allow_at - now), 0, math.ceil(tat - now)}
  end
  new_tats[i] = tat + interval
  remaining[i] = math.floor((now + tolerance - tat) / interval)
  resets[i] = math.ceil(new_tats[i] - now)
end
for i = 1, 2 do
  redis.call('SET', KEYS[i], tostring(new_tats[i]), 'PX', math.max(1, resets[i]))
end
local pick = 1
if remaining[2] < remaining[1] then pick = 2 end
return {1, pick, 0, remaining[pick], resets[pick]}
";

/// After a failure, how long Redis is left alone.
const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(5);
/// Redis answers in well under a millisecond on a LAN; longer means trouble.
const REDIS_TIMEOUT: Duration = Duration::from_millis(250);

pub struct SharedLimiter {
    connection: ConnectionManager,
    script: redis::Script,
    prefix: String,
    /// Unix ms before which Redis is not tried (after a failure).
    skip_until_ms: AtomicI64,
    down: AtomicBool,
    /// While Redis is down, the one request that may find out whether it is back.
    probing: AtomicBool,
}

impl std::fmt::Debug for SharedLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedLimiter")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, thiserror::Error)]
#[error("invalid Redis URL: {0}")]
pub struct RedisUrlError(String);

impl SharedLimiter {
    /// Parses the URL now; connects on first use (and again after failures).
    pub fn new(url: &str, prefix: &str) -> Result<Self, RedisUrlError> {
        // The error text can contain the URL, password included: keep only its kind.
        let client =
            redis::Client::open(url).map_err(|e| RedisUrlError(format!("{:?}", e.kind())))?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(REDIS_TIMEOUT))
            .set_response_timeout(Some(REDIS_TIMEOUT))
            .set_number_of_retries(1);
        let connection = ConnectionManager::new_lazy_with_config(client, config)
            .map_err(|e| RedisUrlError(format!("{:?}", e.kind())))?;
        Ok(Self {
            connection,
            script: redis::Script::new(GCRA),
            prefix: prefix.to_owned(),
            skip_until_ms: AtomicI64::new(0),
            down: AtomicBool::new(false),
            probing: AtomicBool::new(false),
        })
    }

    /// One check of both limits (credential, organization) against Redis; `None`
    /// when Redis is unavailable (the caller falls back to its own limiter).
    pub async fn check(
        &self,
        limits: [(TierLimit, String); 2],
        now_ms: i64,
    ) -> Option<Result<Allowance, Limited>> {
        if now_ms < self.skip_until_ms.load(Ordering::Relaxed) {
            return None;
        }
        // While Redis is down one request at a time probes it; the others do not wait
        // for a timeout and use this instance's limiter.
        let probe = self.down.load(Ordering::Relaxed);
        if probe && self.probing.swap(true, Ordering::Acquire) {
            return None;
        }
        let answer = self.run(&limits, now_ms).await;
        if probe {
            self.probing.store(false, Ordering::Release);
        }
        answer
    }

    async fn run(
        &self,
        limits: &[(TierLimit, String); 2],
        now_ms: i64,
    ) -> Option<Result<Allowance, Limited>> {
        let mut invocation = self.script.prepare_invoke();
        invocation.arg(now_ms);
        for (limit, key) in limits {
            invocation
                .key(format!("{}:{key}", self.prefix))
                .arg(60_000.0 / f64::from(limit.requests_per_minute.max(1)))
                .arg(limit.burst.max(1));
        }
        let mut connection = self.connection.clone();
        let answer: redis::RedisResult<(i64, usize, i64, i64, i64)> =
            invocation.invoke_async(&mut connection).await;
        match answer {
            Ok((allowed, which, retry_ms, remaining, reset_ms)) => {
                if self.down.swap(false, Ordering::Relaxed) {
                    tracing::info!("Redis reachable again: rate limits are shared again");
                }
                let limit = limits[which.clamp(1, 2) - 1].0.requests_per_minute;
                Some(if allowed == 1 {
                    Ok(Allowance {
                        limit,
                        remaining: u32::try_from(remaining.max(0)).unwrap_or(0),
                        reset_secs: ms_to_secs(reset_ms),
                    })
                } else {
                    Err(Limited {
                        limit,
                        retry_after_secs: ms_to_secs(retry_ms).max(1),
                    })
                })
            }
            Err(error) => {
                self.skip_until_ms.store(
                    now_ms + RETRY_AFTER_FAILURE.as_millis() as i64,
                    Ordering::Relaxed,
                );
                if !self.down.swap(true, Ordering::Relaxed) {
                    tracing::warn!(error = ?error.kind(),
                        "Redis unreachable: rate limits fall back to this instance's own limiter");
                }
                None
            }
        }
    }
}

fn ms_to_secs(ms: i64) -> u64 {
    u64::try_from(ms.max(0)).unwrap_or(0).div_ceil(1000)
}
