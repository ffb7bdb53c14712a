//! `/v1/api-keys`: every route needs the `admin` scope and sees only the caller's
//! organization (another organization's key is a 404). A key is shown once, in the
//! 201 of create and rotate; everything else shows its masked form.

use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{DateTime, NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};

use super::format::Environment;
use super::model::{IssuedKey, KeyRequest, KeyRequestError};
use super::policy::{KeyPolicy, PolicyError};
use super::repo;
use super::service::{self, KeyError, KeyUpdate};
use super::view::ApiKeyView;
use crate::audit::Source;
use crate::clock::Clock;
use crate::config::CredentialPolicy;
use crate::error::ApiError;
use crate::identity::Principal;
use crate::ids::ApiKeyId;
use crate::routes::Endpoint;
use crate::scope::Scope;
use crate::store::Store;

const DEFAULT_PAGE: i64 = 20;
const MAX_PAGE: i64 = 100;

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateApiKey {
    /// 1 to 200 characters, no control characters.
    #[schema(min_length = 1, max_length = 200)]
    name: String,
    /// Configured scopes the caller holds itself, e.g. `["read"]`.
    #[schema(min_items = 1)]
    scopes: Vec<String>,
    /// Seconds (as in a token response's `expires_in`) or a duration such as `90d`
    /// (1 minute to 10 years); neither this nor `expires_at`: the key does not expire.
    expires_in: Option<Lifetime>,
    /// RFC 3339, 1 minute to 10 years ahead; instead of `expires_in`.
    expires_at: Option<DateTime<Utc>>,
    environment: Option<Environment>,
    /// Requests per minute for this key alone; only tightens the organization's tier.
    #[schema(minimum = 1, maximum = 1_000_000)]
    rate_limit_per_minute: Option<u32>,
}

/// A lifetime as a caller writes it: seconds, or a duration such as `90d`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum Lifetime {
    Seconds(u64),
    Text(String),
}

impl Lifetime {
    /// The duration it names; `error` (the field's own refusal) if it names none.
    fn duration(&self, error: impl Into<ApiError>) -> Result<std::time::Duration, ApiError> {
        match self {
            Self::Seconds(secs) => Ok(std::time::Duration::from_secs(*secs)),
            Self::Text(text) => crate::config::parse_duration(text).map_err(|_| error.into()),
        }
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateApiKey {
    #[schema(min_length = 1, max_length = 200)]
    name: Option<String>,
    /// Only a subset of the key's current scopes.
    #[schema(min_items = 1)]
    scopes: Option<Vec<String>>,
    /// `null` removes the override.
    #[serde(default, deserialize_with = "crate::api::present")]
    #[schema(minimum = 1, maximum = 1_000_000)]
    rate_limit_per_minute: Option<Option<u32>>,
}

#[derive(Deserialize, Default, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RotateApiKey {
    /// How long the old key keeps working, e.g. `1h` (at most 30 days); none: it
    /// stops at once.
    #[schema(example = "1h")]
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
    #[param(pattern = "^key_[0-9a-fA-F]{32}$")]
    after: Option<String>,
}

/// The 201 body of create and rotate: the view plus the key, shown this once.
#[derive(Serialize, utoipa::ToSchema)]
struct CreatedApiKey<'a> {
    /// First: the one field shown once.
    key: &'a str,
    #[serde(flatten)]
    view: ApiKeyView<'a>,
}

fn created(issued: &IssuedKey, now: NaiveDateTime) -> HttpResponse {
    HttpResponse::Created()
        .insert_header(("Cache-Control", "no-store"))
        .json(CreatedApiKey {
            view: ApiKeyView::new(&issued.row, now),
            key: issued.key.expose(),
        })
}

fn parse_duration(text: &str, error: KeyRequestError) -> Result<std::time::Duration, ApiError> {
    crate::config::parse_duration(text).map_err(|_| error.into())
}

/// The routes of `/v1/api-keys`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        Endpoint::new("/v1/api-keys")
            .post(create_api_key)
            .get(list_api_keys),
    )
    .service(
        Endpoint::new("/v1/api-keys/{id}")
            .get(get_api_key)
            .patch(update_api_key)
            .delete(revoke_api_key),
    )
    .service(Endpoint::new("/v1/api-keys/{id}/rotate").post(rotate_api_key))
    .service(
        Endpoint::new("/v1/api-key-policy")
            .get(get_api_key_policy)
            .put(put_api_key_policy),
    );
}

/// POST /v1/api-keys — scope `admin`. Creates a key in the caller's organization with
/// at most the caller's own scopes; 201 with the key, shown once.
#[utoipa::path(
    post,
    path = "/v1/api-keys",
    tag = "api-keys",
    responses((status = 201, description = "The key, shown this once, and its view", body = CreatedApiKey), crate::openapi::responses::ResolverErrors, crate::openapi::responses::JsonBodyErrors),
    security(("bearer" = []), ("apiKey" = []))
)]
pub async fn create_api_key(
    req: HttpRequest,
    who: Principal,
    policy: web::Data<CredentialPolicy>,
    clock: web::Data<dyn Clock>,
    store: web::Data<Store>,
    body: web::Json<CreateApiKey>,
) -> Result<HttpResponse, ApiError> {
    who.require(Scope::Admin)?;
    let body = body.into_inner();
    let now = clock.now().naive_utc();
    let expires_in = match (&body.expires_in, body.expires_at) {
        (Some(_), Some(_)) => {
            return Err(ApiError::invalid_request(
                "send expires_in or expires_at, not both",
                Some("expires_at"),
            ))
        }
        (Some(lifetime), None) => Some(lifetime.duration(KeyRequestError::ExpiresIn)?),
        (None, Some(at)) => Some(
            (at.naive_utc() - now)
                .to_std()
                .map_err(|_| KeyRequestError::ExpiresIn)?,
        ),
        (None, None) => None,
    };
    let request = KeyRequest {
        name: body.name,
        scopes: body.scopes,
        environment: body.environment,
        expires_in,
        rate_limit_per_minute: body.rate_limit_per_minute,
    };
    let actor = who.actor(Source::of(&req));
    let (org_id, known) = (who.org().to_owned(), policy.known_scopes.clone());
    let issued = store
        .write(move |c| service::create(c, &actor, &org_id, request, &known, now))
        .await?;
    tracing::info!(key_id = %issued.row.id, actor = %who.actor_label(), "API key created");
    Ok(created(&issued, now))
}

/// GET /v1/api-keys?limit=20&after=key_… — scope `admin`. The organization's keys,
/// oldest first, masked; `next_cursor` is the `after` of the next page.
#[utoipa::path(
    get,
    path = "/v1/api-keys",
    tag = "api-keys",
    params(ListQuery),
    responses((status = 200, description = "A page of the organization's keys, masked", body = crate::api::Page<ApiKeyView>), crate::openapi::responses::ResolverErrors),
    security(("bearer" = []), ("apiKey" = []))
)]
pub async fn list_api_keys(
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
        crate::tokens::TokenKind::ApiKeyId,
        "a key id",
    )?;
    let after = after.map(ApiKeyId::from);
    let org = who.org().to_owned();
    // One more than asked tells whether there is a next page.
    let keys = store
        .read(move |c| repo::list(c, Some(&org), after.as_ref(), limit + 1).map_err(ApiError::from))
        .await?;
    let now = clock.now().naive_utc();
    let (keys, next_cursor) = crate::api::split_page(keys, limit, |r| r.id.as_str());
    let data: Vec<_> = keys.iter().map(|k| ApiKeyView::new(k, now)).collect();
    Ok(crate::api::page_response(data, next_cursor))
}

/// GET /v1/api-keys/{id} — scope `admin`.
#[utoipa::path(
    get,
    path = "/v1/api-keys/{id}",
    tag = "api-keys",
    responses((status = 200, description = "The key, masked", body = ApiKeyView), crate::openapi::responses::ResolverErrors, crate::openapi::responses::NotFound),
    security(("bearer" = []), ("apiKey" = []))
)]
pub async fn get_api_key(
    req: HttpRequest,
    who: Principal,
    clock: web::Data<dyn Clock>,
    store: web::Data<Store>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = ApiKeyId::from(id.into_inner());
    who.require(Scope::Admin)?;
    let actor = who.actor(Source::of(&req));
    let key = store
        .read(move |c| service::find(c, &actor, &id).map_err(ApiError::from))
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(HttpResponse::Ok().json(ApiKeyView::new(&key, clock.now().naive_utc())))
}

/// PATCH /v1/api-keys/{id} — scope `admin`. Renames and/or narrows the scopes (a
/// scope the key does not have cannot be added: create a new key instead).
#[utoipa::path(
    patch,
    path = "/v1/api-keys/{id}",
    tag = "api-keys",
    responses((status = 200, description = "The updated key", body = ApiKeyView), crate::openapi::responses::ResolverErrors, crate::openapi::responses::NotFound, crate::openapi::responses::Conflict, crate::openapi::responses::JsonBodyErrors),
    security(("bearer" = []), ("apiKey" = []))
)]
pub async fn update_api_key(
    req: HttpRequest,
    who: Principal,
    policy: web::Data<CredentialPolicy>,
    clock: web::Data<dyn Clock>,
    store: web::Data<Store>,
    id: web::Path<String>,
    body: web::Json<UpdateApiKey>,
) -> Result<HttpResponse, ApiError> {
    let id = ApiKeyId::from(id.into_inner());
    who.require(Scope::Admin)?;
    let UpdateApiKey {
        name,
        scopes,
        rate_limit_per_minute,
    } = body.into_inner();
    let update = KeyUpdate {
        name,
        scopes,
        rate_limit_per_minute,
    };
    let actor = who.actor(Source::of(&req));
    let known = policy.known_scopes.clone();
    let now = clock.now().naive_utc();
    let updated = store
        .write(move |c| service::update(c, &actor, &id, update, &known, now))
        .await?;
    Ok(HttpResponse::Ok().json(ApiKeyView::new(&updated, now)))
}

/// DELETE /v1/api-keys/{id} — scope `admin`. Revokes the key: it stops working on the
/// next request, on every instance. Revoking a revoked key changes nothing.
#[utoipa::path(
    delete,
    path = "/v1/api-keys/{id}",
    tag = "api-keys",
    responses((status = 200, description = "The revoked key", body = ApiKeyView), crate::openapi::responses::ResolverErrors, crate::openapi::responses::NotFound),
    security(("bearer" = []), ("apiKey" = []))
)]
pub async fn revoke_api_key(
    req: HttpRequest,
    who: Principal,
    clock: web::Data<dyn Clock>,
    store: web::Data<Store>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = ApiKeyId::from(id.into_inner());
    who.require(Scope::Admin)?;
    let now = clock.now().naive_utc();
    let actor = who.actor(Source::of(&req));
    let revoked = store
        .write(move |c| service::revoke(c, &actor, &id, now))
        .await?;
    tracing::info!(key_id = %revoked.id, actor = %who.actor_label(), "API key revoked");
    Ok(HttpResponse::Ok().json(ApiKeyView::new(&revoked, now)))
}

/// POST /v1/api-keys/{id}/rotate — scope `admin`, and every scope of the key (a
/// rotation must not mint a key its caller could not create). Body, optional:
/// `{"overlap": "1h"}`. 201 with the new key, shown once; the old key keeps working
/// for the overlap (default: none), then answers `expired_api_key`.
#[utoipa::path(
    post,
    path = "/v1/api-keys/{id}/rotate",
    tag = "api-keys",
    request_body(content = Option<RotateApiKey>, description = "Optional: an empty body is `{}`", content_type = "application/json"),
    responses((status = 201, description = "The successor key, shown this once", body = CreatedApiKey), crate::openapi::responses::ResolverErrors, crate::openapi::responses::NotFound, crate::openapi::responses::Conflict, crate::openapi::responses::JsonBodyErrors),
    security(("bearer" = []), ("apiKey" = []))
)]
pub async fn rotate_api_key(
    req: HttpRequest,
    who: Principal,
    clock: web::Data<dyn Clock>,
    store: web::Data<Store>,
    id: web::Path<String>,
    body: crate::api::OptionalJson<RotateApiKey>,
) -> Result<HttpResponse, ApiError> {
    let id = ApiKeyId::from(id.into_inner());
    who.require(Scope::Admin)?;
    let overlap = match body.into_inner().overlap.as_deref() {
        None => std::time::Duration::ZERO,
        Some(text) => parse_duration(text, KeyRequestError::Overlap)?,
    };
    let now = clock.now().naive_utc();
    let actor = who.actor(Source::of(&req));
    let issued = store
        .write(move |c| service::rotate(c, &actor, &id, overlap, now))
        .await?;
    tracing::info!(key_id = %issued.row.id, actor = %who.actor_label(), "API key rotated");
    Ok(created(&issued, now))
}

/// The organization's API-key policy as a caller sets it: the whole policy, every time.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PutApiKeyPolicy {
    /// The longest a key may live: seconds or a duration such as `90d` (1 hour to 10
    /// years); `null` or omitted: no maximum. A maximum implies that every key expires.
    max_lifetime: Option<Lifetime>,
    /// Whether every key must have an expiry.
    expiry_required: bool,
}

/// GET /v1/api-key-policy — scope `admin`. The caller's organization's API-key policy.
#[utoipa::path(
    get,
    path = "/v1/api-key-policy",
    tag = "api-keys",
    responses((status = 200, description = "The policy", body = KeyPolicy), crate::openapi::responses::ResolverErrors),
    security(("bearer" = []), ("apiKey" = []))
)]
pub async fn get_api_key_policy(
    req: HttpRequest,
    who: Principal,
    store: web::Data<Store>,
) -> Result<HttpResponse, ApiError> {
    who.require(Scope::Admin)?;
    let (actor, org) = (who.actor(Source::of(&req)), who.org().clone());
    let policy = store
        .read(move |c| service::policy(c, &actor, &org).map_err(ApiError::from))
        .await?;
    Ok(HttpResponse::Ok().json(policy))
}

/// PUT /v1/api-key-policy — scope `admin`. Replaces the caller's organization's
/// API-key policy; every create and rotate of its keys keeps to it from now on (keys
/// that exist keep their expiry until rotated).
#[utoipa::path(
    put,
    path = "/v1/api-key-policy",
    tag = "api-keys",
    responses((status = 200, description = "The policy now in force", body = KeyPolicy), crate::openapi::responses::ResolverErrors, crate::openapi::responses::JsonBodyErrors),
    security(("bearer" = []), ("apiKey" = []))
)]
pub async fn put_api_key_policy(
    req: HttpRequest,
    who: Principal,
    clock: web::Data<dyn Clock>,
    store: web::Data<Store>,
    body: web::Json<PutApiKeyPolicy>,
) -> Result<HttpResponse, ApiError> {
    who.require(Scope::Admin)?;
    let PutApiKeyPolicy {
        max_lifetime,
        expiry_required,
    } = body.into_inner();
    let max_lifetime = max_lifetime
        .map(|lifetime| lifetime.duration(KeyError::Policy(PolicyError::MaxLifetime)))
        .transpose()?;
    let asked = KeyPolicy {
        max_lifetime,
        expiry_required,
    };
    let (actor, org) = (who.actor(Source::of(&req)), who.org().clone());
    let now = clock.now().naive_utc();
    let policy = store
        .write(move |c| service::set_policy(c, &actor, &org, asked, now))
        .await?;
    Ok(HttpResponse::Ok().json(policy))
}
