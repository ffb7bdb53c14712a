//! Client-secret verification for the token endpoint, without argon2 on every
//! request and without unbounded argon2 under attack.
//!
//! - Successful verifications are remembered in a bounded LRU set keyed by
//!   SHA-256(client id, stored PHC hash, presented secret). A rotated secret changes
//!   the stored hash and so misses the cache; a disabled client is refused before the
//!   cache is consulted, because the caller reads the client row on every request —
//!   which also keeps this correct when another instance changes the row.
//! - Unknown and disabled clients are verified against the budget's dummy hash, so
//!   they take as long as a wrong secret for a real client.
//! - argon2 runs only under an `Argon2Lease` of the `Argon2Budget`
//!   (`crate::argon2_budget`), so cached clients keep being served while a
//!   wrong-secret flood waits for leases.
//!
//! `verify` never blocks on argon2 without a lease: it answers `NeedsArgon2`, and the
//! caller gets a lease from the budget and asks again.

use std::num::NonZeroUsize;
use std::sync::{Mutex, MutexGuard, PoisonError};

use chrono::NaiveDateTime;
use lru::LruCache;
use sha2::{Digest, Sha256};

use super::model::Client;
use crate::argon2_budget::Argon2Lease;

pub struct SecretVerifier {
    verified: Mutex<LruCache<[u8; 32], ()>>,
}

/// The answer of one `verify` call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Verified,
    Rejected,
    /// Only a full argon2 verification can tell: ask again with a lease.
    NeedsArgon2,
}

impl SecretVerifier {
    pub fn new(cache_entries: usize) -> Self {
        let capacity = NonZeroUsize::new(cache_entries.max(1)).unwrap_or(NonZeroUsize::MIN);
        Self {
            verified: Mutex::new(LruCache::new(capacity)),
        }
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
                    lease.check_unknown(presented);
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
                .map(|hash| cache_key(client.id.as_str(), hash, presented));
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
            if lease.verify(presented, hash)
                && client.live_secret_hashes(now).any(|live| live == hash)
            {
                self.lock_cache()
                    .put(cache_key(client.id.as_str(), hash, presented), ());
                return Verdict::Verified;
            }
        }
        Verdict::Rejected
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::argon2_budget::{Argon2Budget, Argon2id, FailedAuthThrottle};

    async fn lease() -> Argon2Lease {
        let budget = Argon2Budget::new(
            1,
            std::time::Duration::from_secs(1),
            FailedAuthThrottle::new(10, 10),
        )
        .unwrap();
        budget.lease().await.unwrap()
    }

    fn client(secret: &str) -> Client {
        let now = chrono::Utc::now().naive_utc();
        Client {
            id: "kgc_test".into(),
            org_id: "org_1".into(),
            name: "t".into(),
            secret_hash: Argon2id.hash(secret.as_bytes()).unwrap(),
            grant_types: "client_credentials".into(),
            redirect_uris: String::new(),
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
        let verifier = SecretVerifier::new(16);
        let lease = lease().await;
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
    }

    #[actix_web::test]
    async fn the_previous_secret_works_during_the_overlap_only() {
        use Verdict::*;
        let verifier = SecretVerifier::new(16);
        let lease = lease().await;
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
}
