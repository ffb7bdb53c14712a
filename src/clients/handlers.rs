//! `/v1/clients`: every route needs the `admin` scope and sees only the caller's
//! organization (another organization's client is a 404). A client secret is shown
//! once, in the 201 of register and the 200 of rotate-secret. Each handler checks the
//! request's shape and makes one call to the use cases of `clients::service`; the
//! routes are registered by `configure`.

use std::time::Duration;

use actix_web::{web, HttpRequest, HttpResponse, HttpResponseBuilder};
use chrono::NaiveDateTime;
use serde::Deserialize;

use super::model::{ClientRegistration, ClientUpdate};
use super::repo;
use super::service::{self, IssuedClient, SecretOverlap};
use super::view::{ClientView, WithSecret};
use crate::audit::Source;
use crate::clock::Clock;
use crate::config::CredentialPolicy;
use crate::error::ApiError;
use crate::identity::Principal;
use crate::ids::ClientId;
use crate::routes::Endpoint;
use crate::scope::Scope;
use crate::store::Store;

const DEFAULT_PAGE: i64 = 20;
const MAX_PAGE: i64 = 100;

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterClient {
    name: String,
    /// The scopes the client may obtain, e.g. `["read", "write"]`.
    scopes: Vec<String>,
    /// What a token request naming no scope gets (default: all of `scopes`).
    default_scopes: Option<Vec<String>>,
    /// `client_credentials` (default), `authorization_code` and/or `refresh_token`.
    grant_types: Option<Vec<String>>,
    /// For `authorization_code`: where a person is sent back with a code (at most
    /// 16; exact match, loopback at any port).
    redirect_uris: Option<Vec<String>>,
    /// The default audience (`aud` when a token request names no `resource`);
    /// default: the first of `audiences`, else the server's `default_audience`.
    #[schema(schema_with = crate::openapi::schemas::audience, required = false)]
    audience: Option<String>,
    /// Every audience (RFC 8707 resource) the client may obtain tokens for (at most
    /// 16; repeats are dropped).
    #[schema(schema_with = crate::openapi::schemas::audiences, required = false)]
    audiences: Option<Vec<String>>,
    /// e.g. `10m`.
    access_token_ttl: Option<String>,
    /// e.g. `10s` (see the README's refresh-token section).
    refresh_reuse_grace: Option<String>,
    /// Requests per minute for this client alone; only tightens the tier's.
    #[schema(minimum = 1, maximum = 1_000_000)]
    rate_limit_per_minute: Option<u32>,
    /// `client_secret_basic` or `client_secret_post`: the only method then accepted;
    /// `none`: a public client, with no secret. Omitted: either secret method.
    #[schema(value_type = Option<crate::openapi::schemas::TokenEndpointAuthMethod>)]
    token_endpoint_auth_method: Option<String>,
}

/// Every field optional; a present field replaces the stored value (`"audience":
/// null` clears it) and the result is validated as a whole.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateClient {
    name: Option<String>,
    scopes: Option<Vec<String>>,
    default_scopes: Option<Vec<String>>,
    grant_types: Option<Vec<String>>,
    /// Replaces the list.
    redirect_uris: Option<Vec<String>>,
    /// The default audience; `null` clears it.
    #[serde(default, deserialize_with = "crate::api::present")]
    #[schema(schema_with = crate::openapi::schemas::nullable_audience, required = false)]
    audience: Option<Option<String>>,
    /// Replaces the list; a default not in it becomes the list's first.
    #[schema(schema_with = crate::openapi::schemas::audiences, required = false)]
    audiences: Option<Vec<String>>,
    access_token_ttl: Option<String>,
    refresh_reuse_grace: Option<String>,
    /// `null` removes the override.
    #[serde(default, deserialize_with = "crate::api::present")]
    #[schema(minimum = 1, maximum = 1_000_000)]
    rate_limit_per_minute: Option<Option<u32>>,
    /// `null`: either method is accepted again.
    #[serde(default, deserialize_with = "crate::api::present")]
    #[schema(value_type = Option<crate::openapi::schemas::TokenEndpointAuthMethod>)]
    token_endpoint_auth_method: Option<Option<String>>,
}

#[derive(Deserialize, Default, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RotateSecret {
    /// How long the old secret keeps working, e.g. `1h`; none: it stops at once.
    overlap: Option<String>,
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Page size, 1 to 100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    limit: Option<i64>,
    /// The last id of the previous page (`next_cursor`).
    #[param(pattern = "^kgc_[0-9a-fA-F]{32}$")]
    after: Option<String>,
}

fn duration(text: Option<&str>, field: &'static str) -> Result<Option<Duration>, ApiError> {
    text.map(|t| {
        crate::config::parse_duration(t).map_err(|_| {
            ApiError::invalid_request(
                format!("{field} must be a duration such as 90s, 10m or 1h"),
                Some(field),
            )
        })
    })
    .transpose()
}

/// The routes of `/v1/clients`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        Endpoint::new("/v1/clients")
            .post(register_client)
            .get(list_clients),
    )
    .service(
        Endpoint::new("/v1/clients/{id}")
            .get(get_client)
            .patch(update_client),
    )
    .service(Endpoint::new("/v1/clients/{id}/disable").post(disable_client))
    .service(Endpoint::new("/v1/clients/{id}/rotate-secret").post(rotate_client_secret));
}

/// POST /v1/clients — scope `admin`. Registers a client in the caller's organization;
/// 201 with `client_secret`, shown once.
#[utoipa::path(
    post,
    path = "/v1/clients",
    tag = "clients",
    responses((status = 201, description = "The client and its secret, shown this once", body = WithSecret), crate::openapi::responses::ResolverErrors, crate::openapi::responses::NotFound, crate::openapi::responses::JsonBodyErrors),
    security(("bearer" = []), ("apiKey" = []))
)]
pub async fn register_client(
    req: HttpRequest,
    who: Principal,
    policy: web::Data<CredentialPolicy>,
    clock: web::Data<dyn Clock>,
    store: web::Data<Store>,
    body: web::Json<RegisterClient>,
) -> Result<HttpResponse, ApiError> {
    who.require(Scope::Admin)?;
    let body = body.into_inner();
    let registration = ClientRegistration {
        name: body.name,
        scope: body.scopes.join(" "),
        default_scope: body.default_scopes.map(|s| s.join(" ")),
        grant_types: body.grant_types.unwrap_or_default(),
        audience: body.audience,
        audiences: body.audiences.unwrap_or_default(),
        access_token_ttl: duration(body.access_token_ttl.as_deref(), "access_token_ttl")?,
        refresh_reuse_grace: duration(body.refresh_reuse_grace.as_deref(), "refresh_reuse_grace")?,
        rate_limit_per_minute: body.rate_limit_per_minute,
        token_endpoint_auth_method: body.token_endpoint_auth_method,
        redirect_uris: body.redirect_uris.unwrap_or_default(),
    };
    let actor = who.actor(Source::of(&req));
    let draft = service::draft(&actor, who.org(), registration, &policy, None)?;
    let now = clock.now().naive_utc();
    let issued = store
        .blocking(move |store| {
            // argon2 first, with no connection held.
            let prepared = draft.prepare(now)?;
            store.write(|c| service::register(c, &actor, prepared, now))
        })
        .await?;
    tracing::info!(client_id = %issued.client.id, actor = %who.actor_label(), "client registered");
    Ok(shown_once(HttpResponse::Created(), &issued, now))
}

/// GET /v1/clients?limit=20&after=kgc_… — scope `admin`. The organization's clients in
/// id order; `next_cursor` is the next page's `after`.
#[utoipa::path(
    get,
    path = "/v1/clients",
    tag = "clients",
    params(ListQuery),
    responses((status = 200, description = "A page of the organization's clients", body = crate::api::Page<ClientView>), crate::openapi::responses::ResolverErrors),
    security(("bearer" = []), ("apiKey" = []))
)]
pub async fn list_clients(
    who: Principal,
    clock: web::Data<dyn Clock>,
    store: web::Data<Store>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    who.require(Scope::Admin)?;
    let ListQuery { limit, after } = query.into_inner();
    let limit = crate::api::page_limit(limit, DEFAULT_PAGE, MAX_PAGE)?;
    crate::api::check_cursor(
        after.as_deref(),
        crate::tokens::TokenKind::ClientId,
        "a client id",
    )?;
    let after = after.map(ClientId::from);
    let org = who.org().to_owned();
    let clients = store
        .read(move |c| repo::page(c, &org, after.as_ref(), limit + 1).map_err(ApiError::from))
        .await?;
    let now = clock.now().naive_utc();
    let (clients, next_cursor) = crate::api::split_page(clients, limit, |r| r.id.as_str());
    let data: Vec<_> = clients.iter().map(|c| ClientView::new(c, now)).collect();
    Ok(crate::api::page_response(data, next_cursor))
}

/// GET /v1/clients/{id} — scope `admin`.
#[utoipa::path(
    get,
    path = "/v1/clients/{id}",
    tag = "clients",
    responses((status = 200, description = "The client", body = ClientView), crate::openapi::responses::ResolverErrors, crate::openapi::responses::NotFound),
    security(("bearer" = []), ("apiKey" = []))
)]
pub async fn get_client(
    req: HttpRequest,
    who: Principal,
    clock: web::Data<dyn Clock>,
    store: web::Data<Store>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = ClientId::from(id.into_inner());
    who.require(Scope::Admin)?;
    let actor = who.actor(Source::of(&req));
    let client = store
        .read(move |c| service::find(c, &actor, &id).map_err(ApiError::from))
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(HttpResponse::Ok().json(ClientView::new(&client, clock.now().naive_utc())))
}

/// PATCH /v1/clients/{id} — scope `admin`. Changes metadata; the merged registration
/// is validated as a whole. Tokens already issued keep their scope until they expire;
/// refresh grants are capped to the scopes registered now.
#[utoipa::path(
    patch,
    path = "/v1/clients/{id}",
    tag = "clients",
    responses((status = 200, description = "The updated client", body = ClientView), crate::openapi::responses::ResolverErrors, crate::openapi::responses::NotFound, crate::openapi::responses::Conflict, crate::openapi::responses::JsonBodyErrors),
    security(("bearer" = []), ("apiKey" = []))
)]
pub async fn update_client(
    req: HttpRequest,
    who: Principal,
    policy: web::Data<CredentialPolicy>,
    clock: web::Data<dyn Clock>,
    store: web::Data<Store>,
    id: web::Path<String>,
    body: web::Json<UpdateClient>,
) -> Result<HttpResponse, ApiError> {
    let id = ClientId::from(id.into_inner());
    who.require(Scope::Admin)?;
    let patch = body.into_inner();
    let update = ClientUpdate {
        name: patch.name,
        scope: patch.scopes.map(|s| s.join(" ")),
        default_scope: patch.default_scopes.map(|s| s.join(" ")),
        grant_types: patch.grant_types,
        audience: patch.audience,
        audiences: patch.audiences,
        access_token_ttl: duration(patch.access_token_ttl.as_deref(), "access_token_ttl")?,
        refresh_reuse_grace: duration(patch.refresh_reuse_grace.as_deref(), "refresh_reuse_grace")?,
        rate_limit_per_minute: patch.rate_limit_per_minute,
        token_endpoint_auth_method: patch.token_endpoint_auth_method,
        redirect_uris: patch.redirect_uris,
    };
    let actor = who.actor(Source::of(&req));
    let policy = policy.into_inner();
    let now = clock.now().naive_utc();
    let updated = store
        .write(move |c| service::update(c, &actor, &id, update, &policy, now))
        .await?;
    tracing::info!(client_id = %updated.id, actor = %who.actor_label(), "client updated");
    Ok(HttpResponse::Ok().json(ClientView::new(&updated, now)))
}

/// POST /v1/clients/{id}/disable — scope `admin`. The secret stops working at once
/// and the client's refresh-token families are revoked. Idempotent.
#[utoipa::path(
    post,
    path = "/v1/clients/{id}/disable",
    tag = "clients",
    responses((status = 200, description = "The disabled client", body = ClientView), crate::openapi::responses::ResolverErrors, crate::openapi::responses::NotFound),
    security(("bearer" = []), ("apiKey" = []))
)]
pub async fn disable_client(
    req: HttpRequest,
    who: Principal,
    clock: web::Data<dyn Clock>,
    store: web::Data<Store>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = ClientId::from(id.into_inner());
    who.require(Scope::Admin)?;
    let actor = who.actor(Source::of(&req));
    let now = clock.now().naive_utc();
    let disabled = store
        .write(move |c| service::disable(c, &actor, &id, None, now))
        .await?;
    tracing::info!(client_id = %disabled.id, actor = %who.actor_label(), "client disabled");
    Ok(HttpResponse::Ok().json(ClientView::new(&disabled, now)))
}

/// POST /v1/clients/{id}/rotate-secret — scope `admin`. Body, optional:
/// `{"overlap": "1h"}`. 200 with the new `client_secret`, shown once; the old secret
/// keeps working for the overlap (default none). Rotating again during an overlap
/// ends the older secret at once: there is at most one previous secret.
#[utoipa::path(
    post,
    path = "/v1/clients/{id}/rotate-secret",
    tag = "clients",
    request_body(content = Option<RotateSecret>, description = "Optional: an empty body is `{}`", content_type = "application/json"),
    responses((status = 200, description = "The client and its new secret, shown this once", body = WithSecret), crate::openapi::responses::ResolverErrors, crate::openapi::responses::NotFound, crate::openapi::responses::Conflict, crate::openapi::responses::JsonBodyErrors),
    security(("bearer" = []), ("apiKey" = []))
)]
pub async fn rotate_client_secret(
    req: HttpRequest,
    who: Principal,
    clock: web::Data<dyn Clock>,
    store: web::Data<Store>,
    id: web::Path<String>,
    body: crate::api::OptionalJson<RotateSecret>,
) -> Result<HttpResponse, ApiError> {
    let id = ClientId::from(id.into_inner());
    who.require(Scope::Admin)?;
    let overlap = duration(body.into_inner().overlap.as_deref(), "overlap")?.unwrap_or_default();
    let overlap = SecretOverlap::new(overlap)?;
    let actor = who.actor(Source::of(&req));
    let now = clock.now().naive_utc();
    let issued = store
        .blocking(move |store| {
            // argon2 first, with no connection held.
            let new = service::new_secret()?;
            store.write(|c| service::rotate_secret(c, &actor, &id, overlap, new, now))
        })
        .await?;
    tracing::info!(client_id = %issued.client.id, actor = %who.actor_label(), "client secret rotated");
    Ok(shown_once(HttpResponse::Ok(), &issued, now))
}

/// `response` with the client and its new secret, shown this once: no cache keeps it.
fn shown_once(
    mut response: HttpResponseBuilder,
    issued: &IssuedClient,
    now: NaiveDateTime,
) -> HttpResponse {
    response
        .insert_header(("Cache-Control", "no-store"))
        .json(WithSecret::new(&issued.client, issued.secret.as_ref(), now))
}
