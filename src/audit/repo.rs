use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::event::Change;
use super::model::{Audited, Event, EventRow, EventType, Source};
use crate::ids::OrgId;
use crate::store::schema::audit_events;
use crate::store::DbConn;
use crate::tokens::TokenKind;

/// What an event is about: its organization and its id.
#[derive(Clone, Copy, Debug)]
pub struct Target<'a> {
    pub org_id: &'a OrgId,
    pub id: &'a str,
}

impl<'a, T: Audited> From<&'a T> for Target<'a> {
    fn from(row: &'a T) -> Self {
        Self {
            org_id: row.org_id(),
            id: row.audited_id(),
        }
    }
}

/// Who made a change, and from where.
#[derive(Clone, Copy, Debug)]
pub struct By<'a> {
    /// `cli`, `bootstrap`, `key:<id>`, `client:<id>`, `registration:<id>`, …
    pub actor: &'a str,
    pub source: &'a Source,
}

impl<'a> By<'a> {
    pub fn new(actor: &'a str, source: &'a Source) -> Self {
        Self { actor, source }
    }

    /// The operator (`cli`) or the server itself (`bootstrap`, `serve`): no source.
    pub fn operator(actor: &'a str) -> Self {
        static NOWHERE: Source = Source(None);
        Self::new(actor, &NOWHERE)
    }
}

/// Records `change` to `target`, made `by`, on the connection (and in the
/// transaction) of the change it describes.
pub fn record<'a>(
    conn: &mut DbConn,
    target: impl Into<Target<'a>>,
    by: By<'_>,
    change: Change<'_>,
    now: NaiveDateTime,
) -> QueryResult<()> {
    let target = target.into();
    let id = TokenKind::AuditEventId.with_suffix(uuid::Uuid::now_v7().simple());
    let event_type = change.event_type();
    let details = change.details().to_string();
    diesel::insert_into(audit_events::table)
        .values(EventRow {
            id: &id,
            org_id: target.org_id,
            event_type: event_type.as_str(),
            actor: by.actor,
            target_type: event_type.target_type(),
            target_id: target.id,
            source_ip: by.source.0.as_deref(),
            details: &details,
            created_at: now,
        })
        .execute(conn)
        .map(|_| ())
}

/// What to list: one organization's events, optionally of one type, by one actor
/// (its exact label, `user:usr_…`, checked by `model::parse_actor`) and within a time
/// range, oldest first after the id `after` — or, `newest_first`, newest first and
/// older than `after`.
#[derive(Clone, Debug)]
pub struct EventFilter {
    pub org_id: OrgId,
    pub event_type: Option<EventType>,
    pub actor: Option<String>,
    pub from: Option<NaiveDateTime>,
    pub to: Option<NaiveDateTime>,
    pub after: Option<String>,
    pub newest_first: bool,
    pub limit: i64,
}

impl EventFilter {
    /// Every event of `org_id`, oldest first, at most `limit`.
    pub fn of_org(org_id: OrgId, limit: i64) -> Self {
        Self {
            org_id,
            event_type: None,
            actor: None,
            from: None,
            to: None,
            after: None,
            newest_first: false,
            limit,
        }
    }
}

pub fn list(conn: &mut DbConn, filter: &EventFilter) -> QueryResult<Vec<Event>> {
    let mut query = audit_events::table
        .filter(audit_events::org_id.eq(&filter.org_id))
        .select(Event::as_select())
        .limit(filter.limit)
        .into_boxed();
    // Event ids are UUIDv7: their order is the order they were recorded in.
    query = if filter.newest_first {
        query.order(audit_events::id.desc())
    } else {
        query.order(audit_events::id.asc())
    };
    if let Some(actor) = &filter.actor {
        query = query.filter(audit_events::actor.eq(actor.clone()));
    }
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
        query = if filter.newest_first {
            query.filter(audit_events::id.lt(after.clone()))
        } else {
            query.filter(audit_events::id.gt(after.clone()))
        };
    }
    query.load(conn)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::test_support::memory_conn;

    #[test]
    fn events_are_listed_per_organization_and_type() {
        let mut conn = memory_conn();
        let now = chrono::Utc::now().naive_utc();
        let source = Source(Some("127.0.0.1".into()));
        let by = By {
            actor: "cli",
            source: &source,
        };
        for (org_id, change) in [
            ("org_a", Change::ApiKeyRevoked { name: "k" }),
            ("org_a", Change::ApiKeyRevoked { name: "k" }),
            ("org_b", Change::ApiKeyRevoked { name: "k" }),
        ] {
            let target = Target {
                org_id: &OrgId::from(org_id),
                id: "key_1",
            };
            record(&mut conn, target, by, change, now).unwrap();
        }
        let created = Change::ApiKeyCreated {
            name: "k",
            scopes: "read",
            expires_at: None,
        };
        let target = Target {
            org_id: &OrgId::from("org_a"),
            id: "key_2",
        };
        record(&mut conn, target, by, created, now).unwrap();
        let mut filter = EventFilter::of_org("org_a".into(), 10);
        assert_eq!(list(&mut conn, &filter).unwrap().len(), 3);
        filter.event_type = Some(EventType::ApiKeyCreated);
        let created = list(&mut conn, &filter).unwrap();
        assert_eq!(created.len(), 1);
        assert_eq!(created[0].target_id, "key_2");
        filter.event_type = Some(EventType::ApiKeyRevoked);
        let revoked = list(&mut conn, &filter).unwrap();
        assert_eq!(revoked.len(), 2);
        assert_eq!(revoked[0].target_type, "api_key");
        assert_eq!(revoked[0].source_ip.as_deref(), Some("127.0.0.1"));
        filter.event_type = None;
        filter.actor = Some("key:key_other".into());
        assert!(list(&mut conn, &filter).unwrap().is_empty(), "by its actor");
        filter.actor = Some("cli".into());
        assert_eq!(list(&mut conn, &filter).unwrap().len(), 3);
        filter.newest_first = true;
        let newest = list(&mut conn, &filter).unwrap();
        assert_eq!(newest[0].target_id, "key_2", "newest first");
        filter.after = Some(newest[0].id.clone());
        filter.limit = 1;
        let older = list(&mut conn, &filter).unwrap();
        assert_eq!(older[0].id, newest[1].id, "after: older than");
        filter.limit = 10;
        filter.after = None;
        filter.newest_first = false;
        filter.to = Some(now);
        assert!(
            list(&mut conn, &filter).unwrap().is_empty(),
            "to is exclusive"
        );
    }
}
