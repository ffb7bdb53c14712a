//! What a principal may mint. keygate's rule: a credential never creates one stronger
//! than itself. Every credential a principal creates or rotates — an API key, a
//! client (through `/v1/clients` or RFC 7591), a client secret — carries no scope
//! beyond the principal's, expires no later than the principal's own credential
//! (`Principal::lifetime`), and has no rate allowance looser than the principal's; a
//! credential the principal could not have created is not its to rotate. The
//! operator's CLI is not a principal and is unbounded.

use chrono::{DateTime, NaiveDateTime, Utc};

use super::Principal;
use crate::error::ApiError;
use crate::scope::ScopeSet;

/// What an existing credential holds, for the rotation check.
#[derive(Clone, Copy, Debug)]
pub struct Holdings<'a> {
    pub scopes: &'a ScopeSet,
    /// When the credential stops working (`None`: never).
    pub expires_at: Option<NaiveDateTime>,
    /// Its own requests-per-minute limit (`None`: only its organization's).
    pub rate_limit: Option<i64>,
}

impl Principal {
    /// The latest expiry this principal may give a credential it mints (`None`: no
    /// limit).
    pub fn mint_lifetime(&self) -> Option<NaiveDateTime> {
        self.lifetime.map(|at| at.naive_utc())
    }

    /// `asked` capped by this principal's lifetime.
    pub fn cap_expiry(&self, asked: Option<NaiveDateTime>) -> Option<NaiveDateTime> {
        match (asked, self.mint_lifetime()) {
            (Some(asked), Some(limit)) => Some(asked.min(limit)),
            (asked, limit) => asked.or(limit),
        }
    }

    /// A requested rate-limit override checked against this principal's own: a
    /// caller with a limit cannot give a credential (itself included) a looser one,
    /// or none — an absent limit becomes the caller's own. `requested`: `None` leaves
    /// the limit alone, `Some(None)` asks for no override.
    pub fn cap_rate_limit(
        &self,
        requested: Option<Option<u32>>,
    ) -> Result<Option<Option<u32>>, ApiError> {
        let Some(ceiling) = self.rate_limit else {
            return Ok(requested);
        };
        match requested {
            None => Ok(None),
            Some(None) => Ok(Some(Some(ceiling))),
            Some(Some(n)) if n <= ceiling => Ok(Some(Some(n))),
            Some(Some(_)) => Err(ApiError::invalid_request(
                format!("rate_limit_per_minute: at most the caller's own {ceiling}"),
                Some("rate_limit_per_minute"),
            )),
        }
    }

    /// Refuses to rotate a credential this principal could not have created: one with
    /// a scope it lacks (403 `insufficient_scope`, naming the scope), a longer life or
    /// a looser rate allowance (403 `exceeds_authority`). A rotation's successor
    /// inherits every attribute, so rotating such a credential would mint a stronger
    /// one.
    pub fn may_rotate(&self, what: &str, held: Holdings<'_>) -> Result<(), ApiError> {
        if let Some(lacking) = held.scopes.iter().find(|s| !self.scopes.contains(s)) {
            return Err(ApiError::InsufficientScope {
                required: lacking.to_owned(),
            });
        }
        if let Some(limit) = self.mint_lifetime() {
            if held.expires_at.is_none_or(|at| at > limit) {
                return Err(ApiError::ExceedsAuthority(format!(
                    "this {what} lives longer than the caller's own credential (until {})",
                    DateTime::<Utc>::from_naive_utc_and_offset(limit, Utc).to_rfc3339()
                )));
            }
        }
        if let Some(ceiling) = self.rate_limit {
            if held.rate_limit.is_none_or(|n| n > i64::from(ceiling)) {
                return Err(ApiError::ExceedsAuthority(format!(
                    "this {what} may make more requests than the caller's own {ceiling} per minute"
                )));
            }
        }
        Ok(())
    }
}
