//! The dashboard's first page, `/dashboard`: the organization's requests and token
//! requests over the last 24 hours or 7 days (charts), what was refused and why, the
//! keys and application secrets that stop working within 7 days, and — for a role
//! that reads the audit log — the latest events. Read only; one read of the store.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use askama::Template;
use chrono::NaiveDateTime;
use serde::Deserialize;

use super::chart::{self, Chart, Range};
use super::handlers::{message, render};
use super::pages::Nav;
use super::session::Member;
use crate::audit::model::Event;
use crate::clock::Clock;
use crate::store::{Store, StoreError};
use crate::usage::report::{self, Period};

/// How far ahead the page looks for what expires, and how many of each it lists.
const EXPIRING_WITHIN_DAYS: i64 = 7;
const EXPIRING_SHOWN: i64 = 20;
const LATEST_EVENTS: i64 = 10;

#[derive(Deserialize)]
pub(super) struct OverviewQuery {
    range: Option<String>,
}

#[derive(Template)]
#[template(path = "overview.html", config = "src/web/askama.toml")]
struct Overview<'a> {
    nav: Nav<'a>,
    week: bool,
    requests: Chart,
    tokens: Chart,
    /// (what, count), most first.
    refusals: Vec<(String, i64)>,
    expiring_keys: Vec<Expiring>,
    expiring_secrets: Vec<Expiring>,
    /// `None` for a role that does not read the audit log.
    latest: Option<Vec<EventRow>>,
}

/// A key or an application secret that stops working soon.
struct Expiring {
    name: String,
    link: String,
    at: String,
}

struct EventRow {
    at: String,
    event_type: String,
    actor: String,
    target: String,
}

/// What one read of the store gives the page.
struct Figures {
    periods: Vec<Period>,
    expiring_keys: Vec<crate::api_keys::ApiKey>,
    expiring_secrets: Vec<crate::clients::Client>,
    latest: Option<Vec<Event>>,
    /// The organization's members' emails by their actor label (`user:usr_…`), so
    /// the events name people as people.
    people: std::collections::HashMap<String, String>,
}

/// GET /dashboard[?range=24h|7d]
pub(super) async fn overview_page(
    member: Member,
    store: web::Data<Store>,
    clock: web::Data<dyn Clock>,
    query: web::Query<OverviewQuery>,
) -> HttpResponse {
    let Some(range) = Range::parse(query.range.as_deref()) else {
        return message(
            StatusCode::BAD_REQUEST,
            "No such range",
            "The overview shows the last 24 hours (24h) or the last 7 days (7d).",
            "/dashboard",
        );
    };
    let now = clock.now();
    let window = range.window(now);
    let role = member.session.membership.role();
    let org_id = member.session.membership.org_id.clone();
    let reads_audit_log = role.may_read_audit_log();
    let figures = store
        .read(move |tx| {
            let soon = now.naive_utc() + chrono::Duration::days(EXPIRING_WITHIN_DAYS);
            let now = now.naive_utc();
            Ok::<_, StoreError>(Figures {
                periods: report::org_periods(tx, &org_id, &window)?,
                expiring_keys: crate::api_keys::repo::expiring(
                    tx,
                    &org_id,
                    now,
                    soon,
                    EXPIRING_SHOWN,
                )?,
                expiring_secrets: crate::clients::repo::secrets_expiring(
                    tx,
                    &org_id,
                    now,
                    soon,
                    EXPIRING_SHOWN,
                )?,
                latest: if reads_audit_log {
                    Some(crate::audit::repo::list(
                        tx,
                        &crate::audit::repo::EventFilter {
                            newest_first: true,
                            ..crate::audit::repo::EventFilter::of_org(org_id.clone(), LATEST_EVENTS)
                        },
                    )?)
                } else {
                    None
                },
                people: crate::users::repo::emails_by_label(tx, &org_id)?,
            })
        })
        .await;
    let Ok(Figures {
        periods,
        expiring_keys,
        expiring_secrets,
        latest,
        people,
    }) = figures
    else {
        return message(
            StatusCode::SERVICE_UNAVAILABLE,
            "Try again",
            "keygate cannot read the organization's figures right now.",
            "/dashboard",
        );
    };
    render(
        StatusCode::OK,
        Overview {
            nav: member.nav("overview"),
            week: range == Range::Week,
            requests: Chart::new(
                "requests",
                "API requests",
                &periods,
                &window,
                &chart::REQUESTS,
            ),
            tokens: Chart::new(
                "tokens",
                "Token requests",
                &periods,
                &window,
                &chart::TOKENS,
            ),
            refusals: refusals(&periods),
            expiring_keys: expiring_keys
                .iter()
                .map(|key| Expiring {
                    name: key.name.clone(),
                    link: format!("/dashboard/keys/{}", key.id),
                    at: shown(key.expires_at),
                })
                .collect(),
            expiring_secrets: expiring_secrets
                .iter()
                .map(|client| Expiring {
                    name: client.name.clone(),
                    link: format!("/dashboard/apps/{}", client.id),
                    at: shown(client.secret_expires_at),
                })
                .collect(),
            latest: latest.map(|events| {
                events
                    .into_iter()
                    .map(|event| EventRow {
                        at: shown(Some(event.created_at)),
                        event_type: event.event_type,
                        actor: people.get(&event.actor).cloned().unwrap_or(event.actor),
                        target: event.target_id,
                    })
                    .collect()
            }),
        },
    )
}

/// What was refused over the range, most first: API requests by status class, token
/// requests by the refusal's error code.
fn refusals(periods: &[Period]) -> Vec<(String, i64)> {
    let mut counts: std::collections::BTreeMap<String, i64> = Default::default();
    for period in periods {
        for (class, n) in &period.by_status {
            let what = match class.as_str() {
                "4xx" => "API requests refused (4xx)",
                "5xx" => "API requests failed (5xx)",
                _ => continue,
            };
            *counts.entry(what.to_owned()).or_default() += n;
        }
        for (outcome, n) in &period.token_outcomes {
            if outcome != crate::usage::counts::ISSUED {
                *counts
                    .entry(format!("tokens refused: {outcome}"))
                    .or_default() += n;
            }
        }
    }
    let mut refusals: Vec<_> = counts.into_iter().filter(|(_, n)| *n > 0).collect();
    refusals.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    refusals
}

fn shown(at: Option<NaiveDateTime>) -> String {
    at.map_or_else(String::new, |at| {
        at.and_utc().format("%Y-%m-%d %H:%M UTC").to_string()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_are_counted_by_reason_most_first() {
        let mut a = Period::default();
        a.by_status.insert("2xx".into(), 50);
        a.by_status.insert("4xx".into(), 3);
        a.token_outcomes.insert("issued".into(), 9);
        a.token_outcomes.insert("invalid_client".into(), 5);
        let mut b = Period::default();
        b.by_status.insert("4xx".into(), 4);
        b.token_outcomes.insert("invalid_scope".into(), 1);
        assert_eq!(
            refusals(&[a, b]),
            [
                ("API requests refused (4xx)".to_owned(), 7),
                ("tokens refused: invalid_client".to_owned(), 5),
                ("tokens refused: invalid_scope".to_owned(), 1),
            ]
        );
    }
}
