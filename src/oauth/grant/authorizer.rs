//! oxide-auth's `Authorizer`, token side, for one authorization_code request: the
//! issuer redeems the presented code in the database (`oauth::authorization_code`,
//! so a code issued by one instance is redeemed on another, exactly once), checks the
//! PKCE verifier against the code's challenge and that the person may still be acted
//! for, and keeps the code for `issue`. Issuing codes is the authorization
//! endpoint's (`oauth::authorize`).

use chrono::Utc;
use oxide_auth::endpoint::Scope;
use oxide_auth::primitives::authorizer::Authorizer;
use oxide_auth::primitives::grant::{Extensions, Grant};

use super::issuer::JwtIssuer;
use crate::clients::GrantType;
use crate::oauth::authorization_code::{self, Unredeemed};
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

    /// Redeems `code`; `Ok(None)` (with the refusal recorded) when it cannot be. The
    /// code is spent whatever follows — a wrong verifier or redirect URI burns it —
    /// so a stolen code gets one try.
    fn extract(&mut self, code: &str) -> Result<Option<Grant>, ()> {
        let client = self.client().ok_or(())?;
        if !client.allows_grant(GrantType::AuthorizationCode) {
            self.refusal().record(OAuthError::unauthorized_client(
                "this client is not registered for the authorization_code grant",
            ));
            return Err(());
        }
        let now = self.now().naive_utc();
        let redeemed = {
            let mut tx = self.tx();
            authorization_code::redeem(&mut tx, code, &client.id, now, self.source())
                .map_err(|e| self.refusal().record(StoreError::from(e)))?
        };
        let code = match redeemed {
            Ok(code) => code,
            Err(Unredeemed::Invalid | Unredeemed::Reused) => {
                self.refusal().record(invalid_code());
                return Ok(None);
            }
        };
        let verifier = self.code_verifier.unwrap_or_default();
        if !CodeChallenge::from_stored(&code.code_challenge).verify(verifier) {
            self.refusal().record(OAuthError::invalid_grant(
                "code_verifier does not match the code_challenge of the authorization request (RFC 7636 §4.6)",
            ));
            return Ok(None);
        }
        let live = {
            let mut tx = self.tx();
            crate::consents::repo::is_live(&mut tx, &code.user_id, &code.org_id, &client.id)
                .map_err(|e| self.refusal().record(StoreError::from(e)))?
        };
        if !live {
            self.refusal().record(invalid_code());
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
