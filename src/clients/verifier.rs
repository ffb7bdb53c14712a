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
//! - At most `permits` argon2 computations run at once, each holding an
//!   `Argon2Lease`: a permit of an async semaphore plus one of `permits` reused
//!   working-memory buffers (~19 MiB each). Requests wait for a lease on the async
//!   side, holding no thread and no database connection, so a wrong-secret flood costs
//!   queueing, not memory (without reuse, glibc kept each thread's freed 19 MiB and a
//!   64-connection flood grew the process past 2 GB), and cached clients keep being
//!   served while the flood waits.
//!
//! `verify` never blocks on argon2 without a lease: it answers `NeedsArgon2`, and the
//! caller gets a lease (`lease().await`) and asks again.

use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use argon2::Block;
use chrono::NaiveDateTime;
use lru::LruCache;
use oxide_auth::primitives::registrar::{PasswordPolicy, RegistrarError};
use sha2::{Digest, Sha256};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::model::Client;
use super::secret::{Argon2id, HashError};

pub struct SecretVerifier {
    verified: Mutex<LruCache<[u8; 32], ()>>,
    memory: Arc<WorkingMemory>,
    dummy_hash: String,
}

/// The answer of one `verify` call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Verified,
    Rejected,
    /// Only a full argon2 verification can tell: ask again with a lease.
    NeedsArgon2,
}

#[derive(Debug, thiserror::Error)]
#[error("the argon2 semaphore was closed")]
pub struct LeaseError;

impl SecretVerifier {
    pub fn new(cache_entries: usize, max_concurrent_argon2: usize) -> Result<Self, HashError> {
        let dummy_hash = Argon2id.hash(b"keygate dummy secret for unknown clients")?;
        let capacity = NonZeroUsize::new(cache_entries.max(1)).unwrap_or(NonZeroUsize::MIN);
        Ok(Self {
            verified: Mutex::new(LruCache::new(capacity)),
            memory: Arc::new(WorkingMemory::new(max_concurrent_argon2.max(1))),
            dummy_hash,
        })
    }

    /// Whether `presented` is a live secret of `client` (looked up by the caller;
    /// `None` when the id is unknown): the current one, or the previous one during a
    /// rotation's overlap (see `Client::live_secret_hashes`). Without a lease this
    /// only consults the cache; with one it may run argon2 (~20 ms each: call off the
    /// executor).
    pub fn verify(
        &self,
        client: Option<&Client>,
        presented: &[u8],
        lease: Option<&Argon2Lease>,
        now: NaiveDateTime,
    ) -> Verdict {
        let Some(client) = client.filter(|c| !c.is_disabled()) else {
            return match lease {
                Some(lease) => {
                    // Same work as a wrong secret, so unknown ids cannot be told apart.
                    let _ = lease.check("", presented, self.dummy_hash.as_bytes());
                    Verdict::Rejected
                }
                None => Verdict::NeedsArgon2,
            };
        };
        // The key includes the stored hash, so an expired previous secret (no longer
        // among the live hashes) is never answered from the cache.
        {
            let mut cache = self.lock_cache();
            let mut keys = client
                .live_secret_hashes(now)
                .map(|hash| cache_key(&client.id, hash, presented));
            if keys.any(|key| cache.get(&key).is_some()) {
                return Verdict::Verified;
            }
        }
        let Some(lease) = lease else {
            return Verdict::NeedsArgon2;
        };
        let hint = super::secret::hint(presented);
        for hash in client.hashes_to_verify(&hint, now) {
            // An expired current secret is still checked (a wrong secret costs the
            // same), but never accepted.
            if lease.check(&client.id, presented, hash.as_bytes()).is_ok()
                && client.live_secret_hashes(now).any(|live| live == hash)
            {
                self.lock_cache()
                    .put(cache_key(&client.id, hash, presented), ());
                return Verdict::Verified;
            }
        }
        Verdict::Rejected
    }

    /// Waits (asynchronously) for the right to run one argon2 verification.
    pub async fn lease(&self) -> Result<Argon2Lease, LeaseError> {
        WorkingMemory::lease(&self.memory).await
    }

    /// Verifications waiting for a lease right now (for metrics and tests).
    pub fn queued(&self) -> usize {
        self.memory.waiting.load(Ordering::Relaxed)
    }

    fn lock_cache(&self) -> MutexGuard<'_, LruCache<[u8; 32], ()>> {
        // The cache holds no invariant a panicking holder could break.
        self.verified.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn cache_key(client_id: &str, stored_hash: &str, presented: &[u8]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    // Length prefixes keep the concatenation unambiguous.
    for part in [client_id.as_bytes(), stored_hash.as_bytes(), presented] {
        hasher.update((part.len() as u64).to_be_bytes());
        hasher.update(part);
    }
    hasher.finalize().into()
}

/// `permits` argon2 working-memory buffers behind an async semaphore with as many
/// permits, so a permit holder always finds a buffer.
struct WorkingMemory {
    permits: Arc<Semaphore>,
    buffers: Mutex<Vec<Vec<Block>>>,
    waiting: AtomicUsize,
}

impl WorkingMemory {
    fn new(permits: usize) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(permits)),
            buffers: Mutex::new(Vec::with_capacity(permits)),
            waiting: AtomicUsize::new(0),
        }
    }

    async fn lease(this: &Arc<Self>) -> Result<Argon2Lease, LeaseError> {
        let permit = {
            // Counted while waiting, including when the waiting request is cancelled.
            let _waiting = WaitingGuard::enter(&this.waiting);
            this.permits.clone().acquire_owned().await
        };
        let permit = permit.map_err(|_| LeaseError)?;
        // Empty until first used; then sized by the stored hash's parameters.
        let buffer = this.lock_buffers().pop().unwrap_or_default();
        Ok(Argon2Lease {
            buffer: Mutex::new(buffer),
            memory: this.clone(),
            _permit: permit,
        })
    }

    fn lock_buffers(&self) -> MutexGuard<'_, Vec<Vec<Block>>> {
        self.buffers.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

struct WaitingGuard<'a>(&'a AtomicUsize);

impl<'a> WaitingGuard<'a> {
    fn enter(counter: &'a AtomicUsize) -> Self {
        counter.fetch_add(1, Ordering::Relaxed);
        Self(counter)
    }
}

impl Drop for WaitingGuard<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The right to run one argon2 verification, with its working memory. This is
/// keygate's argon2id `PasswordPolicy` as oxide-auth sees it.
pub struct Argon2Lease {
    buffer: Mutex<Vec<Block>>,
    memory: Arc<WorkingMemory>,
    // Released after `drop` has returned the buffer.
    _permit: OwnedSemaphorePermit,
}

impl PasswordPolicy for Argon2Lease {
    /// oxide-auth's signature has no error path; a failed hash yields an empty
    /// string, which no secret verifies against (fail closed). keygate registers
    /// clients through `Argon2id::hash`, which reports the error.
    fn store(&self, _client_id: &str, passphrase: &[u8]) -> Vec<u8> {
        Argon2id
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
        let mut buffer = self.buffer.lock().unwrap_or_else(PoisonError::into_inner);
        if Argon2id.verify_with_memory(passphrase, phc, &mut buffer) {
            Ok(())
        } else {
            Err(RegistrarError::Unspecified)
        }
    }
}

impl Drop for Argon2Lease {
    fn drop(&mut self) {
        let buffer = std::mem::take(
            self.buffer
                .get_mut()
                .unwrap_or_else(PoisonError::into_inner),
        );
        self.memory.lock_buffers().push(buffer);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
            refresh_reuse_grace_secs: 0,
            previous_secret_hash: None,
            previous_secret_expires_at: None,
            registration_token_hash: None,
            rate_limit_per_minute: None,
            secret_hint: Some(crate::clients::secret::hint(secret.as_bytes())),
            previous_secret_hint: None,
            secret_expires_at: None,
            token_endpoint_auth_method: None,
            audiences: None,
        }
    }

    fn now() -> NaiveDateTime {
        chrono::Utc::now().naive_utc()
    }

    #[actix_web::test]
    async fn verifies_caches_and_invalidates_on_new_hash_or_disable() {
        use Verdict::*;
        let verifier = SecretVerifier::new(16, 2).unwrap();
        let lease = verifier.lease().await.unwrap();
        let mut c = client("kgs_right");
        assert_eq!(
            verifier.verify(Some(&c), b"kgs_right", None, now()),
            NeedsArgon2
        );
        assert_eq!(
            verifier.verify(Some(&c), b"kgs_wrong", Some(&lease), now()),
            Rejected
        );
        assert_eq!(
            verifier.verify(Some(&c), b"kgs_right", Some(&lease), now()),
            Verified
        );
        assert_eq!(
            verifier.verify(Some(&c), b"kgs_right", None, now()),
            Verified,
            "cached"
        );
        assert_eq!(
            verifier.verify(Some(&c), b"kgs_wrong", None, now()),
            NeedsArgon2,
            "failures are not cached"
        );

        c.secret_hash = Argon2id.hash(b"kgs_rotated").unwrap();
        assert_eq!(
            verifier.verify(Some(&c), b"kgs_right", None, now()),
            NeedsArgon2,
            "new hash misses the cache"
        );
        assert_eq!(
            verifier.verify(Some(&c), b"kgs_right", Some(&lease), now()),
            Rejected
        );
        assert_eq!(
            verifier.verify(Some(&c), b"kgs_rotated", Some(&lease), now()),
            Verified
        );

        c.disabled_at = Some(chrono::Utc::now().naive_utc());
        assert_eq!(
            verifier.verify(Some(&c), b"kgs_rotated", None, now()),
            NeedsArgon2,
            "disabled: no cache"
        );
        assert_eq!(
            verifier.verify(Some(&c), b"kgs_rotated", Some(&lease), now()),
            Rejected
        );
        assert_eq!(
            verifier.verify(None, b"kgs_rotated", Some(&lease), now()),
            Rejected,
            "unknown client"
        );

        let stored = lease.store("c", b"kgs_new");
        assert!(lease.check("c", b"kgs_new", &stored).is_ok());
        assert!(lease.check("c", b"kgs_nope", &stored).is_err());
    }

    #[actix_web::test]
    async fn the_previous_secret_works_during_the_overlap_only() {
        use Verdict::*;
        let verifier = SecretVerifier::new(16, 2).unwrap();
        let lease = verifier.lease().await.unwrap();
        let mut c = client("kgs_new");
        let t0 = now();
        c.previous_secret_hash = Some(Argon2id.hash(b"kgs_old").unwrap());
        c.previous_secret_hint = Some(crate::clients::secret::hint(b"kgs_old"));
        c.previous_secret_expires_at = Some(t0 + chrono::Duration::minutes(10));
        for secret in [b"kgs_old".as_slice(), b"kgs_new"] {
            assert_eq!(
                verifier.verify(Some(&c), secret, Some(&lease), t0),
                Verified
            );
            assert_eq!(
                verifier.verify(Some(&c), secret, None, t0),
                Verified,
                "cached"
            );
        }
        let after = t0 + chrono::Duration::minutes(10);
        assert_eq!(
            verifier.verify(Some(&c), b"kgs_old", None, after),
            NeedsArgon2,
            "the cache does not outlive the overlap"
        );
        assert_eq!(
            verifier.verify(Some(&c), b"kgs_old", Some(&lease), after),
            Rejected
        );
        assert_eq!(verifier.verify(Some(&c), b"kgs_new", None, after), Verified);
    }

    /// One argon2 run per presented secret, in an overlap too: the hint picks the
    /// hash, and a wrong secret is checked against the current one only — the same
    /// cost as a wrong secret of any client. Hashes stored without hints (before
    /// there were hints) are all tried, as before.
    #[test]
    fn one_hash_is_verified_whatever_the_secret_when_hints_are_stored() {
        use crate::clients::secret::hint;
        let mut c = client("kgs_new");
        let t0 = now();
        c.previous_secret_hash = Some(Argon2id.hash(b"kgs_old").unwrap());
        c.previous_secret_hint = Some(hint(b"kgs_old"));
        c.previous_secret_expires_at = Some(t0 + chrono::Duration::minutes(10));
        let previous = c.previous_secret_hash.clone().unwrap();
        assert_eq!(
            c.hashes_to_verify(&hint(b"kgs_old"), t0),
            [previous.as_str()]
        );
        assert_eq!(
            c.hashes_to_verify(&hint(b"kgs_new"), t0),
            [c.secret_hash.as_str()]
        );
        assert_eq!(
            c.hashes_to_verify(&hint(b"wrong"), t0),
            [c.secret_hash.as_str()]
        );
        assert_eq!(c.live_secret_hashes(t0).count(), 2, "both still cached");
        c.previous_secret_hint = None;
        assert_eq!(
            c.hashes_to_verify(&hint(b"wrong"), t0).len(),
            2,
            "no hint: both"
        );
    }

    #[actix_web::test]
    async fn leases_bound_concurrency_and_reuse_buffers() {
        let verifier = SecretVerifier::new(16, 2).unwrap();
        let phc = Argon2id.hash(b"pw").unwrap();
        let first = verifier.lease().await.unwrap();
        let second = verifier.lease().await.unwrap();
        assert!(first.check("c", b"pw", phc.as_bytes()).is_ok());
        // A third lease waits until one is returned.
        let third =
            tokio::time::timeout(std::time::Duration::from_millis(50), verifier.lease()).await;
        assert!(third.is_err(), "a third concurrent lease was granted");
        drop(first);
        let third = verifier.lease().await.unwrap();
        assert_eq!(
            third.buffer.lock().unwrap().len(),
            19456,
            "the first lease's buffer is reused"
        );
        drop((second, third));
        assert_eq!(verifier.memory.lock_buffers().len(), 2);
        assert_eq!(verifier.queued(), 0);
    }
}
