use std::collections::BTreeMap;

use actix_web::{web, HttpResponse};
use chrono::{DateTime, DurationRound, Utc};
use serde::Deserialize;

use super::repo;
use crate::api_keys;
use crate::clients;
use crate::clock::Clock;
use crate::error::ApiError;
use crate::identity::{Principal, Scope};
use crate::store::Store;

/// The longest range one request may ask for.
const MAX_RANGE_DAYS: i64 = 31;

#[derive(Deserialize, Clone, Copy, Debug, PartialEq, Eq, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Granularity {
    Minute,
    Hour,
    Day,
}

impl Granularity {
    fn step(self) -> chrono::Duration {
        match self {
            Self::Minute => chrono::Duration::minutes(1),
            Self::Hour => chrono::Duration::hours(1),
            Self::Day => chrono::Duration::days(1),
        }
    }
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct UsageQuery {
    /// The key to report on; name exactly one of `key_id` and `client_id`.
    key_id: Option<String>,
    /// The client to report on.
    client_id: Option<String>,
    /// RFC 3339, inclusive; default 24 hours before `to`.
    from: Option<DateTime<Utc>>,
    /// RFC 3339, exclusive; default now.
    to: Option<DateTime<Utc>>,
    granularity: Option<Granularity>,
}

/// The clock the handlers read; the same one the meter counts with.
pub struct UsageClock(pub std::sync::Arc<dyn Clock>);

/// GET /v1/usage?key_id=…|client_id=…&from=…&to=…&granularity=minute|hour|day — scope
/// `admin`. Requests of one key or client of the caller's organization, per period
/// and status class. Counts reach the database every `usage_flush_interval`.
#[utoipa::path(
    get,
    path = "/v1/usage",
    tag = "usage",
    params(UsageQuery),
    responses(
        (status = 200, description = "Requests per period and status class", body = UsageReport),
        crate::openapi::ResolverErrors,
        crate::openapi::NotFound,
    ),
    security(("bearer" = []), ("apiKey" = []))
)]
pub async fn get_usage(
    who: Principal,
    clock: web::Data<UsageClock>,
    store: web::Data<Store>,
    query: web::Query<UsageQuery>,
) -> Result<HttpResponse, ApiError> {
    who.require(Scope::Admin)?;
    let query = query.into_inner();
    let subject = match (query.key_id, query.client_id) {
        (Some(key), None) => Subject::Key(key),
        (None, Some(client)) => Subject::Client(client),
        _ => {
            return Err(ApiError::invalid_request(
                "name exactly one of key_id and client_id",
                Some("key_id"),
            ))
        }
    };
    let granularity = query.granularity.unwrap_or(Granularity::Hour);
    let to = query.to.unwrap_or_else(|| clock.0.now());
    let from = query.from.unwrap_or(to - chrono::Duration::hours(24));
    if from >= to || to - from > chrono::Duration::days(MAX_RANGE_DAYS) {
        return Err(ApiError::invalid_request(
            format!("from must be before to, at most {MAX_RANGE_DAYS} days apart"),
            Some("from"),
        ));
    }
    let org = who.org().to_owned();
    let subject_id = subject.id().to_owned();
    let rows = store
        .run(move |c| {
            // Another organization's key or client does not exist for the caller.
            let own = match &subject {
                Subject::Key(id) => {
                    api_keys::model::is_key_id(id) && api_keys::repo::find(c, &org, id)?.is_some()
                }
                Subject::Client(id) => clients::repo::find_in_org(c, &org, id)?.is_some(),
            };
            if !own {
                return Err(ApiError::NotFound);
            }
            Ok(repo::minutes(
                c,
                &org,
                subject.id(),
                from.naive_utc(),
                to.naive_utc(),
            )?)
        })
        .await?;
    let mut buckets: BTreeMap<DateTime<Utc>, BTreeMap<String, i64>> = BTreeMap::new();
    for (minute, class, requests) in rows {
        let start = minute
            .and_utc()
            .duration_trunc(granularity.step())
            .unwrap_or(minute.and_utc());
        *buckets.entry(start).or_default().entry(class).or_default() += requests;
    }
    let data: Vec<serde_json::Value> = buckets
        .into_iter()
        .map(|(start, by_status)| {
            serde_json::json!({
                "start": start,
                "requests": by_status.values().sum::<i64>(),
                "by_status": by_status,
            })
        })
        .collect();
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "subject_id": subject_id,
        "granularity": granularity_name(granularity),
        "from": from,
        "to": to,
        "data": data,
    })))
}

fn granularity_name(g: Granularity) -> &'static str {
    match g {
        Granularity::Minute => "minute",
        Granularity::Hour => "hour",
        Granularity::Day => "day",
    }
}

enum Subject {
    Key(String),
    Client(String),
}

impl Subject {
    fn id(&self) -> &str {
        match self {
            Self::Key(id) | Self::Client(id) => id,
        }
    }
}

/// `GET /v1/usage`'s body, as the handler writes it.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)] // the schema of a `json!` body
pub struct UsageReport {
    subject_id: String,
    granularity: Granularity,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    data: Vec<UsageBucket>,
}

#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct UsageBucket {
    start: DateTime<Utc>,
    requests: i64,
    /// Requests by status class (`2xx`, `4xx`, …).
    by_status: BTreeMap<String, i64>,
}
