//! `GET /v1/audit-events`: the caller's organization's events (scope `admin`).

use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::model::EventType;
use super::repo::{self, EventFilter};
use super::view::EventView;
use crate::error::ApiError;
use crate::identity::Principal;
use crate::scope::Scope;
use crate::store::Store;
use crate::tokens::TokenKind;

const DEFAULT_PAGE: i64 = 50;
const MAX_PAGE: i64 = 200;

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// e.g. `api_key.revoked`.
    #[serde(rename = "type")]
    #[param(value_type = Option<EventType>)]
    event_type: Option<String>,
    /// The exact actor label, e.g. `user:usr_…`, `key:key_…` or `cli` (1 to 100
    /// letters, digits or `_ : . - @`).
    #[param(max_length = 100, pattern = "^[A-Za-z0-9_:.@-]{1,100}$")]
    actor: Option<String>,
    /// RFC 3339, inclusive.
    from: Option<DateTime<Utc>>,
    /// RFC 3339, exclusive.
    to: Option<DateTime<Utc>>,
    /// Page size, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    limit: Option<i64>,
    /// The last id of the previous page (`next_cursor`).
    #[param(pattern = "^evt_[0-9a-fA-F]{32}$")]
    after: Option<String>,
}

/// The route of `/v1/audit-events`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(crate::routes::Endpoint::new("/v1/audit-events").get(list_audit_events));
}

/// GET /v1/audit-events?type=…&actor=…&from=…&to=…&limit=50&after=evt_… — scope `admin`.
/// The caller's organization's events, oldest first; `next_cursor` is the next page's
/// `after`.
#[utoipa::path(
    get,
    path = "/v1/audit-events",
    tag = "usage",
    params(ListQuery),
    responses(
        (status = 200, description = "A page of the organization's audit events", body = crate::api::Page<EventView>),
        crate::openapi::responses::ResolverErrors,
    ),
    security(("bearer" = []), ("apiKey" = []))
)]
pub async fn list_audit_events(
    who: Principal,
    store: web::Data<Store>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    who.require(Scope::Admin)?;
    let query = query.into_inner();
    let event_type = query
        .event_type
        .as_deref()
        .map(|t| {
            EventType::parse(t).ok_or_else(|| {
                ApiError::invalid_request(format!("unknown event type '{t}'"), Some("type"))
            })
        })
        .transpose()?;
    let actor = query
        .actor
        .as_deref()
        .map(|a| {
            super::parse_actor(a)
                .map_err(|e| ApiError::invalid_request(e.to_string(), Some("actor")))
        })
        .transpose()?;
    let limit = crate::api::page_limit(query.limit, DEFAULT_PAGE, MAX_PAGE)?;
    crate::api::check_cursor(
        query.after.as_deref(),
        TokenKind::AuditEventId,
        "an event id",
    )?;
    let filter = EventFilter {
        org_id: who.org().to_owned(),
        event_type,
        actor,
        from: query.from.map(|t| t.naive_utc()),
        to: query.to.map(|t| t.naive_utc()),
        after: query.after,
        newest_first: false,
        limit: limit + 1,
    };
    let events = store
        .read(move |c| repo::list(c, &filter).map_err(ApiError::from))
        .await?;
    let (events, next_cursor) = crate::api::split_page(events, limit, |r| &r.id);
    let data: Vec<_> = events.iter().map(EventView::from).collect();
    Ok(crate::api::page_response(data, next_cursor))
}
