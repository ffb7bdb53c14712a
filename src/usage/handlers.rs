use std::collections::BTreeMap;

use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::report::{self, Granularity, Subject, Window};
use crate::clock::Clock;
use crate::error::ApiError;
use crate::identity::Principal;
use crate::scope::Scope;
use crate::store::Store;

/// The longest range one request may ask for.
const MAX_RANGE_DAYS: i64 = 31;

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct UsageQuery {
    /// The key to report on; name at most one of `key_id` and `client_id` (neither:
    /// the organization's totals and busiest credentials).
    key_id: Option<String>,
    /// The client to report on.
    client_id: Option<String>,
    /// RFC 3339, inclusive; default 24 hours before `to`.
    from: Option<DateTime<Utc>>,
    /// RFC 3339, exclusive; default now.
    to: Option<DateTime<Utc>>,
    granularity: Option<Granularity>,
}

/// The route of `/v1/usage`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(crate::routes::Endpoint::new("/v1/usage").get(get_usage));
}

/// GET /v1/usage?[key_id=…|client_id=…]&from=…&to=…&granularity=minute|hour|day —
/// scope `admin`. With a key or client of the caller's organization: its requests per
/// period and status class, and (a client's) its token requests per period, issued
/// and refused by reason. With neither: the organization's totals per period, and its
/// busiest keys and clients over the range (`top`). Counts reach the database every
/// `usage_flush_interval`.

#[utoipa::path(
    get,
    path = "/v1/usage",
    tag = "usage",
    params(UsageQuery),
    responses(
        (status = 200, description = "Requests per period and status class, and token requests per outcome, of one key or client or of the organization", body = UsageReport),
        crate::openapi::responses::ResolverErrors,
        crate::openapi::responses::NotFound,
    ),
    security(("bearer" = []), ("apiKey" = []))
)]
pub async fn get_usage(
    who: Principal,
    clock: web::Data<dyn Clock>,
    store: web::Data<Store>,
    query: web::Query<UsageQuery>,
) -> Result<HttpResponse, ApiError> {
    who.require(Scope::Admin)?;
    let query = query.into_inner();
    let subject = match (query.key_id, query.client_id) {
        (Some(key), None) => Some(Subject::Key(key.into())),
        (None, Some(client)) => Some(Subject::Client(client.into())),
        (None, None) => None,
        (Some(_), Some(_)) => {
            return Err(ApiError::invalid_request(
                "name at most one of key_id and client_id",
                Some("key_id"),
            ))
        }
    };
    let granularity = query.granularity.unwrap_or(Granularity::Hour);
    let to = query.to.unwrap_or_else(|| clock.now());
    let from = query.from.unwrap_or(to - chrono::Duration::hours(24));
    if from >= to || to - from > chrono::Duration::days(MAX_RANGE_DAYS) {
        return Err(ApiError::invalid_request(
            format!("from must be before to, at most {MAX_RANGE_DAYS} days apart"),
            Some("from"),
        ));
    }
    let window = Window {
        from,
        to,
        granularity,
    };
    let org = who.org().to_owned();
    let report = store
        .read(move |c| match subject {
            None => report::of_org(c, &org, &window).map_err(ApiError::from),
            Some(subject) => report::of_subject(c, &org, &subject, &window)?
                // Another organization's key or client does not exist for the caller.
                .ok_or(ApiError::NotFound),
        })
        .await?;
    Ok(HttpResponse::Ok().json(report))
}

/// `GET /v1/usage`'s body, as the handler writes it.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)] // the schema of a `json!` body
pub struct UsageReport {
    /// The key or client asked for; absent in the organization view.
    subject_id: Option<String>,
    /// The organization view only: the caller's organization.
    org_id: Option<String>,
    granularity: Granularity,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    data: Vec<UsageBucket>,
    /// The organization view only: its busiest keys and clients, busiest first.
    top: Option<Vec<UsageSubject>>,
}

#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct UsageSubject {
    subject_id: String,
    /// `api_key` or `client`.
    kind: String,
    requests: i64,
    /// Requests by status class (`2xx`, `4xx`, …).
    by_status: BTreeMap<String, i64>,
    /// Its token-endpoint requests (a key's are all zero).
    tokens: TokenUsage,
}

#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct UsageBucket {
    start: DateTime<Utc>,
    /// Requests to keygate's API made with the credential(s).
    requests: i64,
    /// Requests by status class (`2xx`, `4xx`, …).
    by_status: BTreeMap<String, i64>,
    /// Token-endpoint requests naming the client(s).
    tokens: TokenUsage,
}

/// Token-endpoint requests that named a client (as `client_id`, Basic or in the
/// body), by outcome. Requests refused before they name one well-formed (an
/// unreadable body, say) are counted only in `/metrics`.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct TokenUsage {
    /// Access tokens issued.
    issued: i64,
    /// Token requests refused, all reasons.
    refused: i64,
    /// Refusals by error code: `invalid_client`, `invalid_scope`, `invalid_target`,
    /// `invalid_grant`, `unauthorized_client`, `rate_limit_exceeded`, …
    refused_by_reason: BTreeMap<String, i64>,
}
