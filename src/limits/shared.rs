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

use super::{Allowance, Limited, TierLimit};

/// GCRA. KEYS[1]: the limit's key. ARGV: now (ms), the interval between requests (ms),
/// the burst. Returns {allowed (1/0), retry after (ms), remaining, reset (ms)}.
const GCRA: &str = r"
local now = tonumber(ARGV[1])
local interval = tonumber(ARGV[2])
local burst = tonumber(ARGV[3])
local tolerance = interval * (burst - 1)
local tat = tonumber(redis.call('GET', KEYS[1]))
if tat == nil or tat < now then tat = now end
local allow_at = tat - tolerance
if now < allow_at then
  return {0, math.ceil(allow_at - now), 0, math.ceil(tat - now)}
end
local new_tat = tat + interval
redis.call('SET', KEYS[1], tostring(new_tat), 'PX', math.max(1, math.ceil(new_tat - now)))
return {1, 0, math.floor((now + tolerance - tat) / interval), math.ceil(new_tat - now)}
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
        })
    }

    /// One check against Redis; `None` when Redis is unavailable (the caller falls
    /// back to its own limiter).
    pub async fn check(
        &self,
        limit: TierLimit,
        key: &str,
        now_ms: i64,
    ) -> Option<Result<Allowance, Limited>> {
        if now_ms < self.skip_until_ms.load(Ordering::Relaxed) {
            return None;
        }
        let interval_ms = 60_000.0 / f64::from(limit.requests_per_minute.max(1));
        let mut connection = self.connection.clone();
        let answer: redis::RedisResult<(i64, i64, i64, i64)> = self
            .script
            .key(format!("{}:{key}", self.prefix))
            .arg(now_ms)
            .arg(interval_ms)
            .arg(limit.burst.max(1))
            .invoke_async(&mut connection)
            .await;
        match answer {
            Ok((allowed, retry_ms, remaining, reset_ms)) => {
                if self.down.swap(false, Ordering::Relaxed) {
                    tracing::info!("Redis reachable again: rate limits are shared again");
                }
                Some(if allowed == 1 {
                    Ok(Allowance {
                        limit: limit.requests_per_minute,
                        remaining: u32::try_from(remaining.max(0)).unwrap_or(0),
                        reset_secs: ms_to_secs(reset_ms),
                    })
                } else {
                    Err(Limited {
                        limit: limit.requests_per_minute,
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
