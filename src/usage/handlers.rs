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

/// How many of the busiest keys and clients the organization view lists.
const TOP_SUBJECTS: usize = 10;

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
        crate::openapi::ResolverErrors,
        crate::openapi::NotFound,
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
        (Some(key), None) => Some(Subject::Key(key)),
        (None, Some(client)) => Some(Subject::Client(client)),
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
    let org = who.org().to_owned();
    let range = (from.naive_utc(), to.naive_utc());
    let Some(subject) = subject else {
        let org_id = org.clone();
        let (totals, tokens, top) = store
            .read(move |c| {
                let totals = repo::org_minutes(c, &org_id, range.0, range.1)?;
                let tokens = repo::org_token_minutes(c, &org_id, range.0, range.1)?;
                let top = repo::top_subjects(c, &org_id, range.0, range.1, TOP_SUBJECTS)?;
                Ok::<_, ApiError>((totals, tokens, top))
            })
            .await?;
        return Ok(HttpResponse::Ok().json(serde_json::json!({
            "org_id": org,
            "granularity": granularity_name(granularity),
            "from": from,
            "to": to,
            "data": periods(totals, tokens, granularity),
            "top": top.into_iter().map(busy).collect::<Vec<_>>(),
        })));
    };
    let subject_id = subject.id().to_owned();
    let (rows, tokens) = store
        .read(move |c| {
            // Another organization's key or client does not exist for the caller.
            let own = match &subject {
                Subject::Key(id) => {
                    api_keys::model::is_key_id(id)
                        && api_keys::repo::find_in_org(c, &org, id)?.is_some()
                }
                Subject::Client(id) => clients::repo::find_in_org(c, &org, id)?.is_some(),
            };
            if !own {
                return Err(ApiError::NotFound);
            }
            let rows = repo::minutes(c, &org, subject.id(), range.0, range.1)?;
            let tokens = match &subject {
                Subject::Key(_) => Vec::new(),
                Subject::Client(id) => repo::token_minutes(c, &org, id, range.0, range.1)?,
            };
            Ok((rows, tokens))
        })
        .await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "subject_id": subject_id,
        "granularity": granularity_name(granularity),
        "from": from,
        "to": to,
        "data": periods(rows, tokens, granularity),
    })))
}

/// Per-minute request counts (by status class) and token counts (by outcome) as
/// periods of `granularity`: `{start, requests, by_status, tokens}`, one for each
/// period with either.
fn periods(
    requests: Vec<(chrono::NaiveDateTime, String, i64)>,
    tokens: Vec<(chrono::NaiveDateTime, String, i64)>,
    granularity: Granularity,
) -> Vec<serde_json::Value> {
    type Counts = BTreeMap<String, i64>;
    let mut buckets: BTreeMap<DateTime<Utc>, (Counts, Counts)> = BTreeMap::new();
    let start = |minute: chrono::NaiveDateTime| {
        minute
            .and_utc()
            .duration_trunc(granularity.step())
            .unwrap_or(minute.and_utc())
    };
    for (minute, class, n) in requests {
        let (by_status, _) = buckets.entry(start(minute)).or_default();
        *by_status.entry(class).or_default() += n;
    }
    for (minute, outcome, n) in tokens {
        let (_, by_outcome) = buckets.entry(start(minute)).or_default();
        *by_outcome.entry(outcome).or_default() += n;
    }
    buckets
        .into_iter()
        .map(|(start, (by_status, by_outcome))| {
            serde_json::json!({
                "start": start,
                "requests": by_status.values().sum::<i64>(),
                "by_status": by_status,
                "tokens": token_summary(by_outcome),
            })
        })
        .collect()
}

/// Token requests by outcome as `{issued, refused, refused_by_reason}`.
fn token_summary(mut by_outcome: BTreeMap<String, i64>) -> serde_json::Value {
    let issued = by_outcome.remove(super::ISSUED).unwrap_or(0);
    serde_json::json!({
        "issued": issued,
        "refused": by_outcome.values().sum::<i64>(),
        "refused_by_reason": by_outcome,
    })
}

/// One of the busiest, as `{subject_id, kind, requests, by_status, tokens}`.
fn busy(subject: repo::Busy) -> serde_json::Value {
    let kind = if crate::tokens::TokenKind::ClientId.has_prefix(&subject.subject_id) {
        "client"
    } else {
        "api_key"
    };
    let by_status: BTreeMap<String, i64> = subject.by_status.into_iter().collect();
    serde_json::json!({
        "subject_id": subject.subject_id,
        "kind": kind,
        "requests": by_status.values().sum::<i64>(),
        "by_status": by_status,
        "tokens": token_summary(subject.token_outcomes.into_iter().collect()),
    })
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
