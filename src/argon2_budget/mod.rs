//! The argon2 budget: everything that bounds what verifying a secret with argon2id
//! may cost the server, owned in one place so that client authentication and any
//! future secret check (people's passwords) draw on the same budget.
//!
//! - `hash`: argon2id itself (OWASP parameters, PHC strings), verifying in
//!   caller-owned working memory.
//! - `lease`: at most `argon2_max_concurrency` verifications at once, each holding an
//!   `Argon2Lease` — a semaphore permit plus one of as many reused working-memory
//!   buffers — and the dummy hash an unknown subject is checked against, so it takes
//!   as long as a wrong secret.
//! - `throttle`: failed attempts per subject and source address, reserved *before*
//!   a lease is waited for, so a brute-force flood is answered 429 before any argon2.
//!
//! People's sign-ins hold at most half of the leases (at least one): a
//! wrong-password flood cannot take every core from the token endpoint.
//!
//! `Argon2Budget` holds the three; a caller reserves an attempt, waits for a lease
//! (at most `argon2_max_wait`), verifies, and settles the attempt.

pub mod hash;
pub mod lease;
pub mod throttle;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};

pub use hash::{Argon2id, HashError};
pub use lease::{Argon2Lease, LeaseError};
pub use throttle::{Attempt, BurstStarted, FailedAuthThrottle};

use lease::WorkingMemory;

pub struct Argon2Budget {
    memory: Arc<WorkingMemory>,
    /// The leases people's sign-ins may hold at once: half of them (at least one),
    /// so a wrong-password flood leaves the other half of the cores to the token
    /// endpoint and to clients' secrets.
    sign_in_share: Arc<tokio::sync::Semaphore>,
    max_wait: Duration,
    failures: FailedAuthThrottle,
}

/// Why no lease was granted.
#[derive(Debug, thiserror::Error)]
pub enum BudgetError {
    /// Every lease stayed taken for `argon2_max_wait`: the caller answers 503.
    #[error("no argon2 lease within argon2_max_wait")]
    Exhausted,
    #[error(transparent)]
    Closed(#[from] LeaseError),
}

impl Argon2Budget {
    /// `permits` concurrent verifications (at least one), a lease waited for at most
    /// `max_wait`, and failures counted by `failures`.
    pub fn new(
        permits: usize,
        max_wait: Duration,
        failures: FailedAuthThrottle,
    ) -> Result<Self, HashError> {
        Ok(Self {
            memory: Arc::new(WorkingMemory::new(permits.max(1))?),
            sign_in_share: Arc::new(tokio::sync::Semaphore::new((permits / 2).max(1))),
            max_wait,
            failures,
        })
    }

    /// Reserves one attempt for `subject` (a client id) from `source`, or says in how
    /// many seconds one may try again. Reserve before `lease`.
    pub fn reserve(
        &self,
        subject: &str,
        source: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Attempt, u64> {
        self.failures.reserve(subject, source, now)
    }

    /// Waits (asynchronously, at most `argon2_max_wait`) for the right to run one
    /// argon2 verification.
    pub async fn lease(&self) -> Result<Argon2Lease, BudgetError> {
        match actix_web::rt::time::timeout(self.max_wait, WorkingMemory::lease(&self.memory)).await
        {
            Ok(lease) => Ok(lease?),
            Err(_) => Err(BudgetError::Exhausted),
        }
    }

    /// `lease`, for a person's password: within the sign-in share of the budget,
    /// waited for at most `argon2_max_wait` in all.
    pub async fn lease_for_sign_in(&self) -> Result<Argon2Lease, BudgetError> {
        let both = async {
            let share = self.sign_in_share.clone().acquire_owned().await;
            let share = share.map_err(|_| LeaseError)?;
            Ok::<_, LeaseError>(WorkingMemory::lease(&self.memory).await?.sharing(share))
        };
        match actix_web::rt::time::timeout(self.max_wait, both).await {
            Ok(lease) => Ok(lease?),
            Err(_) => Err(BudgetError::Exhausted),
        }
    }

    /// Verifications waiting for a lease right now (for metrics and tests).
    pub fn queued(&self) -> usize {
        self.memory.waiting()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[actix_web::test]
    async fn sign_ins_hold_at_most_half_of_the_leases() {
        let throttle = FailedAuthThrottle::new(10, 10);
        let budget = Argon2Budget::new(4, Duration::from_millis(50), throttle).unwrap();
        let first = budget.lease_for_sign_in().await.unwrap();
        let second = budget.lease_for_sign_in().await.unwrap();
        assert!(
            matches!(
                budget.lease_for_sign_in().await,
                Err(BudgetError::Exhausted)
            ),
            "a third sign-in waits"
        );
        // The other half stays for clients' secrets.
        let client = budget.lease().await.unwrap();
        let another = budget.lease().await.unwrap();
        drop((client, another));
        drop(first);
        assert!(
            budget.lease_for_sign_in().await.is_ok(),
            "a share freed is taken"
        );
        drop(second);
    }
}
