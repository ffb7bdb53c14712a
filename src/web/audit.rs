//! The organization's audit log in the dashboard: its events newest first, filtered
//! by type, actor and date range, a page at a time (an "older" link carries the
//! cursor and the filter). The same `audit::repo::list` as `GET /v1/audit-events`
//! and `keygate audit`, for a role that may read the log (`Role::may_read_audit_log`).

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use askama::Template;
use chrono::NaiveDate;
use serde::Deserialize;

use super::handlers::{message, render};
use super::pages::Nav;
use super::session::Member;
use crate::audit::repo::{self, EventFilter};
use crate::audit::{parse_actor, Event, EventType};
use crate::store::{Store, StoreError};
use crate::tokens::TokenKind;

/// Events shown per page.
const EVENTS_PER_PAGE: i64 = 50;

/// The route of `/dashboard/audit`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/dashboard/audit", web::get().to(audit_page));
}

#[derive(Template)]
#[template(path = "audit.html", config = "src/web/askama.toml")]
struct AuditPage<'a> {
    nav: Nav<'a>,
    /// The type select: (wire name, selected).
    types: Vec<(&'static str, bool)>,
    actor: &'a str,
    from: &'a str,
    to: &'a str,
    events: Vec<EventRow>,
    /// The query of the next (older) page, filter included, if there is one.
    older: Option<String>,
    error: Option<&'a str>,
}

/// One event as the page shows it.
struct EventRow {
    at: String,
    event_type: String,
    actor: String,
    /// The actor's email, when the actor is a member.
    person: Option<String>,
    target: String,
    source: String,
    details: String,
}

impl EventRow {
    fn new(e: &Event, people: &std::collections::HashMap<String, String>) -> Self {
        Self {
            at: e
                .created_at
                .and_utc()
                .format("%Y-%m-%d %H:%M:%S UTC")
                .to_string(),
            event_type: e.event_type.clone(),
            actor: e.actor.clone(),
            person: people.get(&e.actor).cloned(),
            target: format!("{} {}", e.target_type, e.target_id),
            source: e.source_ip.clone().unwrap_or_default(),
            details: compact(&e.details),
        }
    }
}

/// An event's details (a JSON object) as `key: value; …` in their order, strings
/// unquoted.
fn compact(details: &str) -> String {
    match serde_json::from_str::<serde_json::Value>(details) {
        Ok(serde_json::Value::Object(map)) => map
            .iter()
            .map(|(k, v)| match v {
                serde_json::Value::String(s) => format!("{k}: {s}"),
                other => format!("{k}: {other}"),
            })
            .collect::<Vec<_>>()
            .join("; "),
        _ => details.to_owned(),
    }
}

#[derive(Deserialize)]
pub(super) struct AuditQuery {
    #[serde(rename = "type")]
    event_type: Option<String>,
    actor: Option<String>,
    /// `YYYY-MM-DD`, inclusive.
    from: Option<String>,
    /// `YYYY-MM-DD`, inclusive (the whole day).
    to: Option<String>,
    /// The last (oldest) event id of the previous page.
    after: Option<String>,
}

/// The filter a query asks for, or why it is refused.
fn filter_of(query: &AuditQuery, member: &Member) -> Result<EventFilter, String> {
    fn nonempty(v: &Option<String>) -> Option<&str> {
        v.as_deref().map(str::trim).filter(|t| !t.is_empty())
    }
    let event_type = nonempty(&query.event_type)
        .map(|t| {
            EventType::parse(t).ok_or_else(|| "Choose an event type from the list.".to_owned())
        })
        .transpose()?;
    let actor = nonempty(&query.actor)
        .map(|a| parse_actor(a).map_err(|e| format!("The actor: {e}.")))
        .transpose()?;
    let date = |text: Option<&str>, what: &str| {
        text.map(|t| {
            NaiveDate::parse_from_str(t, "%Y-%m-%d")
                .map_err(|_| format!("{what} must be a date such as 2026-12-01."))
        })
        .transpose()
    };
    let from = date(nonempty(&query.from), "From")?;
    let to = date(nonempty(&query.to), "To")?;
    if let (Some(from), Some(to)) = (from, to) {
        if from > to {
            return Err("From must not be after To.".to_owned());
        }
    }
    let after = nonempty(&query.after)
        .map(|a| {
            TokenKind::AuditEventId
                .is_id(a)
                .then(|| a.to_owned())
                .ok_or_else(|| "That page link is not one of keygate's.".to_owned())
        })
        .transpose()?;
    Ok(EventFilter {
        org_id: member.session.membership.org_id.clone(),
        event_type,
        actor,
        from: from.and_then(|d| d.and_hms_opt(0, 0, 0)),
        to: to
            .and_then(|d| d.succ_opt())
            .and_then(|d| d.and_hms_opt(0, 0, 0)),
        after,
        newest_first: true,
        limit: EVENTS_PER_PAGE + 1,
    })
}

/// GET /dashboard/audit?type=…&actor=…&from=YYYY-MM-DD&to=YYYY-MM-DD&after=evt_… —
/// the organization's audit events, newest first (owner, admin).
async fn audit_page(
    member: Member,
    store: web::Data<Store>,
    query: web::Query<AuditQuery>,
) -> HttpResponse {
    let role = member.session.membership.role();
    if !role.may_read_audit_log() {
        return message(
            StatusCode::FORBIDDEN,
            "Not for your role",
            "An owner or an admin of the organization reads its audit log.",
            "/",
        );
    }
    let query = query.into_inner();
    let (filter, error) = match filter_of(&query, &member) {
        Ok(filter) => (Some(filter), None),
        Err(error) => (None, Some(error)),
    };
    let org_id = member.session.membership.org_id.clone();
    let (events, people) = match filter.clone() {
        Some(filter) => {
            let listed = store
                .read(move |tx| {
                    let events = repo::list(tx, &filter)?;
                    Ok::<_, StoreError>((events, crate::users::repo::emails_by_label(tx, &org_id)?))
                })
                .await;
            match listed {
                Ok(listed) => listed,
                Err(_) => {
                    return message(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "Try again",
                        "keygate cannot read the audit log right now.",
                        "/dashboard/audit",
                    )
                }
            }
        }
        None => Default::default(),
    };
    let (events, next) = crate::api::split_page(events, EVENTS_PER_PAGE, |e| &e.id);
    let text = |v: &Option<String>| v.as_deref().unwrap_or_default().trim().to_owned();
    let (actor, from, to) = (text(&query.actor), text(&query.from), text(&query.to));
    let chosen = filter.as_ref().and_then(|f| f.event_type);
    let older = next.map(|after| {
        let mut link = url::form_urlencoded::Serializer::new(String::new());
        if let Some(t) = chosen {
            link.append_pair("type", t.as_str());
        }
        for (key, value) in [("actor", &actor), ("from", &from), ("to", &to)] {
            if !value.is_empty() {
                link.append_pair(key, value);
            }
        }
        link.append_pair("after", &after);
        link.finish()
    });
    render(
        if error.is_some() {
            StatusCode::BAD_REQUEST
        } else {
            StatusCode::OK
        },
        AuditPage {
            nav: member.nav("audit"),
            types: EventType::ALL
                .iter()
                .map(|t| (t.as_str(), Some(*t) == chosen))
                .collect(),
            actor: &actor,
            from: &from,
            to: &to,
            events: events.iter().map(|e| EventRow::new(e, &people)).collect(),
            older,
            error: error.as_deref(),
        },
    )
}

#[cfg(test)]
mod tests {
    use super::compact;

    #[test]
    fn details_read_as_compact_text() {
        assert_eq!(
            compact(r#"{"name":"ci","scopes":"read","expires_at":null}"#),
            "name: ci; scopes: read; expires_at: null"
        );
        assert_eq!(compact("not json"), "not json");
    }
}
