//! oxide-auth's `Authorizer`, token side, for one authorization_code request: the
//! issuer redeems the presented code in the database (`oauth::authorization_code`,
//! so a code issued by one instance is redeemed on another, exactly once), checks the
//! PKCE verifier and the redirect URI against the code's, and keeps the code for
//! `issue`, which checks the person may still be acted for and spends it. Issuing
//! codes is the authorization endpoint's (`oauth::authorization`).

use chrono::Utc;
use oxide_auth::endpoint::Scope;
use oxide_auth::primitives::authorizer::Authorizer;
use oxide_auth::primitives::grant::{Extensions, Grant};

use super::issuer::JwtIssuer;
use crate::clients::GrantType;
use crate::oauth::authorization_code::{self, Found};
use crate::oauth::error::OAuthError;
use crate::oauth::pkce::CodeChallenge;
use crate::store::StoreError;

/// One `invalid_grant` for an unknown, expired, used or another client's code.
fn invalid_code() -> OAuthError {
    OAuthError::invalid_grant(
        "the authorization code is invalid, expired, already used or was issued to another client",
    )
}

impl Authorizer for JwtIssuer<'_, '_> {
    /// The token endpoint never issues codes.
    fn authorize(&mut self, _: Grant) -> Result<String, ()> {
        Err(())
    }

    /// Reads `code` and checks it; `Ok(None)` (with the refusal recorded) when it
    /// cannot be redeemed. It is spent by `issue`, in the write that records what it
    /// issued; a wrong verifier spends it here, and a reused one has what it issued
    /// revoked here.
    fn extract(&mut self, code: &str) -> Result<Option<Grant>, ()> {
        let client = self.client().ok_or(())?;
        if !client.allows_grant(GrantType::AuthorizationCode) {
            self.refusal().record(OAuthError::unauthorized_client(
                "this client is not registered for the authorization_code grant",
            ));
            return Err(());
        }
        let now = self.now().naive_utc();
        let found = authorization_code::find(&mut self.tx(), code, &client.id, now)
            .map_err(|e| self.refusal().record(StoreError::from(e)))?;
        let code = match found {
            Found::Live(code) => code,
            Found::Invalid => {
                self.refusal().record(invalid_code());
                return Ok(None);
            }
            Found::Used(code) => {
                self.tx()
                    .write(|tx| authorization_code::revoke_issued(tx, &code, now, self.source()))
                    .map_err(|e| self.refusal().record(StoreError::from(e)))?;
                self.refusal().record(invalid_code());
                return Ok(None);
            }
        };
        let (verifier, redirect_uri) = self.code_request;
        let refused = if redirect_uri != Some(code.redirect_uri.as_str()) {
            Some("redirect_uri differs from the one the authorization request named")
        } else if !CodeChallenge::from_stored(&code.code_challenge)
            .verify(verifier.unwrap_or_default())
        {
            Some("code_verifier does not match the code_challenge of the authorization request (RFC 7636 §4.6)")
        } else {
            None
        };
        if let Some(description) = refused {
            // Spent all the same: a stolen code gets one try.
            self.tx()
                .write(|tx| authorization_code::spend(tx, &code, now))
                .map_err(|e| self.refusal().record(StoreError::from(e)))?;
            self.refusal()
                .record(OAuthError::invalid_grant(description));
            return Ok(None);
        }
        let scope: Scope = code.scope.parse().map_err(|_| ())?;
        let redirect_uri = code.redirect_uri.parse().map_err(|_| ())?;
        let grant = Grant {
            owner_id: code.user_id.to_string(),
            client_id: client.id.to_string(),
            scope,
            redirect_uri,
            // oxide-auth compares this with the wall clock; the code's own expiry
            // (keygate's injectable clock) was checked by `redeem`.
            until: Utc::now() + chrono::Duration::minutes(10),
            extensions: Extensions::new(),
        };
        *self.redeemed.borrow_mut() = Some(code);
        Ok(Some(grant))
    }
}
