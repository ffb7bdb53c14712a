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
//! - At most `permits` argon2 computations run at once, each in one of `permits`
//!   reused working-memory buffers (~19 MiB each); the rest wait. A wrong-secret flood
//!   costs queueing, not memory: without reuse, glibc kept each thread's freed 19 MiB
//!   and a 64-connection flood grew the process past 2 GB (bench/token.sh).

use std::num::NonZeroUsize;
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};

use argon2::Block;
use lru::LruCache;
use oxide_auth::primitives::registrar::{PasswordPolicy, RegistrarError};
use sha2::{Digest, Sha256};

use super::model::Client;
use super::secret::{Argon2id, HashError};

pub struct SecretVerifier {
    policy: Argon2id,
    verified: Mutex<LruCache<[u8; 32], ()>>,
    memory: WorkingMemory,
    dummy_hash: String,
}

impl SecretVerifier {
    pub fn new(cache_entries: usize, max_concurrent_argon2: usize) -> Result<Self, HashError> {
        let dummy_hash = Argon2id.hash(b"keygate dummy secret for unknown clients")?;
        let capacity = NonZeroUsize::new(cache_entries.max(1)).unwrap_or(NonZeroUsize::MIN);
        Ok(Self {
            policy: Argon2id,
            verified: Mutex::new(LruCache::new(capacity)),
            memory: WorkingMemory::new(max_concurrent_argon2.max(1)),
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
        let ok = self
            .check(&client.id, presented, client.secret_hash.as_bytes())
            .is_ok();
        if ok {
            self.lock_cache().put(key, ());
        }
        ok
    }

    /// Verifications waiting for working memory right now (for metrics and tests).
    pub fn queued(&self) -> usize {
        self.memory.waiting()
    }

    fn argon2(&self, presented: &[u8], phc: &str) -> bool {
        let mut lease = self.memory.acquire();
        self.policy
            .verify_with_memory(presented, phc, lease.buffer())
    }

    fn lock_cache(&self) -> MutexGuard<'_, LruCache<[u8; 32], ()>> {
        // The cache holds no invariant a panicking holder could break.
        self.verified.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// keygate's argon2id policy as oxide-auth sees it: bounded, memory-reusing
/// verification. (The verified-secret cache sits in front, in `verify`.)
impl PasswordPolicy for SecretVerifier {
    /// oxide-auth's signature has no error path; a failed hash yields an empty
    /// string, which no secret verifies against (fail closed). keygate registers
    /// clients through `Argon2id::hash`, which reports the error.
    fn store(&self, _client_id: &str, passphrase: &[u8]) -> Vec<u8> {
        self.policy
            .hash(passphrase)
            .map(String::into_bytes)
            .unwrap_or_default()
    }

    fn check(
        &self,
        _client_id: &str,
        passphrase: &[u8],
        stored: &[u8],
    ) -> Result<(), RegistrarError> {
        let phc = std::str::from_utf8(stored).map_err(|_| RegistrarError::Unspecified)?;
        if self.argon2(passphrase, phc) {
            Ok(())
        } else {
            Err(RegistrarError::Unspecified)
        }
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

/// A fixed number of argon2 working-memory buffers, lent to one verification at a
/// time: a counting semaphore for blocking threads (tokio's is async-only) whose
/// permits are the buffers themselves.
struct WorkingMemory {
    state: Mutex<MemoryState>,
    returned: Condvar,
}

struct MemoryState {
    free: Vec<Vec<Block>>,
    /// Buffers not yet allocated; allocated on first need.
    unallocated: usize,
    waiting: usize,
}

struct Lease<'a> {
    pool: &'a WorkingMemory,
    buffer: Option<Vec<Block>>,
}

impl WorkingMemory {
    fn new(buffers: usize) -> Self {
        Self {
            state: Mutex::new(MemoryState {
                free: Vec::with_capacity(buffers),
                unallocated: buffers,
                waiting: 0,
            }),
            returned: Condvar::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, MemoryState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn acquire(&self) -> Lease<'_> {
        let mut state = self.lock();
        state.waiting += 1;
        let buffer = loop {
            if let Some(buffer) = state.free.pop() {
                break buffer;
            }
            if state.unallocated > 0 {
                state.unallocated -= 1;
                // Sized by the first verification that uses it.
                break Vec::new();
            }
            state = self
                .returned
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        };
        state.waiting -= 1;
        Lease {
            pool: self,
            buffer: Some(buffer),
        }
    }

    fn waiting(&self) -> usize {
        self.lock().waiting
    }

    #[cfg(test)]
    fn free_buffers(&self) -> usize {
        self.lock().free.len()
    }
}

impl Lease<'_> {
    fn buffer(&mut self) -> &mut Vec<Block> {
        self.buffer.get_or_insert_with(Vec::new)
    }
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        if let Some(buffer) = self.buffer.take() {
            self.pool.lock().free.push(buffer);
            self.pool.returned.notify_one();
        }
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

        assert!(verifier
            .check(&c.id, b"kgs_rotated", c.secret_hash.as_bytes())
            .is_ok());
        assert!(verifier
            .check(&c.id, b"kgs_nope", c.secret_hash.as_bytes())
            .is_err());
        let stored = verifier.store(&c.id, b"kgs_new");
        assert!(verifier.check(&c.id, b"kgs_new", &stored).is_ok());

        c.disabled_at = Some(chrono::Utc::now().naive_utc());
        assert!(
            !verifier.verify(Some(&c), b"kgs_rotated"),
            "disabled client"
        );
        assert!(!verifier.verify(None, b"kgs_rotated"), "unknown client");
    }

    #[test]
    fn working_memory_bounds_concurrency_and_is_reused() {
        let permits = Arc::new(WorkingMemory::new(2));
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
        assert_eq!(
            permits.free_buffers(),
            2,
            "8 leases, 2 buffers, all returned"
        );
    }
}
