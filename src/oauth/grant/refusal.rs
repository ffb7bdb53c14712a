//! The one refusal a token request ends in when oxide-auth cannot say it: its
//! primitives cannot answer `invalid_scope`, `invalid_target`, `unauthorized_client` or
//! a refresh refusal — such a refusal leaves the flow as a silent "ignore" or a
//! primitive error. keygate's primitives record the RFC 6749 error they mean here, and
//! the grant answers with it rather than with its reading of oxide-auth's outcome.

use std::cell::RefCell;

use crate::oauth::error::OAuthError;

/// Owned by the grant for one request, lent to its primitives.
#[derive(Default)]
pub(super) struct Refusal(RefCell<Option<OAuthError>>);

impl Refusal {
    /// Records `error` as the request's answer; a later refusal replaces an earlier one.
    pub(super) fn record(&self, error: impl Into<OAuthError>) {
        *self.0.borrow_mut() = Some(error.into());
    }

    /// The answer to a failed flow: the recorded refusal, else `otherwise` (what
    /// oxide-auth's outcome means).
    pub(super) fn or_else(self, otherwise: impl FnOnce() -> OAuthError) -> OAuthError {
        self.0.into_inner().unwrap_or_else(otherwise)
    }
}
