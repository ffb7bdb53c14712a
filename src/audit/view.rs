//! How an audit event is shown, by the JSON API and the CLI alike.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::model::{Event, EventType};

#[derive(Serialize, utoipa::ToSchema)]
/// An event with its `details` as JSON.
pub struct EventView<'a> {
    id: &'a str,
    #[schema(value_type = EventType)]
    event_type: &'a str,
    actor: &'a str,
    target_type: &'a str,
    target_id: &'a str,
    source_ip: Option<&'a str>,
    #[schema(value_type = Object)]
    details: serde_json::Value,
    created_at: DateTime<Utc>,
}

impl<'a> From<&'a Event> for EventView<'a> {
    fn from(e: &'a Event) -> Self {
        Self {
            id: &e.id,
            event_type: &e.event_type,
            actor: &e.actor,
            target_type: &e.target_type,
            target_id: &e.target_id,
            source_ip: e.source_ip.as_deref(),
            details: serde_json::from_str(&e.details).unwrap_or_default(),
            created_at: e.created_at.and_utc(),
        }
    }
}
