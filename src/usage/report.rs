//! Usage reports, for `GET /v1/usage` and `keygate usage`: one organization's
//! requests and token requests per period, with its busiest keys and clients, or
//! those of one key or client of it.

use std::collections::BTreeMap;

use chrono::{DateTime, DurationRound, Utc};
use serde::Deserialize;
use serde_json::{json, Value};

use super::repo;
use crate::api_keys;
use crate::clients;
use crate::ids::{ApiKeyId, ClientId, OrgId};
use crate::store::{DbConn, StoreError};

/// How many of the busiest keys and clients the organization view lists.
const TOP_SUBJECTS: usize = 10;

#[derive(Deserialize, Clone, Copy, Debug, PartialEq, Eq, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Granularity {
    Minute,
    Hour,
    Day,
}

impl Granularity {
    pub fn step(self) -> chrono::Duration {
        match self {
            Self::Minute => chrono::Duration::minutes(1),
            Self::Hour => chrono::Duration::hours(1),
            Self::Day => chrono::Duration::days(1),
        }
    }

    /// The start of the period `at` falls in (UTC).
    pub fn start_of(self, at: DateTime<Utc>) -> DateTime<Utc> {
        at.duration_trunc(self.step()).unwrap_or(at)
    }
}

/// Whose usage: one key or one client.
pub enum Subject {
    Key(ApiKeyId),
    Client(ClientId),
}

impl Subject {
    fn id(&self) -> &str {
        match self {
            Self::Key(id) => id.as_str(),
            Self::Client(id) => id.as_str(),
        }
    }
}

/// The periods a report covers.
#[derive(Clone, Copy, Debug)]
pub struct Window {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub granularity: Granularity,
}

/// The organization's usage, with its busiest keys and clients, busiest first.
pub fn of_org(conn: &mut DbConn, org_id: &OrgId, window: &Window) -> Result<Value, StoreError> {
    let data = org_periods(conn, org_id, window)?;
    let (from, to) = (window.from.naive_utc(), window.to.naive_utc());
    let top = repo::top_subjects(conn, org_id, from, to, TOP_SUBJECTS)?;
    Ok(json!({
        "org_id": org_id,
        "granularity": granularity_name(window.granularity),
        "from": window.from,
        "to": window.to,
        "data": data.into_iter().map(period_json).collect::<Vec<_>>(),
        "top": top.into_iter().map(busy).collect::<Vec<_>>(),
    }))
}

/// The usage of one key or client of the organization; `None` if it has none such.
pub fn of_subject(
    conn: &mut DbConn,
    org_id: &OrgId,
    subject: &Subject,
    window: &Window,
) -> Result<Option<Value>, StoreError> {
    let Some(data) = subject_periods(conn, org_id, subject, window)? else {
        return Ok(None);
    };
    Ok(Some(json!({
        "subject_id": subject.id(),
        "granularity": granularity_name(window.granularity),
        "from": window.from,
        "to": window.to,
        "data": data.into_iter().map(period_json).collect::<Vec<_>>(),
    })))
}

/// One period of a report: its requests by status class and its token requests by
/// outcome (`counts::ISSUED` or a refusal's reason).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Period {
    pub start: DateTime<Utc>,
    pub by_status: BTreeMap<String, i64>,
    pub token_outcomes: BTreeMap<String, i64>,
}

impl Period {
    pub fn requests(&self) -> i64 {
        self.by_status.values().sum()
    }
}

/// The organization's periods in `window`, one for each period with any count.
pub fn org_periods(
    conn: &mut DbConn,
    org_id: &OrgId,
    window: &Window,
) -> Result<Vec<Period>, StoreError> {
    let (from, to) = (window.from.naive_utc(), window.to.naive_utc());
    let totals = repo::org_minutes(conn, org_id, from, to)?;
    let tokens = repo::org_token_minutes(conn, org_id, from, to)?;
    Ok(periods(totals, tokens, window.granularity))
}

/// The periods of one key or client of the organization; `None` if it has none such.
pub fn subject_periods(
    conn: &mut DbConn,
    org_id: &OrgId,
    subject: &Subject,
    window: &Window,
) -> Result<Option<Vec<Period>>, StoreError> {
    let own = match subject {
        Subject::Key(id) => {
            api_keys::model::is_key_id(id.as_str())
                && api_keys::repo::find_in_org(conn, org_id, id)?.is_some()
        }
        Subject::Client(id) => clients::repo::find_in_org(conn, org_id, id)?.is_some(),
    };
    if !own {
        return Ok(None);
    }
    let (from, to) = (window.from.naive_utc(), window.to.naive_utc());
    let rows = repo::minutes(conn, org_id, subject.id(), from, to)?;
    let tokens = match subject {
        Subject::Key(_) => Vec::new(),
        Subject::Client(id) => repo::token_minutes(conn, org_id, id, from, to)?,
    };
    Ok(Some(periods(rows, tokens, window.granularity)))
}

/// Per-minute request counts (by status class) and token counts (by outcome) as
/// periods of `granularity`, one for each period with either.
fn periods(
    requests: Vec<(chrono::NaiveDateTime, String, i64)>,
    tokens: Vec<(chrono::NaiveDateTime, String, i64)>,
    granularity: Granularity,
) -> Vec<Period> {
    let mut buckets: BTreeMap<DateTime<Utc>, Period> = BTreeMap::new();
    fn period(buckets: &mut BTreeMap<DateTime<Utc>, Period>, start: DateTime<Utc>) -> &mut Period {
        buckets.entry(start).or_insert_with(|| Period {
            start,
            ..Period::default()
        })
    }
    let start = |minute: chrono::NaiveDateTime| granularity.start_of(minute.and_utc());
    for (minute, class, n) in requests {
        *period(&mut buckets, start(minute))
            .by_status
            .entry(class)
            .or_default() += n;
    }
    for (minute, outcome, n) in tokens {
        *period(&mut buckets, start(minute))
            .token_outcomes
            .entry(outcome)
            .or_default() += n;
    }
    buckets.into_values().collect()
}

/// A period as `{start, requests, by_status, tokens}`.
fn period_json(period: Period) -> Value {
    json!({
        "start": period.start,
        "requests": period.requests(),
        "by_status": period.by_status,
        "tokens": token_summary(period.token_outcomes),
    })
}

/// Token requests by outcome as `{issued, refused, refused_by_reason}`.
fn token_summary(mut by_outcome: BTreeMap<String, i64>) -> Value {
    let issued = by_outcome.remove(super::counts::ISSUED).unwrap_or(0);
    json!({
        "issued": issued,
        "refused": by_outcome.values().sum::<i64>(),
        "refused_by_reason": by_outcome,
    })
}

/// One of the busiest, as `{subject_id, kind, requests, by_status, tokens}`.
fn busy(subject: repo::Busy) -> Value {
    let kind = if crate::tokens::TokenKind::ClientId.has_prefix(&subject.subject_id) {
        "client"
    } else {
        "api_key"
    };
    let by_status: BTreeMap<String, i64> = subject.by_status.into_iter().collect();
    json!({
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
