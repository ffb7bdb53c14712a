//! Dynamic client registration: `POST /oauth/register` (RFC 7591) with an admin
//! credential (an API key, or an access token with the `admin` scope) as the initial
//! access token, and RFC 7592's read, update and delete of the registration with the
//! registration access token it returns. Errors are RFC 7591 §3.2.2 / RFC 6750 JSON.
//! The handlers turn the metadata into a `ClientRegistration` and call the same use
//! cases as `/v1/clients` (`clients::service`: register, replacement and
//! replace_registration, disable), the RFC 7592 ones as `Actor::registration`.
//!
//! `redirect_uris` are registered for the authorization code grant
//! (`clients::redirect_uri`), and `response_types` may only be `["code"]`;
//! `token_endpoint_auth_method` may be `client_secret_basic`, `client_secret_post` or
//! `none` (a public client: no secret is issued, and it may use only the
//! authorization code and refresh grants), and a client that names one is held to it
//! at the token, revocation and introspection endpoints. One that names none
//! reads back as RFC 7591's default, `client_secret_basic`, and — as every client
//! registered before the method was stored — may use either. Metadata keygate does not
//! understand is ignored (RFC 7591 §2).
//!
//! RFC 7591 registers no member for the audiences (RFC 8707 resources) a client may
//! obtain tokens for, so keygate adds two extension members, named so they cannot
//! clash with a registered one: `keygate_audiences` (a list) and `keygate_audience`
//! (the default, in the list), as `audiences` and `audience` in `/v1/clients`. A
//! registration access token may narrow them in a `PUT`, never widen them — it is no
//! admin credential — and a `PUT` that omits both keeps them as registered (removing
//! them would widen the client to `default_audience`).

use std::collections::HashMap;

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use super::client_auth::verify_with_argon2;
use super::error::{ErrorCode, OAuthError};
use super::request::{AuthMethod, ClientCredentials};
use super::OAuthState;
use crate::audit::{Source, Via};
use crate::clients::model::{Client, ClientRegistration};
use crate::clients::repo;
use crate::clients::secret::new_registration_token;
use crate::clients::service;
use crate::clients::view::{Registered, DEFAULT_AUTH_METHOD};
use crate::config::CredentialPolicy;
use crate::identity::authority::Actor;
use crate::identity::extract::admit;
use crate::identity::presented::{bearer_credential, presented_credential};
use crate::identity::{Audience, Principal, Resolver};
use crate::scope::Scope;
use crate::secret::{ct_eq_str, digest, Secret};
use crate::store::{Store, StoreError};
use crate::tokens::TokenKind;

/// The `client_name` of a registration that names none.
const DEFAULT_CLIENT_NAME: &str = "dynamically registered client";

/// Source addresses the open-registration window remembers in one minute.
const MAX_SOURCES_PER_WINDOW: usize = 65_536;

/// The scope of an openly registered client that names none: the least.
const OPEN_DEFAULT_SCOPE: &str = "read";

/// Registration without an initial access token (`open_registration`): for public
/// clients only — a client with a secret gets it from an admin — into one
/// organization, and at most so many per source address per minute (a fixed
/// window, forgotten each minute).
pub struct OpenRegistration {
    org_slug: String,
    max_scope: crate::scope::ScopeSet,
    per_minute: u32,
    /// Registrations per source address in the current minute.
    window: std::sync::Mutex<(i64, HashMap<String, u32>)>,
}

impl OpenRegistration {
    pub fn from_settings(settings: &crate::config::Settings) -> Option<Self> {
        settings.open_registration.then(|| Self {
            org_slug: settings.open_registration_org.clone(),
            max_scope: settings.open_registration_max_scope.clone(),
            per_minute: settings.open_registrations_per_minute_per_source,
            window: std::sync::Mutex::new((0, HashMap::new())),
        })
    }

    /// Counts one registration from `source` at `now`, or the seconds to wait.
    fn admit(&self, source: &Source, now: chrono::DateTime<chrono::Utc>) -> Result<(), u64> {
        let minute = now.timestamp().div_euclid(60);
        let mut window = self
            .window
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if window.0 != minute {
            *window = (minute, HashMap::new());
        }
        let key = source.0.clone().unwrap_or_default();
        // Bounded memory: past this many sources in one minute, newcomers wait too.
        if window.1.len() >= MAX_SOURCES_PER_WINDOW && !window.1.contains_key(&key) {
            return Err(u64::try_from(60 - now.timestamp().rem_euclid(60)).unwrap_or(60));
        }
        let count = window.1.entry(key).or_insert(0);
        if *count >= self.per_minute {
            let left = 60 - now.timestamp().rem_euclid(60);
            return Err(u64::try_from(left).unwrap_or(60));
        }
        *count += 1;
        Ok(())
    }
}

/// Client metadata as RFC 7591 §2 names it; other members are ignored.
#[derive(Deserialize, Default, utoipa::ToSchema)]
pub struct ClientMetadata {
    client_id: Option<String>,
    client_secret: Option<String>,
    client_name: Option<String>,
    /// Required by keygate: the space-separated scopes the client may obtain.
    #[schema(value_type = String, required = true, pattern = r"^ *[\x21\x23-\x5B\x5D-\x7E]+( +[\x21\x23-\x5B\x5D-\x7E]+)* *$")]
    scope: Option<String>,
    grant_types: Option<Vec<String>>,
    /// Omitted: `client_secret_basic` (RFC 7591 §2), the only method then accepted.
    #[schema(value_type = Option<crate::openapi::schemas::TokenEndpointAuthMethod>)]
    token_endpoint_auth_method: Option<String>,
    response_types: Option<Vec<String>>,
    redirect_uris: Option<Vec<String>>,
    /// keygate's extension: every audience (RFC 8707 resource) the client may obtain
    /// tokens for.
    #[schema(schema_with = crate::openapi::schemas::audiences, required = false)]
    keygate_audiences: Option<Vec<String>>,
    /// keygate's extension: the default audience, one of `keygate_audiences`.
    #[schema(schema_with = crate::openapi::schemas::audience, required = false)]
    keygate_audience: Option<String>,
}

impl ClientMetadata {
    /// Whether the metadata names the client's audiences (keygate's extension).
    fn names_audiences(&self) -> bool {
        self.keygate_audiences.is_some() || self.keygate_audience.is_some()
    }
}

impl std::fmt::Debug for ClientMetadata {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientMetadata")
            .field("client_name", &self.client_name)
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

/// `client` as RFC 7591/7592 return it, under this server's issuer.
fn registered<'a>(
    client: &'a Client,
    state: &OAuthState,
    secret: Option<&'a Secret>,
    registration_token: Option<&'a Secret>,
) -> Registered<'a> {
    Registered::new(
        client,
        state.issuance.issuer.base(),
        secret,
        registration_token,
    )
}

/// Checks what keygate cannot serve and turns the rest into a registration.
/// RFC 7591 §2's defaults where it helps a client that omits them: `grant_types`
/// omitted with `redirect_uris` given (or as a public client) is
/// `["authorization_code"]`, otherwise keygate's own `["client_credentials"]`.
fn to_registration(
    metadata: ClientMetadata,
) -> Result<(ClientRegistration, &'static str), OAuthError> {
    let redirect_uris = metadata.redirect_uris.unwrap_or_default();
    let named = metadata
        .token_endpoint_auth_method
        .as_deref()
        .map(|method| {
            method.parse::<AuthMethod>().map_err(|_| {
                OAuthError::invalid_client_metadata(
                    "token_endpoint_auth_method must be client_secret_basic, client_secret_post or none",
                )
            })
        })
        .transpose()?;
    let grant_types = match metadata.grant_types {
        Some(grant_types) => grant_types,
        None if !redirect_uris.is_empty() || named == Some(AuthMethod::None) => {
            vec!["authorization_code".to_owned()]
        }
        None => Vec::new(),
    };
    // RFC 7591 §2.1: response_types and grant_types must agree.
    let wants_code = grant_types.iter().any(|g| g == "authorization_code");
    match metadata.response_types.as_deref() {
        None | Some([]) => {}
        Some([code]) if code == "code" && wants_code => {}
        Some([code]) if code == "code" => {
            return Err(OAuthError::invalid_client_metadata(
                "response_types [\"code\"] needs the authorization_code grant in grant_types",
            ))
        }
        Some(_) => {
            return Err(OAuthError::invalid_client_metadata(
                "response_types may only be [\"code\"]: keygate serves the authorization code grant, not the implicit one",
            ))
        }
    }
    let auth_method = named.map_or(DEFAULT_AUTH_METHOD, AuthMethod::as_str);
    let scope = metadata
        .scope
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| OAuthError::invalid_client_metadata("scope is required"))?;
    Ok((
        ClientRegistration {
            name: metadata
                .client_name
                .unwrap_or_else(|| DEFAULT_CLIENT_NAME.to_owned()),
            scope,
            grant_types,
            token_endpoint_auth_method: named.map(|m| m.as_str().to_owned()),
            audience: metadata.keygate_audience,
            audiences: metadata.keygate_audiences.unwrap_or_default(),
            redirect_uris,
            ..Default::default()
        },
        auth_method,
    ))
}

/// RFC 7591 client metadata, as JSON, into a registration and its
/// `token_endpoint_auth_method`: what `POST /oauth/register` does with its body before
/// `ClientRegistration::validate`. No I/O (the fuzz target `registration_metadata`
/// drives it).
pub fn parse_metadata(json: &[u8]) -> Result<(ClientRegistration, &'static str), OAuthError> {
    to_registration(decode_metadata(json)?)
}

fn decode_metadata(json: &[u8]) -> Result<ClientMetadata, OAuthError> {
    serde_json::from_slice(json)
        .map_err(|e| OAuthError::invalid_client_metadata(format!("invalid client metadata: {e}")))
}

/// The request body as client metadata: JSON, at most `limit` bytes.
async fn read_metadata(
    req: &HttpRequest,
    body: web::Payload,
    limit: usize,
) -> Result<ClientMetadata, OAuthError> {
    let json = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(';')
                .next()
                .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/json"))
        });
    if !json {
        return Err(OAuthError::invalid_client_metadata(
            "send the client metadata as application/json",
        ));
    }
    let bytes = body
        .to_bytes_limited(limit)
        .await
        .map_err(|_| OAuthError::body_too_large(limit))?
        .map_err(|_| OAuthError::invalid_request("could not read the request body"))?;
    decode_metadata(&bytes)
}

/// The principal behind the initial access token, which must hold `admin`.
async fn initial_access(
    req: &HttpRequest,
    resolver: web::Data<Resolver>,
    store: &web::Data<Store>,
) -> Result<Principal, OAuthError> {
    let presented = presented_credential(req.headers())
        .map_err(OAuthError::from)?
        .into_owned();
    let who = store
        .read(move |tx| {
            resolver
                .resolve(tx, &presented, &Audience::Management)
                .map_err(OAuthError::from)
        })
        .await?;
    if !who.scopes.contains(Scope::Admin.as_str()) {
        return Err(OAuthError::insufficient_scope(Scope::Admin.as_str()));
    }
    // Counted and limited like any request of this credential.
    admit(req, &who).await?;
    Ok(who)
}

/// POST /oauth/register — RFC 7591. Initial access token: `Authorization: Bearer` with
/// an `admin` API key (or access token). 201 with `client_id`, `client_secret` and the
/// RFC 7592 `registration_access_token`, each shown once.
#[utoipa::path(
    post,
    path = "/oauth/register",
    tag = "oauth",
    request_body(content = ClientMetadata, content_type = "application/json"),
    responses(
        (status = 201, description = "The client, its secret and its registration access token, each shown once", body = Registered),
        crate::openapi::responses::RegistrationErrors,
        crate::openapi::responses::RegistrationForbidden,
    ),
    security(("bearer" = []))
)]
#[tracing::instrument(name = "register", skip_all)]
pub async fn post_register(
    req: HttpRequest,
    body: web::Payload,
    state: web::Data<OAuthState>,
    policy: web::Data<CredentialPolicy>,
    resolver: web::Data<Resolver>,
    store: web::Data<Store>,
) -> Result<HttpResponse, OAuthError> {
    if let Some(open) = state
        .open_registration
        .as_ref()
        .filter(|_| !req.headers().contains_key(header::AUTHORIZATION))
    {
        return register_openly(&req, body, &state, open, &policy, &store).await;
    }
    let who = initial_access(&req, resolver, &store).await?;
    let (registration, _) =
        to_registration(read_metadata(&req, body, state.max_body_bytes).await?)?;
    let actor = who.actor(Source::of(&req));
    let draft = service::draft(&actor, who.org(), registration, &policy, Some(Via::Rfc7591))?;
    let issued = register_draft(&state, &store, actor, draft).await?;
    tracing::info!(client_id = %issued.client.id, actor = %who.actor_label(), "client registered (RFC 7591)");
    Ok(created(&issued, &state))
}

/// Registers `draft` as `actor`: argon2 first (a secret, if it gets one), with no
/// connection held, then the insert.
async fn register_draft(
    state: &OAuthState,
    store: &web::Data<Store>,
    actor: Actor,
    draft: service::ClientDraft,
) -> Result<service::IssuedClient, OAuthError> {
    let now = state.clock.now().naive_utc();
    let issued = store
        .blocking(move |store| {
            let prepared = draft.prepare(now)?;
            store.write(|c| service::register(c, &actor, prepared, now))
        })
        .await?;
    Ok(issued)
}

/// RFC 7591 §3.2.1's 201: the client, with its secret (if any) and registration
/// access token, each shown once.
fn created(issued: &service::IssuedClient, state: &OAuthState) -> HttpResponse {
    super::uncached(HttpResponse::Created()).json(registered(
        &issued.client,
        state,
        issued.secret.as_ref(),
        issued.registration_token.as_ref(),
    ))
}

/// POST /oauth/register without an initial access token, when `open_registration` is
/// on: a public client (`token_endpoint_auth_method: none`) of the authorization code
/// grant, in the configured organization, registered by `open_registration`.
async fn register_openly(
    req: &HttpRequest,
    body: web::Payload,
    state: &OAuthState,
    open: &OpenRegistration,
    policy: &CredentialPolicy,
    store: &web::Data<Store>,
) -> Result<HttpResponse, OAuthError> {
    let source = Source::of(req);
    open.admit(&source, state.clock.now())
        .map_err(OAuthError::rate_limited)?;
    let mut metadata = read_metadata(req, body, state.max_body_bytes).await?;
    if metadata.token_endpoint_auth_method.as_deref() != Some("none") {
        return Err(OAuthError::invalid_client_metadata(
            "open registration is for public clients: send token_endpoint_auth_method \"none\" \
             (a client with a secret is registered with an admin credential as the initial access token)",
        ));
    }
    if metadata
        .scope
        .as_deref()
        .is_none_or(|s| s.trim().is_empty())
    {
        metadata.scope = Some(OPEN_DEFAULT_SCOPE.to_owned());
    }
    let (registration, _) = to_registration(metadata)?;
    let asked = crate::scope::ScopeSet::parse(&registration.scope)
        .map_err(|e| OAuthError::invalid_client_metadata(format!("scope: {e}")))?;
    if !asked.is_subset_of(&open.max_scope) {
        return Err(OAuthError::invalid_client_metadata(format!(
            "an openly registered client may have at most the scope '{}'; more needs an initial access token",
            open.max_scope
        )));
    }
    let slug = open.org_slug.clone();
    let org = store
        .read(move |tx| crate::orgs::repo::find_by_slug(tx, &slug).map_err(StoreError::from))
        .await?
        .ok_or_else(|| OAuthError::server_error(&"open_registration_org names no organization"))?;
    let actor = Actor::operator("open_registration");
    let draft = service::draft(&actor, &org.id, registration, policy, Some(Via::Rfc7591))?;
    let issued = register_draft(state, store, actor, draft).await?;
    tracing::info!(client_id = %issued.client.id, "public client registered openly (RFC 7591)");
    Ok(created(&issued, state))
}

/// The live client `client_id` whose registration access token is the request's
/// Bearer token. Anything else — no token, a wrong one, another client's, a deleted
/// registration — is 401 `invalid_token` (RFC 7592 §3), telling nothing about
/// whether the client exists.
async fn registration_client(
    req: &HttpRequest,
    store: &web::Data<Store>,
    client_id: String,
) -> Result<Client, OAuthError> {
    let token = bearer_credential(req.headers())
        .map_err(OAuthError::from)?
        .ok_or_else(|| OAuthError::missing_token("the registration access token is required"))?;
    if !TokenKind::RegistrationAccessToken.has_prefix(token) {
        return Err(OAuthError::invalid_token("not a registration access token"));
    }
    let hash = digest(token);
    let client = store
        .read(move |c| repo::find_by_registration_token(c, &hash).map_err(StoreError::from))
        .await?
        .filter(|client| {
            client
                .registration_token_hash
                .as_deref()
                .is_some_and(|stored| ct_eq_str(stored, &digest(token)))
                && ct_eq_str(client.id.as_str(), &client_id)
                && !client.is_disabled()
        });
    client.ok_or_else(|| OAuthError::invalid_token("the registration access token is not valid"))
}

fn superseded() -> OAuthError {
    OAuthError::invalid_token("the registration access token was replaced meanwhile")
}

/// GET /oauth/register/{client_id} — RFC 7592 §2.1, with the registration access
/// token. The client secret is not shown again. The response carries a new
/// registration access token (RFC 7592 §3 requires one in every response, and
/// keygate keeps only digests): the presented one stops working. HEAD, whose answer
/// has no body to carry a new token, checks the token and replaces nothing (HEAD is
/// safe, RFC 9110 §9.2.1).
#[utoipa::path(
    get,
    path = "/oauth/register/{client_id}",
    tag = "oauth",
    responses(
        (status = 200, description = "The registration, with a new registration access token", body = Registered),
        crate::openapi::responses::RegistrationErrors,
    ),
    security(("registrationAccessToken" = []))
)]
pub async fn get_registration(
    req: HttpRequest,
    client_id: web::Path<String>,
    state: web::Data<OAuthState>,
    store: web::Data<Store>,
) -> Result<HttpResponse, OAuthError> {
    let client = registration_client(&req, &store, client_id.into_inner()).await?;
    if req.method() == actix_web::http::Method::HEAD {
        return Ok(super::uncached(HttpResponse::Ok())
            .content_type("application/json")
            .finish());
    }
    let (token, hash) = new_registration_token()?;
    let client = store
        .write(move |c| {
            repo::replace_registration_token(c, &client, &hash).map_err(StoreError::from)
        })
        .await?
        .ok_or_else(superseded)?;
    Ok(super::uncached(HttpResponse::Ok()).json(registered(&client, &state, None, Some(&token))))
}

/// PUT /oauth/register/{client_id} — RFC 7592 §2.2: replaces the metadata. The body
/// must name the same `client_id`; a `client_secret` in it must be a live secret
/// (checked with an argon2 lease, like the token endpoint). The scope may be narrowed,
/// never widened: the registration access token is no admin credential. The response
/// carries a new registration access token.
#[utoipa::path(
    put,
    path = "/oauth/register/{client_id}",
    tag = "oauth",
    request_body(content = ClientMetadata, content_type = "application/json", description = "The full metadata, with the client's own client_id"),
    responses(
        (status = 200, description = "The new registration, with a new registration access token", body = Registered),
        crate::openapi::responses::RegistrationErrors,
    ),
    security(("registrationAccessToken" = []))
)]
pub async fn put_registration(
    req: HttpRequest,
    client_id: web::Path<String>,
    body: web::Payload,
    state: web::Data<OAuthState>,
    policy: web::Data<CredentialPolicy>,
    store: web::Data<Store>,
) -> Result<HttpResponse, OAuthError> {
    let client = registration_client(&req, &store, client_id.into_inner()).await?;
    let mut metadata = read_metadata(&req, body, state.max_body_bytes).await?;
    if metadata.client_id.as_deref() != Some(client.id.as_str()) {
        return Err(OAuthError::invalid_request(
            "the body's client_id must be the client's",
        ));
    }
    let presented_secret = metadata.client_secret.take().map(Secret::new);
    let names_audiences = metadata.names_audiences();
    let (registration, _) = to_registration(metadata)?;
    let now = state.clock.now().naive_utc();
    let actor = Actor::registration(&client.id, &client.org_id, Source::of(&req));
    let replacement = service::replacement(
        client,
        registration,
        names_audiences,
        &policy,
        state.issuance.default_audience.as_str(),
        now,
    )?;
    if let Some(secret) = presented_secret {
        // A guess at the client's secret like any other: the same brute-force
        // throttle and argon2 budget as the token endpoint.
        let credentials = ClientCredentials {
            client_id: replacement.client().id.to_string(),
            secret,
            method: AuthMethod::ClientSecretPost,
        };
        verify_with_argon2(
            state.clone(),
            store.clone(),
            std::sync::Arc::new(credentials),
            |c| c,
            Source::of(&req),
        )
        .await
        .map_err(|error| match error.code() {
            ErrorCode::InvalidClient => OAuthError::invalid_client_metadata(
                "client_secret does not match the client's secret",
            ),
            _ => error,
        })?;
    }
    let (updated, token) = store
        .write(move |c| service::replace_registration(c, &actor, replacement, now))
        .await?;
    Ok(super::uncached(HttpResponse::Ok()).json(registered(&updated, &state, None, Some(&token))))
}

/// DELETE /oauth/register/{client_id} — RFC 7592 §2.3: the client is disabled (its
/// secret stops working, its refresh-token families are revoked) and the registration
/// access token stops working. 204.
#[utoipa::path(
    delete,
    path = "/oauth/register/{client_id}",
    tag = "oauth",
    responses(
        (status = 204, description = "The client is disabled and the token stops working"),
        crate::openapi::responses::RegistrationErrors,
    ),
    security(("registrationAccessToken" = []))
)]
pub async fn delete_registration(
    req: HttpRequest,
    client_id: web::Path<String>,
    state: web::Data<OAuthState>,
    store: web::Data<Store>,
) -> Result<HttpResponse, OAuthError> {
    let client = registration_client(&req, &store, client_id.into_inner()).await?;
    let now = state.clock.now().naive_utc();
    let actor = Actor::registration(&client.id, &client.org_id, Source::of(&req));
    store
        .write(move |c| service::disable(c, &actor, &client.id, Some(Via::Rfc7592), now))
        .await?;
    Ok(HttpResponse::NoContent()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish())
}
