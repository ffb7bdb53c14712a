use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::model::{Audited, Event, EventRow, EventType, NewEvent, Source};
use crate::store::schema::audit_events;
use crate::store::DbConn;
use crate::tokens::TokenKind;

pub fn record(conn: &mut DbConn, event: NewEvent<'_>, now: NaiveDateTime) -> QueryResult<()> {
    let id = TokenKind::AuditEventId.with_suffix(uuid::Uuid::now_v7().simple());
    let details = event.details.to_string();
    diesel::insert_into(audit_events::table)
        .values(EventRow {
            id: &id,
            org_id: event.org_id,
            event_type: event.event_type.as_str(),
            actor: event.actor,
            target_type: event.event_type.target_type(),
            target_id: event.target_id,
            source_ip: event.source.0.as_deref(),
            details: &details,
            created_at: now,
        })
        .execute(conn)
        .map(|_| ())
}

/// Records an event about `target` — its organization, its id — on the connection
/// (and in the transaction) of the change it describes.
pub fn record_about(
    conn: &mut DbConn,
    target: &impl Audited,
    event_type: EventType,
    actor: &str,
    source: &Source,
    details: serde_json::Value,
    now: NaiveDateTime,
) -> QueryResult<()> {
    record(
        conn,
        NewEvent {
            org_id: target.org_id(),
            event_type,
            actor,
            target_id: target.audited_id(),
            source,
            details,
        },
        now,
    )
}

/// What to list: one organization's events, optionally of one type and within a time
/// range, oldest first after the id `after`.
#[derive(Clone, Debug)]
pub struct EventFilter {
    pub org_id: String,
    pub event_type: Option<EventType>,
    pub from: Option<NaiveDateTime>,
    pub to: Option<NaiveDateTime>,
    pub after: Option<String>,
    pub limit: i64,
}

pub fn list(conn: &mut DbConn, filter: &EventFilter) -> QueryResult<Vec<Event>> {
    let mut query = audit_events::table
        .filter(audit_events::org_id.eq(filter.org_id.clone()))
        .select(Event::as_select())
        .order(audit_events::id.asc())
        .limit(filter.limit)
        .into_boxed();
    if let Some(event_type) = filter.event_type {
        query = query.filter(audit_events::event_type.eq(event_type.as_str()));
    }
    if let Some(from) = filter.from {
        query = query.filter(audit_events::created_at.ge(from));
    }
    if let Some(to) = filter.to {
        query = query.filter(audit_events::created_at.lt(to));
    }
    if let Some(after) = &filter.after {
        query = query.filter(audit_events::id.gt(after.clone()));
    }
    query.load(conn)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::Source;
    use crate::store::test_support::memory_conn;

    #[test]
    fn events_are_listed_per_organization_and_type() {
        let mut conn = memory_conn();
        let now = chrono::Utc::now().naive_utc();
        let source = Source(Some("127.0.0.1".into()));
        for (org, event_type) in [
            ("org_a", EventType::ApiKeyCreated),
            ("org_a", EventType::ApiKeyRevoked),
            ("org_b", EventType::ApiKeyCreated),
        ] {
            let event = NewEvent {
                org_id: org,
                event_type,
                actor: "cli",
                target_id: "key_1",
                source: &source,
                details: serde_json::json!({}),
            };
            record(&mut conn, event, now).unwrap();
        }
        let mut filter = EventFilter {
            org_id: "org_a".into(),
            event_type: None,
            from: None,
            to: None,
            after: None,
            limit: 10,
        };
        assert_eq!(list(&mut conn, &filter).unwrap().len(), 2);
        filter.event_type = Some(EventType::ApiKeyRevoked);
        let revoked = list(&mut conn, &filter).unwrap();
        assert_eq!(revoked.len(), 1);
        assert_eq!(revoked[0].target_type, "api_key");
        assert_eq!(revoked[0].source_ip.as_deref(), Some("127.0.0.1"));
        filter.event_type = None;
        filter.to = Some(now);
        assert!(
            list(&mut conn, &filter).unwrap().is_empty(),
            "to is exclusive"
        );
    }
}
