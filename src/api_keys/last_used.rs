//! Last-used times without a database write per request: each process writes a key's
//! `last_used_at` at most once a minute (by its clock), so a busy key costs one small
//! update a minute per instance and an idle one nothing.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use parking_lot::Mutex;

use crate::ids::ApiKeyId;

/// How stale `last_used_at` may be.
pub const RESOLUTION_SECS: i64 = 60;
/// Beyond this many remembered keys, entries older than the resolution are dropped.
const PRUNE_AT: usize = 100_000;

#[derive(Default)]
pub struct LastUsed {
    /// key id → when this process last wrote its `last_used_at` (epoch seconds).
    written: Mutex<HashMap<ApiKeyId, i64>>,
}

impl LastUsed {
    /// Whether this use of `key_id` should be written; if so, it counts as written.
    pub fn claim(&self, key_id: &ApiKeyId, now: DateTime<Utc>) -> bool {
        let now = now.timestamp();
        let mut written = self.written.lock();
        if let Some(&at) = written.get(key_id) {
            if now - at < RESOLUTION_SECS {
                return false;
            }
        }
        if written.len() >= PRUNE_AT {
            written.retain(|_, at| now - *at < RESOLUTION_SECS);
        }
        written.insert(key_id.clone(), now);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_write_a_minute_per_key() {
        let last_used = LastUsed::default();
        let (a, b) = (ApiKeyId::from("key_a"), ApiKeyId::from("key_b"));
        let t0 = Utc::now();
        assert!(last_used.claim(&a, t0));
        assert!(!last_used.claim(&a, t0 + chrono::Duration::seconds(59)));
        assert!(last_used.claim(&b, t0));
        assert!(last_used.claim(&a, t0 + chrono::Duration::seconds(60)));
    }
}
