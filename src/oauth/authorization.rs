//! The authorization endpoint's protocol side (RFC 6749 §4.1.1–§4.1.2): an
//! authorization request, checked through oxide-auth's authorization flow with
//! keygate's primitives — the registrar binds the client and its registered redirect
//! URI and negotiates the scope, the extension checks PKCE and the resource, and the
//! authorizer stores the code in the database (`authorization_code`), so that any
//! instance redeems it. The pages a person sees are `web::authorize`'s.
//!
//! Errors follow RFC 6749 §4.1.2.1: until the client and its redirect URI are
//! established (unknown client, unregistered URI) the person is shown a page and never
//! redirected; after that the client hears the error at its redirect URI, with
//! `state` and RFC 9207's `iss`.

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::HashMap;

use oxide_auth::code_grant::authorization::{
    self as oxide_authorization, Error as FlowError, Pending,
};
use oxide_auth::code_grant::error::AuthorizationErrorType;
use oxide_auth::endpoint::Scope;
use oxide_auth::primitives::authorizer::Authorizer;
use oxide_auth::primitives::grant::{Extensions, Grant};
use oxide_auth::primitives::registrar::{
    BoundClient, ClientUrl, PreGrant, RegisteredUrl, Registrar, RegistrarError,
};
use url::Url;

use super::authorization_code::{self, CodeBinding};
use super::pkce::CodeChallenge;
use crate::clients::{Client, GrantType};
use crate::config::Issuer;
use crate::ids::{OrgId, UserId};
use crate::scope::ScopeSet;
use crate::store::{StoreError, Tx};

/// The longest authorization request keygate reads (its query, or its form).
/// Small enough that the sign-in redirect carrying it in `next` (encoded again)
/// stays under the 8 KiB of response headers proxies take by default.
pub const MAX_REQUEST_BYTES: usize = 2 * 1024;
/// The longest `state` carried back to the client.
const MAX_STATE_CHARS: usize = 1024;

/// The parameters of an authorization request: each at most once (RFC 6749 §3.1),
/// empty ones absent; `resource` (RFC 8707) collected, as it may repeat.
#[derive(Clone, Debug, Default)]
pub struct AuthorizationRequest {
    params: HashMap<String, String>,
    resources: Vec<String>,
}

/// Why a request cannot be served at all: said on a page, never redirected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotRedirected(pub Cow<'static, str>);

/// The parameters keygate reads; others are ignored (RFC 6749 §3.1) but still may
/// appear only once.
pub const PARAMETERS: [&str; 8] = [
    "response_type",
    "client_id",
    "redirect_uri",
    "scope",
    "state",
    "code_challenge",
    "code_challenge_method",
    "resource",
];

impl AuthorizationRequest {
    /// From a query string or a form body (`application/x-www-form-urlencoded`).
    /// `skip` names form fields that are the page's own (the CSRF token, the
    /// decision), not the request's.
    pub fn parse(encoded: &str, skip: &[&str]) -> Result<Self, NotRedirected> {
        if encoded.len() > MAX_REQUEST_BYTES {
            return Err(NotRedirected(
                "the authorization request is too long (at most 2 KiB)".into(),
            ));
        }
        let mut request = Self::default();
        for (name, value) in url::form_urlencoded::parse(encoded.as_bytes()) {
            if skip.contains(&name.as_ref()) || value.is_empty() {
                continue;
            }
            if value.chars().any(char::is_control) {
                return Err(NotRedirected(
                    format!("the parameter {} holds a control character", shown(&name)).into(),
                ));
            }
            if name == "resource" {
                request.resources.push(value.into_owned());
                continue;
            }
            if request
                .params
                .insert(name.clone().into_owned(), value.into_owned())
                .is_some()
            {
                return Err(NotRedirected(
                    format!(
                        "the parameter {} appears more than once (RFC 6749 §3.1)",
                        shown(&name)
                    )
                    .into(),
                ));
            }
        }
        Ok(request)
    }

    pub fn param(&self, name: &str) -> Option<&str> {
        self.params.get(name).map(String::as_str)
    }

    pub fn client_id(&self) -> Option<&str> {
        self.param("client_id")
    }

    /// The request as hidden form fields, for the consent page to post back.
    pub fn fields(&self) -> Vec<(&str, &str)> {
        let mut fields: Vec<(&str, &str)> = PARAMETERS
            .iter()
            .filter_map(|name| self.param(name).map(|value| (*name, value)))
            .collect();
        fields.extend(self.resources.iter().map(|r| ("resource", r.as_str())));
        fields
    }
}

/// A parameter name as a message may show it: short, printable.
fn shown(name: &str) -> String {
    let name: String = name.chars().filter(|c| !c.is_control()).take(40).collect();
    format!("'{name}'")
}

/// Who is asked: the signed-in person, the organization their session works in, and
/// the scopes their role holds there.
pub struct Person<'a> {
    pub user_id: &'a UserId,
    pub org_id: &'a OrgId,
    pub holds: &'a ScopeSet,
}

/// What the consent page shows and the decision acts on: the request, checked.
pub struct Solicitation {
    pending: Pending,
    /// The redirect URI, exactly as the request named it.
    pub redirect_uri: String,
    /// The scopes that would be granted.
    pub scope: ScopeSet,
    /// The RFC 8707 resource the tokens would be for (`None`: the app's default).
    pub resource: Option<String>,
    challenge: CodeChallenge,
    state: Option<String>,
}

impl Solicitation {
    pub fn state(&self) -> Option<&str> {
        self.state.as_deref()
    }
}

/// An error for the client, at its redirect URI.
#[derive(Debug)]
pub struct RedirectError {
    pub redirect_uri: String,
    pub error: &'static str,
    pub description: Cow<'static, str>,
    pub state: Option<String>,
}

impl RedirectError {
    /// The URL the browser is sent to: the redirect URI with `error`,
    /// `error_description`, `state` and `iss`.
    pub fn location(&self, issuer: &Issuer) -> String {
        with_response(
            &self.redirect_uri,
            &[
                ("error", self.error),
                ("error_description", &self.description),
            ],
            self.state.as_deref(),
            issuer,
        )
    }
}

/// Why a request is not shown a consent page.
#[derive(Debug)]
pub enum Refused {
    /// Before the redirect URI is established: a page.
    Page(NotRedirected),
    /// After: back to the client.
    Redirect(RedirectError),
    Failed(Failure),
}

impl From<StoreError> for Refused {
    fn from(error: StoreError) -> Self {
        Self::Failed(error.into())
    }
}

/// The endpoint could not do its part: the store's fault (503), or keygate's (500).
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("no randomness: {0}")]
    Random(#[from] crate::secret::RandomError),
    #[error("authorization flow: {0}")]
    Internal(&'static str),
}

impl From<diesel::result::Error> for Failure {
    fn from(error: diesel::result::Error) -> Self {
        Self::Store(error.into())
    }
}

/// The redirect URI with the response parameters, `state` and `iss` (RFC 9207)
/// added to its query, keeping its own.
pub fn with_response(
    redirect_uri: &str,
    pairs: &[(&str, &str)],
    state: Option<&str>,
    issuer: &Issuer,
) -> String {
    let Ok(mut url) = Url::parse(redirect_uri) else {
        return redirect_uri.to_owned();
    };
    {
        let mut query = url.query_pairs_mut();
        query.extend_pairs(pairs.iter().copied());
        if let Some(state) = state {
            query.append_pair("state", state);
        }
        query.append_pair("iss", issuer.as_str());
    }
    url.to_string()
}

/// Checks `request` for `person` against `client` (the row its `client_id` names):
/// the solicitation to show, or why not.
pub fn check(
    request: &AuthorizationRequest,
    client: Option<&Client>,
    person: &Person<'_>,
    server_default_audience: &str,
) -> Result<Solicitation, Refused> {
    let refusal = RefusalCell::default();
    let checked = RefCell::new(None);
    let registrar = AuthorizeRegistrar {
        client,
        holds: person.holds,
        refusal: &refusal,
    };
    let mut endpoint = CheckEndpoint {
        registrar: &registrar,
        extension: RequestChecks {
            request,
            client,
            server_default_audience,
            refusal: &refusal,
            checked: &checked,
        },
        no_authorizer: NoAuthorizer,
    };
    let flow = oxide_authorization::authorization_code(&mut endpoint, &OxideRequest(request));
    match flow {
        Ok(pending) => {
            let (challenge, resource) = checked
                .into_inner()
                .ok_or(Refused::Failed(Failure::Internal("no checked request")))?;
            let scope = ScopeSet::parse(&pending.pre_grant().scope.to_string())
                .map_err(|_| Refused::Failed(Failure::Internal("negotiated scope")))?;
            Ok(Solicitation {
                redirect_uri: request.param("redirect_uri").unwrap_or_default().to_owned(),
                scope,
                resource,
                challenge,
                state: request.param("state").map(str::to_owned),
                pending,
            })
        }
        Err(error) => Err(refusal.into_refused(error, request)),
    }
}

/// The person allowed it: a code bound to everything the request named, stored, and
/// the URL that takes it back to the client (with `state` and `iss`).
pub fn approve(
    tx: &mut Tx<'_>,
    solicitation: Solicitation,
    client: &Client,
    person: &Person<'_>,
    issuer: &Issuer,
    now: chrono::NaiveDateTime,
) -> Result<String, Failure> {
    let Solicitation {
        pending,
        redirect_uri,
        scope,
        resource,
        challenge,
        state,
    } = solicitation;
    let scope_text = scope.to_string();
    let mut authorizer = CodeAuthorizer {
        tx,
        binding: CodeBinding {
            client_id: &client.id,
            user_id: person.user_id,
            org_id: person.org_id,
            redirect_uri: &redirect_uri,
            code_challenge: challenge.as_str(),
            scope: &scope_text,
            resource: resource.as_deref(),
        },
        now,
        stored: None,
        failed: None,
    };
    let mut endpoint = ApproveEndpoint {
        authorizer: &mut authorizer,
        no_registrar: NoRegistrar,
        no_extension: (),
    };
    let approved = pending.authorize(&mut endpoint, Cow::Borrowed(person.user_id.as_str()));
    if let Some(error) = authorizer.failed.take() {
        return Err(error);
    }
    let code = match (approved, authorizer.stored.take()) {
        (Ok(_), Some(code)) => code,
        _ => return Err(Failure::Internal("no code stored")),
    };
    Ok(with_response(
        &redirect_uri,
        &[("code", &code)],
        state.as_deref(),
        issuer,
    ))
}

/// The person said no: `access_denied` at the redirect URI (RFC 6749 §4.1.2.1).
pub fn deny(solicitation: Solicitation, issuer: &Issuer) -> String {
    with_response(
        &solicitation.redirect_uri,
        &[
            ("error", "access_denied"),
            ("error_description", "the person declined the request"),
        ],
        solicitation.state.as_deref(),
        issuer,
    )
}

/// What the primitives refused a request with, in keygate's words.
#[derive(Default)]
struct RefusalCell(RefCell<Option<Refusal>>);

enum Refusal {
    Page(Cow<'static, str>),
    Redirect {
        redirect_uri: String,
        error: &'static str,
        description: Cow<'static, str>,
    },
}

impl RefusalCell {
    fn page(&self, text: impl Into<Cow<'static, str>>) {
        *self.0.borrow_mut() = Some(Refusal::Page(text.into()));
    }

    fn redirect(
        &self,
        redirect_uri: &str,
        error: &'static str,
        description: impl Into<Cow<'static, str>>,
    ) {
        *self.0.borrow_mut() = Some(Refusal::Redirect {
            redirect_uri: redirect_uri.to_owned(),
            error,
            description: description.into(),
        });
    }

    fn into_refused(self, error: FlowError, request: &AuthorizationRequest) -> Refused {
        // An over-long state is refused, not carried back.
        let state = request
            .param("state")
            .filter(|s| s.chars().count() <= MAX_STATE_CHARS)
            .map(str::to_owned);
        match (self.0.into_inner(), error) {
            (Some(Refusal::Page(text)), _) => Refused::Page(NotRedirected(text)),
            (
                Some(Refusal::Redirect {
                    redirect_uri,
                    error,
                    description,
                }),
                _,
            ) => Refused::Redirect(RedirectError {
                redirect_uri,
                error,
                description,
                state,
            }),
            (None, FlowError::Redirect(mut url)) => {
                let redirect_uri = request.param("redirect_uri").unwrap_or_default().to_owned();
                let (error, description) = match url.description().kind() {
                    AuthorizationErrorType::UnsupportedResponseType => (
                        "unsupported_response_type",
                        "response_type must be code: keygate serves the authorization code grant only",
                    ),
                    AuthorizationErrorType::InvalidScope => ("invalid_scope", "malformed scope"),
                    _ => ("invalid_request", "malformed authorization request"),
                };
                Refused::Redirect(RedirectError {
                    redirect_uri,
                    error,
                    description: description.into(),
                    state,
                })
            }
            (None, FlowError::Ignore) => Refused::Page(NotRedirected(
                "this authorization request names no client (client_id) or no valid redirect_uri"
                    .into(),
            )),
            (None, FlowError::PrimitiveError) => {
                Refused::Failed(Failure::Internal("a primitive failed"))
            }
        }
    }
}

/// The registrar of one authorization request: the one client it names.
struct AuthorizeRegistrar<'a> {
    client: Option<&'a Client>,
    /// What the person's role holds: the most they can let an app have.
    holds: &'a ScopeSet,
    refusal: &'a RefusalCell,
}

impl Registrar for AuthorizeRegistrar<'_> {
    fn bound_redirect<'b>(&self, bound: ClientUrl<'b>) -> Result<BoundClient<'b>, RegistrarError> {
        let Some(client) = self
            .client
            .filter(|c| c.id.as_str() == bound.client_id && !c.is_disabled())
        else {
            self.refusal
                .page("this app is unknown or has been disabled: check the link you followed");
            return Err(RegistrarError::Unspecified);
        };
        let Some(presented) = bound.redirect_uri.as_deref() else {
            self.refusal.page(
                "this authorization request names no redirect_uri: keygate requires it in every request",
            );
            return Err(RegistrarError::Unspecified);
        };
        if client.registered_redirect_uri(presented.as_str()).is_none() {
            self.refusal.page(
                "this redirect_uri is not registered for the app, so keygate will not send you there",
            );
            return Err(RegistrarError::Unspecified);
        }
        if !client.allows_grant(GrantType::AuthorizationCode) {
            self.refusal.redirect(
                presented.as_str(),
                "unauthorized_client",
                "this client is not registered for the authorization_code grant",
            );
            return Err(RegistrarError::Unspecified);
        }
        let redirect_uri = RegisteredUrl::Exact(presented.clone());
        Ok(BoundClient {
            client_id: bound.client_id,
            redirect_uri: Cow::Owned(redirect_uri),
        })
    }

    fn negotiate(
        &self,
        bound: BoundClient,
        scope: Option<Scope>,
    ) -> Result<PreGrant, RegistrarError> {
        let client = self.client.ok_or(RegistrarError::Unspecified)?;
        let redirect_uri = bound.redirect_uri.as_str().to_owned();
        let refuse = |description: &'static str| {
            self.refusal
                .redirect(&redirect_uri, "invalid_scope", description);
            RegistrarError::Unspecified
        };
        let requested = scope
            .map(|s| ScopeSet::parse(&s.to_string()))
            .transpose()
            .map_err(|_| refuse("malformed scope"))?
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| client.default_scopes());
        if !requested.is_subset_of(&client.allowed_scopes()) {
            return Err(refuse(
                "the requested scope exceeds the scope registered for this client",
            ));
        }
        // A person lets an app have at most what their own role holds.
        let granted = requested.intersection(self.holds);
        if granted.is_empty() {
            return Err(refuse(
                "the person's role holds none of the requested scopes",
            ));
        }
        let scope: Scope = granted
            .to_string()
            .parse()
            .map_err(|_| refuse("malformed scope"))?;
        Ok(PreGrant {
            client_id: bound.client_id.into_owned(),
            redirect_uri: bound.redirect_uri.into_owned(),
            scope,
        })
    }

    fn check(&self, _client_id: &str, _passphrase: Option<&[u8]>) -> Result<(), RegistrarError> {
        // Clients authenticate at the token endpoint, not here.
        Err(RegistrarError::Unspecified)
    }
}

/// The checks oxide-auth leaves to an extension: PKCE (`S256` required) and the RFC
/// 8707 resource, made once the redirect URI is established so that they are
/// answered there.
struct RequestChecks<'a> {
    request: &'a AuthorizationRequest,
    client: Option<&'a Client>,
    server_default_audience: &'a str,
    refusal: &'a RefusalCell,
    checked: &'a RefCell<Option<(CodeChallenge, Option<String>)>>,
}

impl oxide_authorization::Extension for RequestChecks<'_> {
    fn extend(
        &mut self,
        _: &dyn oxide_authorization::Request,
    ) -> std::result::Result<Extensions, ()> {
        let redirect_uri = self.request.param("redirect_uri").unwrap_or_default();
        let client = self.client.ok_or(())?;
        if self
            .request
            .param("state")
            .is_some_and(|s| s.chars().count() > MAX_STATE_CHARS)
        {
            self.refusal.redirect(
                redirect_uri,
                "invalid_request",
                "state is too long (at most 1024 characters)",
            );
            return Err(());
        }
        let challenge = CodeChallenge::parse(
            self.request.param("code_challenge"),
            self.request.param("code_challenge_method"),
        )
        .map_err(|e| {
            self.refusal
                .redirect(redirect_uri, "invalid_request", e.to_string())
        })?;
        let resource = match self.request.resources.as_slice() {
            [] => None,
            [one]
                if crate::clients::model::is_valid_audience(one)
                    && client.allows_audience(one, self.server_default_audience) =>
            {
                Some(one.clone())
            }
            [_] => {
                self.refusal.redirect(
                    redirect_uri,
                    "invalid_target",
                    "the requested resource is not one this client may obtain tokens for",
                );
                return Err(());
            }
            _ => {
                self.refusal.redirect(
                    redirect_uri,
                    "invalid_target",
                    "name one resource: keygate's access tokens carry a single aud",
                );
                return Err(());
            }
        };
        *self.checked.borrow_mut() = Some((challenge, resource));
        Ok(Extensions::new())
    }
}

/// The endpoint that checks a request: no code is issued through it.
struct CheckEndpoint<'a> {
    registrar: &'a AuthorizeRegistrar<'a>,
    extension: RequestChecks<'a>,
    no_authorizer: NoAuthorizer,
}

impl oxide_authorization::Endpoint for CheckEndpoint<'_> {
    fn registrar(&self) -> &dyn Registrar {
        self.registrar
    }

    fn authorizer(&mut self) -> &mut dyn Authorizer {
        &mut self.no_authorizer
    }

    fn extension(&mut self) -> &mut dyn oxide_authorization::Extension {
        &mut self.extension
    }
}

struct NoAuthorizer;

impl Authorizer for NoAuthorizer {
    fn authorize(&mut self, _: Grant) -> Result<String, ()> {
        Err(())
    }

    fn extract(&mut self, _: &str) -> Result<Option<Grant>, ()> {
        Err(())
    }
}

/// oxide-auth's `Authorizer`, authorization side: stores the code in the database,
/// bound to what the request named (the token side is `grant::authorizer`).
struct CodeAuthorizer<'a, 't> {
    tx: &'a mut Tx<'t>,
    binding: CodeBinding<'a>,
    now: chrono::NaiveDateTime,
    stored: Option<String>,
    failed: Option<Failure>,
}

impl Authorizer for CodeAuthorizer<'_, '_> {
    fn authorize(&mut self, _grant: Grant) -> Result<String, ()> {
        let code = authorization_code::generate().map_err(|e| {
            self.failed = Some(Failure::from(e));
        })?;
        let binding = &self.binding;
        let now = self.now;
        self.tx
            .write(|tx| authorization_code::store(tx, &code, binding, now))
            .map_err(|e| self.failed = Some(Failure::from(e)))?;
        self.stored = Some(code.expose().to_owned());
        Ok(code.expose().to_owned())
    }

    fn extract(&mut self, _: &str) -> Result<Option<Grant>, ()> {
        Err(())
    }
}

/// The endpoint a consent is given through: `Pending::authorize` asks it only for
/// its authorizer.
struct ApproveEndpoint<'a, 'b, 't> {
    authorizer: &'a mut CodeAuthorizer<'b, 't>,
    no_registrar: NoRegistrar,
    no_extension: (),
}

impl oxide_authorization::Endpoint for ApproveEndpoint<'_, '_, '_> {
    fn registrar(&self) -> &dyn Registrar {
        &self.no_registrar
    }

    fn authorizer(&mut self) -> &mut dyn Authorizer {
        self.authorizer
    }

    fn extension(&mut self) -> &mut dyn oxide_authorization::Extension {
        &mut self.no_extension
    }
}

struct NoRegistrar;

impl Registrar for NoRegistrar {
    fn bound_redirect<'b>(&self, _: ClientUrl<'b>) -> Result<BoundClient<'b>, RegistrarError> {
        Err(RegistrarError::Unspecified)
    }

    fn negotiate(&self, _: BoundClient, _: Option<Scope>) -> Result<PreGrant, RegistrarError> {
        Err(RegistrarError::Unspecified)
    }

    fn check(&self, _: &str, _: Option<&[u8]>) -> Result<(), RegistrarError> {
        Err(RegistrarError::Unspecified)
    }
}

/// Hands oxide-auth the parsed request.
struct OxideRequest<'a>(&'a AuthorizationRequest);

impl oxide_authorization::Request for OxideRequest<'_> {
    fn valid(&self) -> bool {
        true
    }

    fn client_id(&self) -> Option<Cow<'_, str>> {
        self.0.param("client_id").map(Cow::Borrowed)
    }

    fn scope(&self) -> Option<Cow<'_, str>> {
        self.0.param("scope").map(Cow::Borrowed)
    }

    fn redirect_uri(&self) -> Option<Cow<'_, str>> {
        self.0.param("redirect_uri").map(Cow::Borrowed)
    }

    fn state(&self) -> Option<Cow<'_, str>> {
        self.0.param("state").map(Cow::Borrowed)
    }

    fn response_type(&self) -> Option<Cow<'_, str>> {
        self.0.param("response_type").map(Cow::Borrowed)
    }

    fn extension(&self, key: &str) -> Option<Cow<'_, str>> {
        self.0.param(key).map(Cow::Borrowed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_names_each_parameter_once_and_resource_may_repeat() {
        let request = AuthorizationRequest::parse(
            "client_id=kgc_a&scope=&resource=https%3A%2F%2Fa.example&resource=https%3A%2F%2Fb.example&csrf=t",
            &["csrf"],
        )
        .unwrap();
        assert_eq!(request.client_id(), Some("kgc_a"));
        assert_eq!(request.param("scope"), None, "empty is absent");
        assert_eq!(
            request.param("csrf"),
            None,
            "the page's own field is skipped"
        );
        assert_eq!(request.resources.len(), 2);
        let refused = |query: &str| AuthorizationRequest::parse(query, &[]).unwrap_err().0;
        assert!(refused("state=a&state=b").contains("more than once"));
        assert!(refused("state=a%0Ab").contains("control character"));
        assert!(refused(&"a".repeat(MAX_REQUEST_BYTES + 1)).contains("too long"));
        // A hostile parameter name is cut and stripped in the message.
        let named = refused(&format!(
            "{}%0A=1&{}%0A=2",
            "x".repeat(100),
            "x".repeat(100)
        ));
        assert!(!named.contains('\n') && named.len() < 120, "{named}");
    }

    #[test]
    fn the_response_keeps_the_redirect_uris_own_query() {
        let issuer: Issuer = "https://auth.example".parse().unwrap();
        let url = with_response(
            "https://app.example/cb?tenant=7",
            &[("code", "kgac_x")],
            Some("s 1"),
            &issuer,
        );
        assert_eq!(
            url,
            "https://app.example/cb?tenant=7&code=kgac_x&state=s+1&iss=https%3A%2F%2Fauth.example"
        );
        let native = with_response(
            "com.example.app:/cb",
            &[("error", "access_denied")],
            None,
            &issuer,
        );
        assert!(
            native.starts_with("com.example.app:/cb?error=access_denied&iss="),
            "{native}"
        );
    }
}
