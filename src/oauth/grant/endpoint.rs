//! What oxide-auth's flows are handed for one token request: the endpoint (keygate's
//! registrar and issuer, no extensions) and the request, already parsed by keygate.

use std::borrow::Cow;

use oxide_auth::code_grant::{
    accesstoken as oxide_code, client_credentials as oxide_cc, refresh as oxide_refresh,
};
use oxide_auth::primitives::authorizer::Authorizer;
use oxide_auth::primitives::issuer::Issuer;
use oxide_auth::primitives::registrar::Registrar;

use super::issuer::JwtIssuer;
use super::registrar::ClientRegistrar;
use crate::clients::AuthMethod;
use crate::oauth::request::TokenRequest;

/// The oxide-auth endpoint for one request: registrar and issuer.
pub(crate) struct GrantEndpoint<'a, 't> {
    pub registrar: &'a ClientRegistrar<'a>,
    pub issuer: JwtIssuer<'a, 't>,
    /// oxide-auth's no-op extension: keygate adds no grant extensions.
    no_extension: (),
}

impl<'a, 't> GrantEndpoint<'a, 't> {
    pub fn new(registrar: &'a ClientRegistrar<'a>, issuer: JwtIssuer<'a, 't>) -> Self {
        Self {
            registrar,
            issuer,
            no_extension: (),
        }
    }
}

impl oxide_cc::Endpoint for GrantEndpoint<'_, '_> {
    fn registrar(&self) -> &dyn Registrar {
        self.registrar
    }

    fn issuer(&mut self) -> &mut dyn Issuer {
        &mut self.issuer
    }

    fn extension(&mut self) -> &mut dyn oxide_cc::Extension {
        &mut self.no_extension
    }
}

impl oxide_code::Endpoint for GrantEndpoint<'_, '_> {
    fn registrar(&self) -> &dyn Registrar {
        self.registrar
    }

    /// The issuer redeems the code itself (`authorizer.rs`), so that the code it
    /// redeemed is at hand when it issues.
    fn authorizer(&mut self) -> &mut dyn Authorizer {
        &mut self.issuer
    }

    fn issuer(&mut self) -> &mut dyn Issuer {
        &mut self.issuer
    }

    fn extension(&mut self) -> &mut dyn oxide_code::Extension {
        &mut self.no_extension
    }
}

impl oxide_refresh::Endpoint for GrantEndpoint<'_, '_> {
    fn registrar(&self) -> &dyn Registrar {
        self.registrar
    }

    fn issuer(&mut self) -> &mut dyn Issuer {
        &mut self.issuer
    }
}

/// Hands oxide-auth the already-parsed request. Credentials arrive through
/// `authorization()` whichever method the client used: `TokenRequest` has already
/// enforced RFC 6749 §2.3 (one method) and decoded them — which is also how keygate
/// accepts `client_secret_post` on the refresh grant, where oxide-auth's own adapter
/// takes only Basic (upstream issue #91).
pub struct OxideRequest<'a>(pub &'a TokenRequest);

impl OxideRequest<'_> {
    fn credentials(&self) -> Option<(Cow<'_, str>, Cow<'_, [u8]>)> {
        let credentials = &self.0.credentials;
        Some((
            Cow::Borrowed(credentials.client_id.as_str()),
            Cow::Borrowed(credentials.secret.expose().as_bytes()),
        ))
    }

    fn requested_scope(&self) -> Option<Cow<'_, str>> {
        self.0
            .scope
            .as_ref()
            .map(|scope| Cow::Owned(scope.to_string()))
    }
}

impl oxide_cc::Request for OxideRequest<'_> {
    fn valid(&self) -> bool {
        true
    }

    fn authorization(&self) -> Option<(Cow<'_, str>, Cow<'_, [u8]>)> {
        self.credentials()
    }

    fn scope(&self) -> Option<Cow<'_, str>> {
        self.requested_scope()
    }

    fn grant_type(&self) -> Option<Cow<'_, str>> {
        Some(Cow::Borrowed(self.0.grant_type.as_str()))
    }

    fn extension(&self, _key: &str) -> Option<Cow<'_, str>> {
        None
    }
}

impl oxide_code::Request for OxideRequest<'_> {
    fn valid(&self) -> bool {
        true
    }

    fn code(&self) -> Option<Cow<'_, str>> {
        self.0.param("code").map(Cow::Borrowed)
    }

    /// A public client (`none`) names itself through `client_id` instead.
    fn authorization(&self) -> oxide_code::Authorization<'_> {
        match self.0.credentials.method {
            AuthMethod::None => oxide_code::Authorization::None,
            AuthMethod::ClientSecretBasic | AuthMethod::ClientSecretPost => {
                let (id, secret) = self.credentials().unwrap_or_default();
                oxide_code::Authorization::UsernamePassword(id, secret)
            }
        }
    }

    fn client_id(&self) -> Option<Cow<'_, str>> {
        (self.0.credentials.method == AuthMethod::None)
            .then_some(Cow::Borrowed(self.0.credentials.client_id.as_str()))
    }

    fn redirect_uri(&self) -> Option<Cow<'_, str>> {
        self.0.param("redirect_uri").map(Cow::Borrowed)
    }

    fn grant_type(&self) -> Option<Cow<'_, str>> {
        Some(Cow::Borrowed(self.0.grant_type.as_str()))
    }

    fn extension(&self, _key: &str) -> Option<Cow<'_, str>> {
        None
    }
}

impl oxide_refresh::Request for OxideRequest<'_> {
    fn valid(&self) -> bool {
        true
    }

    fn refresh_token(&self) -> Option<Cow<'_, str>> {
        self.0.param("refresh_token").map(Cow::Borrowed)
    }

    fn scope(&self) -> Option<Cow<'_, str>> {
        self.requested_scope()
    }

    fn grant_type(&self) -> Option<Cow<'_, str>> {
        Some(Cow::Borrowed(self.0.grant_type.as_str()))
    }

    fn authorization(&self) -> Option<(Cow<'_, str>, Cow<'_, [u8]>)> {
        self.credentials()
    }

    fn extension(&self, _key: &str) -> Option<Cow<'_, str>> {
        None
    }
}
