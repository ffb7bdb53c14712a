//! `keygate usage` and `keygate audit`: what `GET /v1/usage` and
//! `GET /v1/audit-events` show, for the operator, of any organization by its slug.

use anyhow::Context;
use chrono::{DateTime, Utc};
use clap::Args;

use super::args::org_id_of;
use crate::audit::repo::EventFilter;
use crate::audit::view::EventView;
use crate::audit::EventType;
use crate::config::Settings;
use crate::startup::open_store;
use crate::usage::report::{self, Granularity, Subject, Window};

/// The longest window a usage report covers, as `GET /v1/usage`.
const MAX_RANGE_DAYS: i64 = 31;
/// The most audit events one call prints.
const MAX_EVENTS: i64 = 10_000;

#[derive(Args)]
pub struct UsageArgs {
    /// Organization slug.
    #[arg(long, default_value = crate::orgs::DEFAULT_ORG_SLUG)]
    org: String,
    /// One API key's usage (default: the organization's, with its busiest).
    #[arg(long, conflicts_with = "client")]
    key: Option<String>,
    /// One client's usage.
    #[arg(long)]
    client: Option<String>,
    /// RFC 3339 (default: 24 hours before --to).
    #[arg(long)]
    from: Option<DateTime<Utc>>,
    /// RFC 3339 (default: now).
    #[arg(long)]
    to: Option<DateTime<Utc>>,
    /// minute, hour (default) or day.
    #[arg(long, default_value = "hour", value_parser = parse_granularity)]
    granularity: Granularity,
}

#[derive(Args)]
pub struct AuditArgs {
    /// Organization slug.
    #[arg(long, default_value = crate::orgs::DEFAULT_ORG_SLUG)]
    org: String,
    /// An event type, e.g. api_key.revoked.
    #[arg(long = "type", value_parser = parse_event_type)]
    event_type: Option<EventType>,
    /// An actor's exact label, e.g. user:usr_…, key:key_… or cli.
    #[arg(long, value_parser = parse_actor)]
    actor: Option<String>,
    /// RFC 3339, inclusive.
    #[arg(long)]
    from: Option<DateTime<Utc>>,
    /// RFC 3339, exclusive.
    #[arg(long)]
    to: Option<DateTime<Utc>>,
    /// At most this many events, oldest first (1 to 10000).
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(i64).range(1..=MAX_EVENTS))]
    limit: i64,
}

pub(super) async fn usage(
    args: UsageArgs,
    settings: Settings,
) -> anyhow::Result<serde_json::Value> {
    let to = args.to.unwrap_or_else(Utc::now);
    let from = args.from.unwrap_or(to - chrono::Duration::hours(24));
    anyhow::ensure!(
        from < to && to - from <= chrono::Duration::days(MAX_RANGE_DAYS),
        "--from must be before --to, at most {MAX_RANGE_DAYS} days apart"
    );
    let window = Window {
        from,
        to,
        granularity: args.granularity,
    };
    let subject = match (args.key, args.client) {
        (Some(key), _) => Some(Subject::Key(key.into())),
        (None, Some(client)) => Some(Subject::Client(client.into())),
        (None, None) => None,
    };
    let store = open_store(&settings)?;
    let org = args.org;
    store
        .read(move |tx| -> anyhow::Result<_> {
            let org_id = org_id_of(tx, &org)?;
            match subject {
                None => Ok(report::of_org(tx, &org_id, &window)?),
                Some(subject) => report::of_subject(tx, &org_id, &subject, &window)?
                    .with_context(|| format!("organization '{org}' has no such key or client")),
            }
        })
        .await
}

pub(super) async fn audit(
    args: AuditArgs,
    settings: Settings,
) -> anyhow::Result<serde_json::Value> {
    let store = open_store(&settings)?;
    let org = args.org;
    store
        .read(move |tx| -> anyhow::Result<_> {
            let filter = EventFilter {
                org_id: org_id_of(tx, &org)?,
                event_type: args.event_type,
                actor: args.actor,
                from: args.from.map(|t| t.naive_utc()),
                to: args.to.map(|t| t.naive_utc()),
                after: None,
                newest_first: false,
                limit: args.limit,
            };
            let events = crate::audit::repo::list(tx, &filter)?;
            Ok(serde_json::to_value(
                events.iter().map(EventView::from).collect::<Vec<_>>(),
            )?)
        })
        .await
}

fn parse_granularity(text: &str) -> Result<Granularity, String> {
    match text {
        "minute" => Ok(Granularity::Minute),
        "hour" => Ok(Granularity::Hour),
        "day" => Ok(Granularity::Day),
        _ => Err("use minute, hour or day".to_owned()),
    }
}

fn parse_actor(text: &str) -> Result<String, String> {
    crate::audit::parse_actor(text).map_err(|e| e.to_string())
}

fn parse_event_type(text: &str) -> Result<EventType, String> {
    EventType::parse(text).ok_or_else(|| {
        let known: Vec<_> = EventType::ALL.iter().map(|t| t.as_str()).collect();
        format!("unknown event type; known: {}", known.join(", "))
    })
}
