//! Client-secret verification for the token endpoint, without argon2 on every
//! request and without unbounded argon2 under attack.
//!
//! - Successful verifications are remembered in a bounded LRU set keyed by
//!   SHA-256(client id, stored PHC hash, presented secret). A rotated secret changes
//!   the stored hash and so misses the cache; a disabled client is refused before the
//!   cache is consulted, because the caller reads the client row on every request —
//!   which also keeps this correct when another instance changes the row.
//! - Unknown and disabled clients are verified against a dummy hash with the same
//!   parameters, so they take as long as a wrong secret for a real client.
//! - At most `permits` argon2 computations run at once (each holds ~19 MiB); the rest
//!   wait, so a wrong-secret flood costs queueing, not memory.

use std::num::NonZeroUsize;
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};

use lru::LruCache;
use oxide_auth::primitives::registrar::PasswordPolicy;
use sha2::{Digest, Sha256};

use super::model::Client;
use super::secret::{Argon2id, HashError};

pub struct SecretVerifier {
    policy: Argon2id,
    verified: Mutex<LruCache<[u8; 32], ()>>,
    permits: Permits,
    dummy_hash: String,
}

impl SecretVerifier {
    pub fn new(cache_entries: usize, max_concurrent_argon2: usize) -> Result<Self, HashError> {
        let dummy_hash = Argon2id.hash(b"keygate dummy secret for unknown clients")?;
        let capacity = NonZeroUsize::new(cache_entries.max(1)).unwrap_or(NonZeroUsize::MIN);
        Ok(Self {
            policy: Argon2id,
            verified: Mutex::new(LruCache::new(capacity)),
            permits: Permits::new(max_concurrent_argon2.max(1)),
            dummy_hash,
        })
    }

    /// Whether `presented` is the current secret of `client` (looked up by the
    /// caller; `None` when the id is unknown). Blocking: call off the executor.
    pub fn verify(&self, client: Option<&Client>, presented: &[u8]) -> bool {
        let Some(client) = client.filter(|c| !c.is_disabled()) else {
            self.argon2(presented, &self.dummy_hash);
            return false;
        };
        let key = cache_key(client, presented);
        if self.lock_cache().get(&key).is_some() {
            return true;
        }
        let ok = self.argon2_check(client, presented);
        if ok {
            self.lock_cache().put(key, ());
        }
        ok
    }

    /// Verifications waiting for a permit right now (for metrics and tests).
    pub fn queued(&self) -> usize {
        self.permits.waiting()
    }

    fn argon2_check(&self, client: &Client, presented: &[u8]) -> bool {
        let _permit = self.permits.acquire();
        self.policy
            .check(&client.id, presented, client.secret_hash.as_bytes())
            .is_ok()
    }

    fn argon2(&self, presented: &[u8], phc: &str) -> bool {
        let _permit = self.permits.acquire();
        self.policy.verify(presented, phc)
    }

    fn lock_cache(&self) -> MutexGuard<'_, LruCache<[u8; 32], ()>> {
        // The cache holds no invariant a panicking holder could break.
        self.verified.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn cache_key(client: &Client, presented: &[u8]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    // Length prefixes keep the concatenation unambiguous.
    for part in [
        client.id.as_bytes(),
        client.secret_hash.as_bytes(),
        presented,
    ] {
        hasher.update((part.len() as u64).to_be_bytes());
        hasher.update(part);
    }
    hasher.finalize().into()
}

/// A counting semaphore for blocking threads (tokio's is async-only).
struct Permits {
    state: Mutex<PermitState>,
    freed: Condvar,
}

struct PermitState {
    available: usize,
    waiting: usize,
}

struct Permit<'a>(&'a Permits);

impl Permits {
    fn new(count: usize) -> Self {
        Self {
            state: Mutex::new(PermitState {
                available: count,
                waiting: 0,
            }),
            freed: Condvar::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, PermitState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn acquire(&self) -> Permit<'_> {
        let mut state = self.lock();
        state.waiting += 1;
        while state.available == 0 {
            state = self
                .freed
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
        state.waiting -= 1;
        state.available -= 1;
        Permit(self)
    }

    fn waiting(&self) -> usize {
        self.lock().waiting
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        self.0.lock().available += 1;
        self.0.freed.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    fn client(secret: &str) -> Client {
        let now = chrono::Utc::now().naive_utc();
        Client {
            id: "kgc_test".into(),
            org_id: "org_1".into(),
            name: "t".into(),
            secret_hash: Argon2id.hash(secret.as_bytes()).unwrap(),
            grant_types: "client_credentials".into(),
            allowed_scopes: "read".into(),
            default_scopes: "read".into(),
            audience: None,
            access_token_ttl_secs: None,
            created_at: now,
            updated_at: now,
            disabled_at: None,
        }
    }

    #[test]
    fn verifies_caches_and_invalidates_on_new_hash_or_disable() {
        let verifier = SecretVerifier::new(16, 2).unwrap();
        let mut c = client("kgs_right");
        assert!(!verifier.verify(Some(&c), b"kgs_wrong"));
        assert!(verifier.verify(Some(&c), b"kgs_right"));
        assert!(verifier.verify(Some(&c), b"kgs_right")); // cached
        assert!(!verifier.verify(Some(&c), b"kgs_wrong"));

        let old_hash = c.secret_hash.clone();
        c.secret_hash = Argon2id.hash(b"kgs_rotated").unwrap();
        assert_ne!(old_hash, c.secret_hash);
        assert!(
            !verifier.verify(Some(&c), b"kgs_right"),
            "old secret after rotation"
        );
        assert!(verifier.verify(Some(&c), b"kgs_rotated"));

        c.disabled_at = Some(chrono::Utc::now().naive_utc());
        assert!(
            !verifier.verify(Some(&c), b"kgs_rotated"),
            "disabled client"
        );
        assert!(!verifier.verify(None, b"kgs_rotated"), "unknown client");
    }

    #[test]
    fn permits_bound_concurrency() {
        let permits = Arc::new(Permits::new(2));
        let running = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let (permits, running, peak) = (permits.clone(), running.clone(), peak.clone());
                std::thread::spawn(move || {
                    let _p = permits.acquire();
                    let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                    peak.fetch_max(now, Ordering::SeqCst);
                    std::thread::sleep(std::time::Duration::from_millis(20));
                    running.fetch_sub(1, Ordering::SeqCst);
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(peak.load(Ordering::SeqCst), 2);
        assert_eq!(permits.waiting(), 0);
    }
}
