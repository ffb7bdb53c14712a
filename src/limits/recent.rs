//! Which credentials this instance refused for their rate limit lately — what the
//! dashboard's keys table shows as "rate-limited". A bounded map from credential id to
//! the last refusal's time, written only on a refusal (an admitted request never takes
//! its lock); past `MAX_ENTRIES` it first forgets what is older than the window, and
//! if it is still full, records nothing more until it is not. Per instance: with
//! several instances (and a shared Redis limit) each knows the refusals it answered.

use std::collections::HashMap;

use parking_lot::Mutex;

/// How long after its last refusal a credential counts as rate-limited, in seconds.
pub const WINDOW_SECS: i64 = 60;

const MAX_ENTRIES: usize = 10_000;

#[derive(Default)]
pub struct RecentRefusals {
    last: Mutex<HashMap<String, i64>>,
}

impl RecentRefusals {
    /// Notes a refusal of `credential` at `now` (Unix seconds).
    pub fn note(&self, credential: &str, now: i64) {
        let mut last = self.last.lock();
        if last.len() >= MAX_ENTRIES && !last.contains_key(credential) {
            last.retain(|_, at| now - *at < WINDOW_SECS);
            if last.len() >= MAX_ENTRIES {
                return;
            }
        }
        last.insert(credential.to_owned(), now);
    }

    /// Whether `credential` was refused within the last `WINDOW_SECS` at `now`.
    pub fn limited(&self, credential: &str, now: i64) -> bool {
        self.last
            .lock()
            .get(credential)
            .is_some_and(|at| now - *at < WINDOW_SECS)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_counts_for_a_minute_and_the_map_stays_bounded() {
        let recent = RecentRefusals::default();
        recent.note("key_a", 1_000);
        assert!(recent.limited("key_a", 1_059));
        assert!(!recent.limited("key_a", 1_060));
        assert!(!recent.limited("key_b", 1_000));
        for i in 0..MAX_ENTRIES + 10 {
            recent.note(&format!("key_{i}"), 2_000);
        }
        assert_eq!(recent.last.lock().len(), MAX_ENTRIES);
        // Once the old ones are past the window, new refusals are recorded again.
        recent.note("key_new", 2_000 + WINDOW_SECS);
        assert!(recent.limited("key_new", 2_000 + WINDOW_SECS));
    }
}
