//! Whether the database is known to be down, and what follows from it: while it is,
//! no request waits for the database. The store begins an outage when a checkout
//! could not get a connection or a store turn missed its deadline, and ends it at
//! the next checkout that gets one.
//!
//! While it lasts, a checkout takes an idle connection or fails at once, and a
//! request that would queue for a turn — or is queued when the outage begins — gets
//! its 503 at once. Waiting only lined the 503s up behind each other: at 64
//! concurrent requests, each turn spending even 250 ms on a checkout made p50 5.25 s
//! and p99 6.75 s. r2d2 keeps trying to connect in the background meanwhile (backing
//! off to half the checkout timeout), and the first checkout to find its connection
//! ends the outage.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use futures_util::future::{select, Either};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, TryAcquireError};

use super::error::StoreError;

#[derive(Default)]
pub(super) struct Outage {
    known: AtomicBool,
    /// Wakes the requests queued for a turn when an outage begins.
    began: Notify,
}

impl Outage {
    pub(super) fn is_known(&self) -> bool {
        self.known.load(Ordering::SeqCst)
    }

    pub(super) fn begin(&self) {
        if !self.known.swap(true, Ordering::SeqCst) {
            self.began.notify_waiters();
        }
    }

    /// A load first: a store on every checkout would bounce the flag's cache line
    /// between the blocking threads.
    pub(super) fn end(&self) {
        if self.is_known() {
            self.known.store(false, Ordering::SeqCst);
        }
    }

    /// One of `turns`: at once if one is free; otherwise in arrival order, unless
    /// the database is known to be down or an outage begins while waiting.
    pub(super) async fn turn_unless_down(
        &self,
        turns: &Arc<Semaphore>,
    ) -> Result<OwnedSemaphorePermit, StoreError> {
        match turns.clone().try_acquire_owned() {
            Ok(turn) => return Ok(turn),
            Err(TryAcquireError::Closed) => return Err(StoreError::Cancelled),
            Err(TryAcquireError::NoPermits) => {}
        }
        // Made before the check: `notify_waiters` reaches every `Notified` that
        // exists, so an outage beginning in between still wakes this request.
        let began = self.began.notified();
        if self.is_known() {
            return Err(known_down());
        }
        let queued = turns.clone().acquire_owned();
        futures_util::pin_mut!(began, queued);
        match select(queued, began).await {
            Either::Left((turn, _)) => turn.map_err(|_| StoreError::Cancelled),
            Either::Right(((), _)) => Err(known_down()),
        }
    }
}

fn known_down() -> StoreError {
    StoreError::Unavailable("the database is down; not waiting for a connection".into())
}
