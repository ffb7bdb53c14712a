//! oxide-auth's `Registrar` for one token request: it answers for the one client the
//! request names (its row read by the caller), negotiates the scope, and authenticates
//! the client through `SecretVerifier`'s cache — never with argon2, which the grant
//! runs first when the cache cannot answer (`needs_argon2`).

use std::borrow::Cow;
use std::cell::Cell;

use oxide_auth::endpoint::Scope;
use oxide_auth::primitives::registrar::{
    BoundClient, ClientUrl, PreGrant, RegisteredUrl, Registrar, RegistrarError,
};

use super::refusal::Refusal;
use crate::clients::{AuthMethod, Client, GrantType, Verdict};
use crate::oauth::error::OAuthError;
use crate::oauth::state::OAuthState;
use crate::scope::ScopeSet;

pub struct ClientRegistrar<'a> {
    client: Option<&'a Client>,
    state: &'a OAuthState,
    /// How the request sent its credentials.
    method: AuthMethod,
    refusal: &'a Refusal,
    /// Set when authentication could not be decided without argon2.
    pub needs_argon2: Cell<bool>,
}

impl<'a> ClientRegistrar<'a> {
    pub fn new(
        client: Option<&'a Client>,
        state: &'a OAuthState,
        method: AuthMethod,
        refusal: &'a Refusal,
    ) -> Self {
        Self {
            client,
            state,
            method,
            refusal,
            needs_argon2: Cell::new(false),
        }
    }

    fn client_named(&self, id: &str) -> Result<&Client, RegistrarError> {
        self.client
            .filter(|c| c.id == id && !c.is_disabled())
            .ok_or(RegistrarError::Unspecified)
    }

    fn refuse(&self, error: OAuthError) -> RegistrarError {
        self.refusal.record(error);
        RegistrarError::Unspecified
    }
}

impl ClientRegistrar<'_> {
    /// A request with no secret: only a live public client, and only for the grants a
    /// public client has (client_credentials is not one: registration refuses it).
    /// Nothing to verify, so no argon2; one answer for an unknown client and one with
    /// a secret.
    fn check_public(&self, client: Option<&Client>) -> Result<(), RegistrarError> {
        match client.filter(|c| !c.is_disabled()) {
            Some(client) if client.is_public() => Ok(()),
            _ => Err(self.refuse(OAuthError::invalid_client_by(
                AuthMethod::None,
                "client authentication required: client_secret_basic or client_secret_post (only a public client sends client_id alone)",
            ))),
        }
    }
}

impl Registrar for ClientRegistrar<'_> {
    fn bound_redirect<'b>(&self, bound: ClientUrl<'b>) -> Result<BoundClient<'b>, RegistrarError> {
        let client = self.client_named(&bound.client_id)?;
        if !client.allows_grant(GrantType::ClientCredentials) {
            return Err(self.refuse(OAuthError::unauthorized_client(
                "this client is not registered for the client_credentials grant",
            )));
        }
        Ok(BoundClient {
            client_id: bound.client_id,
            // client_credentials has no redirect; oxide-auth's types require one, so the
            // issuer URL stands in. It never leaves the process.
            redirect_uri: Cow::Owned(RegisteredUrl::Semantic(
                self.state.issuance.issuer.url().clone(),
            )),
        })
    }

    fn negotiate(
        &self,
        bound: BoundClient,
        scope: Option<Scope>,
    ) -> Result<PreGrant, RegistrarError> {
        let client = self.client_named(&bound.client_id)?;
        let requested = scope
            .map(|s| ScopeSet::parse(&s.to_string()))
            .transpose()
            .map_err(|e| self.refuse(OAuthError::invalid_scope(e.to_string())))?
            .filter(|s| !s.is_empty());
        let granted = match requested {
            None => client.default_scopes(),
            Some(requested) if requested.is_subset_of(&client.allowed_scopes()) => requested,
            Some(_) => {
                return Err(self.refuse(OAuthError::invalid_scope(
                    "the requested scope exceeds the scope registered for this client",
                )))
            }
        };
        let scope: Scope = granted
            .to_string()
            .parse()
            .map_err(|_| self.refuse(OAuthError::invalid_scope("malformed scope")))?;
        Ok(PreGrant {
            client_id: bound.client_id.into_owned(),
            redirect_uri: bound.redirect_uri.into_owned(),
            scope,
        })
    }

    fn check(&self, client_id: &str, passphrase: Option<&[u8]>) -> Result<(), RegistrarError> {
        let client = self.client.filter(|c| c.id == client_id);
        if self.method == AuthMethod::None {
            return self.check_public(client);
        }
        let presented = passphrase.unwrap_or_default();
        // No lease: this runs holding a database connection, so argon2 is never run
        // here; the caller verifies with a lease first and the cache answers.
        let now = self.state.clock.now().naive_utc();
        match self
            .state
            .client_auth
            .verifier
            .verify(client, presented, None, now)
        {
            Verdict::Verified => match client {
                Some(client) => {
                    crate::oauth::client_auth::held_to_registered_method(client, self.method)
                        .map_err(|refused| self.refuse(refused))
                }
                None => Err(RegistrarError::Unspecified),
            },
            Verdict::Rejected => Err(RegistrarError::Unspecified),
            Verdict::NeedsArgon2 => {
                self.needs_argon2.set(true);
                Err(RegistrarError::Unspecified)
            }
        }
    }
}
