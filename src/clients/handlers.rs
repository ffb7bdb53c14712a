//! `/v1/clients`: every route needs the `admin` scope and sees only the caller's
//! organization (another organization's client is a 404). A client secret is shown
//! once, in the 201 of register and the 200 of rotate-secret.

use std::time::Duration;

use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{DateTime, NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};

use super::model::{Client, ClientRegistration, ValidRegistration};
use super::registration;
use super::repo;
use crate::audit::{self, By, Change, Source};
use crate::clock::Clock;
use crate::config::CredentialPolicy;
use crate::error::ApiError;
use crate::identity::authority::Holdings;
use crate::identity::{Principal, Scope};
use crate::scope::ScopeSet;
use crate::secret::Secret;
use crate::store::Store;

const DEFAULT_PAGE: i64 = 20;
const MAX_PAGE: i64 = 100;
/// Longest a replaced client secret keeps working beside the new one.
pub const MAX_SECRET_OVERLAP: Duration = Duration::from_secs(30 * 24 * 3600);

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterClient {
    name: String,
    /// The scopes the client may obtain, e.g. `["read", "write"]`.
    scopes: Vec<String>,
    /// What a token request naming no scope gets (default: all of `scopes`).
    default_scopes: Option<Vec<String>>,
    /// `client_credentials` (default) and/or `refresh_token`.
    grant_types: Option<Vec<String>>,
    /// The default audience (`aud` when a token request names no `resource`);
    /// default: the first of `audiences`, else the server's `default_audience`.
    #[schema(schema_with = crate::openapi::audience, required = false)]
    audience: Option<String>,
    /// Every audience (RFC 8707 resource) the client may obtain tokens for (at most
    /// 16; repeats are dropped).
    #[schema(schema_with = crate::openapi::audiences, required = false)]
    audiences: Option<Vec<String>>,
    /// e.g. `10m`.
    access_token_ttl: Option<String>,
    /// e.g. `10s` (see the README's refresh-token section).
    refresh_reuse_grace: Option<String>,
    /// Requests per minute for this client alone; only tightens the tier's.
    #[schema(minimum = 1, maximum = 1_000_000)]
    rate_limit_per_minute: Option<u32>,
    /// `client_secret_basic` or `client_secret_post`: the only method then accepted.
    /// Omitted: either.
    #[schema(value_type = Option<crate::openapi::TokenEndpointAuthMethod>)]
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
    /// The default audience; `null` clears it.
    #[serde(default, deserialize_with = "crate::api::present")]
    #[schema(schema_with = crate::openapi::nullable_audience, required = false)]
    audience: Option<Option<String>>,
    /// Replaces the list; a default not in it becomes the list's first.
    #[schema(schema_with = crate::openapi::audiences, required = false)]
    audiences: Option<Vec<String>>,
    access_token_ttl: Option<String>,
    refresh_reuse_grace: Option<String>,
    /// `null` removes the override.
    #[serde(default, deserialize_with = "crate::api::present")]
    #[schema(minimum = 1, maximum = 1_000_000)]
    rate_limit_per_minute: Option<Option<u32>>,
    /// `null`: either method is accepted again.
    #[serde(default, deserialize_with = "crate::api::present")]
    #[schema(value_type = Option<crate::openapi::TokenEndpointAuthMethod>)]
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

/// How a client is shown: never its secret or any hash.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ClientView<'a> {
    pub client_id: &'a str,
    pub name: &'a str,
    pub org_id: &'a str,
    /// The scopes the client may obtain (as `scopes` on create and update).
    pub scopes: Vec<&'a str>,
    /// What a token request naming no scope gets.
    pub default_scopes: Vec<&'a str>,
    pub grant_types: Vec<&'a str>,
    /// The default audience (`null`: the server's `default_audience`).
    pub audience: Option<&'a str>,
    /// Every audience the client may obtain tokens for (`[]`: only the server's
    /// `default_audience`).
    pub audiences: Vec<&'a str>,
    pub access_token_ttl_secs: Option<i64>,
    pub refresh_reuse_grace_secs: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub disabled_at: Option<DateTime<Utc>>,
    /// During a secret rotation's overlap: when the previous secret stops working.
    pub previous_secret_expires_at: Option<DateTime<Utc>>,
    /// When the current secret stops working (`null`: never).
    pub secret_expires_at: Option<DateTime<Utc>>,
    pub rate_limit_per_minute: Option<i64>,
    /// The one method the client may authenticate with (`null`: either).
    #[schema(value_type = Option<crate::openapi::TokenEndpointAuthMethod>)]
    pub token_endpoint_auth_method: Option<&'a str>,
}

impl<'a> ClientView<'a> {
    pub fn new(c: &'a Client, now: NaiveDateTime) -> Self {
        Self {
            client_id: &c.id,
            name: &c.name,
            org_id: &c.org_id,
            scopes: c.allowed_scopes.split_whitespace().collect(),
            default_scopes: c.default_scopes.split_whitespace().collect(),
            grant_types: c.grant_types.split(' ').collect(),
            audience: c.audience.as_deref(),
            audiences: c.registered_audiences(),
            access_token_ttl_secs: c.access_token_ttl_secs,
            refresh_reuse_grace_secs: c.refresh_reuse_grace_secs,
            created_at: c.created_at.and_utc(),
            updated_at: c.updated_at.and_utc(),
            disabled_at: c.disabled_at.map(|t| t.and_utc()),
            previous_secret_expires_at: c
                .previous_secret_expires_at
                .filter(|until| *until > now)
                .map(|t| t.and_utc()),
            secret_expires_at: c.secret_expires_at.map(|t| t.and_utc()),
            rate_limit_per_minute: c.rate_limit_per_minute,
            token_endpoint_auth_method: c.token_endpoint_auth_method.as_deref(),
        }
    }
}

/// A view plus the secret, shown this once.
#[derive(Serialize, utoipa::ToSchema)]
struct WithSecret<'a> {
    /// First: the one field shown once.
    client_secret: &'a str,
    #[serde(flatten)]
    view: ClientView<'a>,
}

fn with_secret<'a>(client: &'a Client, secret: &'a Secret, now: NaiveDateTime) -> WithSecret<'a> {
    WithSecret {
        view: ClientView::new(client, now),
        client_secret: secret.expose(),
    }
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

/// Validates against the server's limits and the caller's own scopes: an admin never
/// registers a client that could obtain scopes the admin lacks.
fn validate(
    registration: ClientRegistration,
    who: &Principal,
    policy: &CredentialPolicy,
) -> Result<ValidRegistration, ApiError> {
    let valid = registration.validate(
        crate::orgs::OrgId(who.org().to_owned()),
        &policy.known_scopes,
        policy.max_token_ttl,
    )?;
    if let Some(beyond) = valid
        .allowed_scopes()
        .iter()
        .find(|s| !who.scopes.contains(s))
    {
        return Err(ApiError::invalid_request(
            format!("scopes: '{beyond}' is beyond the caller's own scopes"),
            Some("scopes"),
        ));
    }
    Ok(valid)
}

fn is_client_id(text: &str) -> bool {
    crate::tokens::TokenKind::ClientId.is_id(text)
}

/// POST /v1/clients — scope `admin`. Registers a client in the caller's organization;
/// 201 with `client_secret`, shown once.
#[utoipa::path(
    post,
    path = "/v1/clients",
    tag = "clients",
    responses((status = 201, description = "The client and its secret, shown this once", body = WithSecret), crate::openapi::ResolverErrors, crate::openapi::NotFound, crate::openapi::JsonBodyErrors),
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
        rate_limit_per_minute: who
            .actor(Source::of(&req))
            .cap_rate_limit(Some(body.rate_limit_per_minute))?
            .flatten(),
        token_endpoint_auth_method: body.token_endpoint_auth_method,
    };
    let valid = validate(registration, &who, &policy)?;
    let now = clock.now().naive_utc();
    let secret_expires_at = who.actor(Source::of(&req)).lifetime();
    let (source, actor) = (Source::of(&req), who.actor_label());
    let (client, secret) = store
        .blocking(move |store| {
            // argon2 first, with no connection held.
            let (mut new, secret) = registration::prepare(valid, now)?;
            new.secret_expires_at = secret_expires_at;
            let client = store.write(|c| {
                let client = repo::create(c, &new)?;
                let change = Change::ClientRegistered {
                    name: &client.name,
                    scope: &client.allowed_scopes,
                    via: None,
                };
                audit::repo::record(c, &client, By::new(&actor, &source), change, now)?;
                Ok::<_, ApiError>(client)
            })?;
            Ok::<_, ApiError>((client, secret))
        })
        .await?;
    tracing::info!(client_id = %client.id, actor = %who.actor_label(), "client registered");
    Ok(HttpResponse::Created()
        .insert_header(("Cache-Control", "no-store"))
        .json(with_secret(&client, &secret, now)))
}

/// GET /v1/clients?limit=20&after=kgc_… — scope `admin`. The organization's clients in
/// id order; `next_cursor` is the next page's `after`.
#[utoipa::path(
    get,
    path = "/v1/clients",
    tag = "clients",
    params(ListQuery),
    responses((status = 200, description = "A page of the organization's clients", body = crate::api::Page<ClientView>), crate::openapi::ResolverErrors),
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
    let org = who.org().to_owned();
    let clients = store
        .read(move |c| repo::page(c, &org, after.as_deref(), limit + 1).map_err(ApiError::from))
        .await?;
    let now = clock.now().naive_utc();
    let (clients, next_cursor) = crate::api::split_page(clients, limit, |r| &r.id);
    let data: Vec<_> = clients.iter().map(|c| ClientView::new(c, now)).collect();
    Ok(crate::api::page_response(data, next_cursor))
}

async fn find_own(who: &Principal, store: &Store, id: &str) -> Result<Client, ApiError> {
    if !is_client_id(id) {
        return Err(ApiError::NotFound);
    }
    let (org, id) = (who.org().to_owned(), id.to_owned());
    store
        .read(move |c| repo::find_in_org(c, &org, &id).map_err(ApiError::from))
        .await?
        .ok_or(ApiError::NotFound)
}

/// GET /v1/clients/{id} — scope `admin`.
#[utoipa::path(
    get,
    path = "/v1/clients/{id}",
    tag = "clients",
    responses((status = 200, description = "The client", body = ClientView), crate::openapi::ResolverErrors, crate::openapi::NotFound),
    security(("bearer" = []), ("apiKey" = []))
)]
pub async fn get_client(
    who: Principal,
    clock: web::Data<dyn Clock>,
    store: web::Data<Store>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    who.require(Scope::Admin)?;
    let client = find_own(&who, &store, &id).await?;
    Ok(HttpResponse::Ok().json(ClientView::new(&client, clock.now().naive_utc())))
}

/// PATCH /v1/clients/{id} — scope `admin`. Changes metadata; the merged registration
/// is validated as a whole. Tokens already issued keep their scope until they expire;
/// refresh grants are capped to the scopes registered now.
#[utoipa::path(
    patch,
    path = "/v1/clients/{id}",
    tag = "clients",
    responses((status = 200, description = "The updated client", body = ClientView), crate::openapi::ResolverErrors, crate::openapi::NotFound, crate::openapi::Conflict, crate::openapi::JsonBodyErrors),
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
    who.require(Scope::Admin)?;
    let patch = body.into_inner();
    let client = find_own(&who, &store, &id).await?;
    if client.is_disabled() {
        return Err(ApiError::Conflict("the client is disabled"));
    }
    let mut registration = ClientRegistration::from_client(&client);
    if let Some(name) = patch.name {
        registration.name = name;
    }
    if let Some(scopes) = patch.scopes {
        registration.scope = scopes.join(" ");
        if patch.default_scopes.is_none() {
            // Narrowing the scopes narrows the default with them (to all of the new
            // scopes if nothing of the old default is left).
            let new = ScopeSet::parse(&registration.scope).unwrap_or_default();
            let old_default = client.default_scopes();
            let kept: Vec<&str> = old_default.iter().filter(|s| new.contains(s)).collect();
            registration.default_scope = (!kept.is_empty()).then(|| kept.join(" "));
        }
    }
    if let Some(default_scopes) = patch.default_scopes {
        registration.default_scope = Some(default_scopes.join(" "));
    }
    if let Some(grant_types) = patch.grant_types {
        registration.grant_types = grant_types;
    }
    if let Some(audiences) = patch.audiences {
        // Like the scopes' default: a default the new list leaves out gives way to
        // the list's first, unless the patch names a default itself.
        if patch.audience.is_none()
            && registration
                .audience
                .as_ref()
                .is_some_and(|default| !audiences.is_empty() && !audiences.contains(default))
        {
            registration.audience = None;
        }
        registration.audiences = audiences;
    }
    if let Some(audience) = patch.audience {
        registration.audience = audience;
    }
    if let Some(ttl) = duration(patch.access_token_ttl.as_deref(), "access_token_ttl")? {
        registration.access_token_ttl = Some(ttl);
    }
    if let Some(grace) = duration(patch.refresh_reuse_grace.as_deref(), "refresh_reuse_grace")? {
        registration.refresh_reuse_grace = Some(grace);
    }
    if let Some(limit) = who
        .actor(Source::of(&req))
        .cap_rate_limit(patch.rate_limit_per_minute)?
    {
        registration.rate_limit_per_minute = limit;
    }
    if let Some(method) = patch.token_endpoint_auth_method {
        registration.token_endpoint_auth_method = method;
    }
    let now = clock.now().naive_utc();
    let changes = validate(registration, &who, &policy)?.into_changes(now);
    let (source, actor) = (Source::of(&req), who.actor_label());
    let updated = store
        .write(move |c| {
            let updated = repo::update(c, &client, &changes)?;
            if let Some(row) = &updated {
                let change = Change::ClientUpdated {
                    diff: row.changes_from(&client),
                    via: None,
                };
                audit::repo::record(c, row, By::new(&actor, &source), change, now)?;
            }
            Ok::<_, ApiError>(updated)
        })
        .await?
        .ok_or(ApiError::Conflict(
            "the client was disabled or changed meanwhile; read it again and retry",
        ))?;
    tracing::info!(client_id = %updated.id, actor = %who.actor_label(), "client updated");
    Ok(HttpResponse::Ok().json(ClientView::new(&updated, now)))
}

/// POST /v1/clients/{id}/disable — scope `admin`. The secret stops working at once
/// and the client's refresh-token families are revoked. Idempotent.
#[utoipa::path(
    post,
    path = "/v1/clients/{id}/disable",
    tag = "clients",
    responses((status = 200, description = "The disabled client", body = ClientView), crate::openapi::ResolverErrors, crate::openapi::NotFound),
    security(("bearer" = []), ("apiKey" = []))
)]
pub async fn disable_client(
    req: HttpRequest,
    who: Principal,
    clock: web::Data<dyn Clock>,
    store: web::Data<Store>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    who.require(Scope::Admin)?;
    let client = find_own(&who, &store, &id).await?;
    let now = clock.now().naive_utc();
    let (source, actor) = (Source::of(&req), who.actor_label());
    let disabled = store
        .write(move |c| {
            let now_disabled = repo::disable(c, &client.id, now)?;
            let row = repo::find(c, &client.id)?.ok_or(ApiError::NotFound)?;
            if now_disabled {
                let change = Change::ClientDisabled {
                    name: &row.name,
                    via: None,
                };
                audit::repo::record(c, &row, By::new(&actor, &source), change, now)?;
            }
            Ok::<_, ApiError>(row)
        })
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
    responses((status = 200, description = "The client and its new secret, shown this once", body = WithSecret), crate::openapi::ResolverErrors, crate::openapi::NotFound, crate::openapi::Conflict, crate::openapi::JsonBodyErrors),
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
    who.require(Scope::Admin)?;
    let request = body.into_inner();
    let overlap = duration(request.overlap.as_deref(), "overlap")?.unwrap_or_default();
    if overlap > MAX_SECRET_OVERLAP {
        return Err(ApiError::invalid_request(
            "overlap must be at most 30 days",
            Some("overlap"),
        ));
    }
    let client = find_own(&who, &store, &id).await?;
    // The new secret can obtain every scope of the client and inherits its lifetime
    // and rate limit: only for a caller that could have registered it.
    who.actor(Source::of(&req)).may_rotate(
        "client",
        Holdings {
            scopes: &client.allowed_scopes(),
            expires_at: client.secret_expires_at,
            rate_limit: client.rate_limit_per_minute,
        },
    )?;
    let now = clock.now().naive_utc();
    let previous_until = (!overlap.is_zero())
        .then(|| chrono::Duration::from_std(overlap).map(|o| now + o))
        .transpose()
        .map_err(|_| ApiError::invalid_request("overlap is too long", Some("overlap")))?;
    let (source, actor) = (Source::of(&req), who.actor_label());
    let (rotated, secret) = store
        .blocking(move |store| {
            let (secret, stored) = registration::new_secret()?;
            let rotated = store
                .write(|c| {
                    let rotated = repo::rotate_secret(c, &client, &stored, previous_until, now)?;
                    if let Some(row) = &rotated {
                        let change = Change::ClientSecretRotated {
                            previous_secret_expires_at: previous_until,
                        };
                        audit::repo::record(c, row, By::new(&actor, &source), change, now)?;
                    }
                    Ok::<_, ApiError>(rotated)
                })?
                .ok_or(ApiError::Conflict(
                    "the client was disabled or its secret rotated meanwhile",
                ))?;
            Ok::<_, ApiError>((rotated, secret))
        })
        .await?;
    tracing::info!(client_id = %rotated.id, actor = %who.actor_label(), "client secret rotated");
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(with_secret(&rotated, &secret, now)))
}
