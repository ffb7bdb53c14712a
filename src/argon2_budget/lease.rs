//! Leases: the right to run one argon2 verification, with one of a fixed set of
//! reused working-memory buffers (~19 MiB each) behind an async semaphore with as
//! many permits, so a permit holder always finds a buffer. Requests wait for a lease
//! on the async side, holding no thread and no database connection, so a
//! wrong-secret flood costs queueing, not memory (without reuse, glibc kept each
//! thread's freed 19 MiB and a 64-connection flood grew the process past 2 GB).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use argon2::Block;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::hash::{Argon2id, HashError};

#[derive(Debug, thiserror::Error)]
#[error("the argon2 semaphore was closed")]
pub struct LeaseError;

/// The permits, their buffers, and the dummy hash a lease checks unknown subjects
/// against.
pub(super) struct WorkingMemory {
    permits: Arc<Semaphore>,
    buffers: Mutex<Vec<Vec<Block>>>,
    waiting: AtomicUsize,
    dummy_hash: String,
}

impl WorkingMemory {
    pub(super) fn new(permits: usize) -> Result<Self, HashError> {
        Ok(Self {
            permits: Arc::new(Semaphore::new(permits)),
            buffers: Mutex::new(Vec::with_capacity(permits)),
            waiting: AtomicUsize::new(0),
            dummy_hash: Argon2id.hash(b"keygate dummy secret for unknown clients")?,
        })
    }

    pub(super) async fn lease(this: &Arc<Self>) -> Result<Argon2Lease, LeaseError> {
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
            _share: None,
        })
    }

    /// Leases waited for right now.
    pub(super) fn waiting(&self) -> usize {
        self.waiting.load(Ordering::Relaxed)
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

/// The right to run one argon2 verification, with its working memory.
pub struct Argon2Lease {
    buffer: Mutex<Vec<Block>>,
    memory: Arc<WorkingMemory>,
    // Released after `drop` has returned the buffer.
    _permit: OwnedSemaphorePermit,
    /// A person's sign-in also holds one of the budget's sign-in share.
    _share: Option<OwnedSemaphorePermit>,
}

impl Argon2Lease {
    /// This lease, holding `share` too until it ends.
    pub(super) fn sharing(mut self, share: OwnedSemaphorePermit) -> Self {
        self._share = Some(share);
        self
    }

    /// Verifies `presented` against the dummy hash and refuses it: the same work as a
    /// wrong secret, so an unknown (or disabled) subject cannot be told apart by
    /// timing.
    pub fn check_unknown(&self, presented: &[u8]) {
        let _ = self.verify(presented, &self.memory.dummy_hash);
    }

    /// Whether `presented` matches the argon2id PHC string `stored`, verified in this
    /// lease's working memory. A malformed `stored` matches nothing (fail closed).
    pub fn verify(&self, presented: &[u8], stored: &str) -> bool {
        let mut buffer = self.buffer.lock().unwrap_or_else(PoisonError::into_inner);
        Argon2id.verify_with_memory(presented, stored, &mut buffer)
    }
}

impl Argon2Lease {
    /// An argon2id PHC string of `secret` (a new password), made while this lease is
    /// held, so hashing counts against the same budget as verifying.
    pub fn hash(&self, secret: &[u8]) -> Result<String, HashError> {
        Argon2id.hash(secret)
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

    #[actix_web::test]
    async fn leases_bound_concurrency_and_reuse_buffers() {
        let memory = Arc::new(WorkingMemory::new(2).unwrap());
        let phc = Argon2id.hash(b"pw").unwrap();
        let first = WorkingMemory::lease(&memory).await.unwrap();
        let second = WorkingMemory::lease(&memory).await.unwrap();
        assert!(first.verify(b"pw", &phc));
        // A third lease waits until one is returned.
        let third = tokio::time::timeout(
            std::time::Duration::from_millis(50),
            WorkingMemory::lease(&memory),
        )
        .await;
        assert!(third.is_err(), "a third concurrent lease was granted");
        drop(first);
        let third = WorkingMemory::lease(&memory).await.unwrap();
        assert_eq!(
            third.buffer.lock().unwrap().len(),
            19456,
            "the first lease's buffer is reused"
        );
        drop((second, third));
        assert_eq!(memory.lock_buffers().len(), 2);
        assert_eq!(memory.waiting(), 0);
    }

    #[actix_web::test]
    async fn a_lease_verifies_phc_strings_and_refuses_malformed_ones() {
        let memory = Arc::new(WorkingMemory::new(1).unwrap());
        let lease = WorkingMemory::lease(&memory).await.unwrap();
        let stored = Argon2id.hash(b"kgs_new").unwrap();
        assert!(lease.verify(b"kgs_new", &stored));
        assert!(!lease.verify(b"kgs_nope", &stored));
        assert!(!lease.verify(b"kgs_new", "not a phc string"));
        assert!(!lease.verify(b"kgs_new", ""));
    }
}
