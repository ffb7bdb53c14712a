//! How an API key is shown — by the JSON API and the CLI alike — after its creation:
//! never the key, never its digest.

use chrono::{DateTime, NaiveDateTime, Utc};
use serde::Serialize;

use super::model::{ApiKey, KeyState};

/// A key as shown: masked (`kg_live_…a1b2`).
#[derive(Serialize, utoipa::ToSchema)]
pub struct ApiKeyView<'a> {
    id: &'a str,
    name: &'a str,
    org_id: &'a str,
    environment: &'a str,
    masked: String,
    scopes: Vec<String>,
    state: &'static str,
    created_by: &'a str,
    created_at: DateTime<Utc>,
    expires_at: Option<DateTime<Utc>>,
    last_used_at: Option<DateTime<Utc>>,
    revoked_at: Option<DateTime<Utc>>,
    replaced_by: Option<&'a str>,
    rate_limit_per_minute: Option<i64>,
}

impl<'a> ApiKeyView<'a> {
    pub fn new(key: &'a ApiKey, now: NaiveDateTime) -> Self {
        let utc = |t: Option<NaiveDateTime>| t.map(|t| t.and_utc());
        Self {
            id: key.id.as_str(),
            name: &key.name,
            org_id: key.org_id.as_str(),
            environment: &key.environment,
            masked: key.masked(),
            scopes: key.scope_set().iter().map(str::to_owned).collect(),
            state: match key.state(now) {
                KeyState::Active => "active",
                KeyState::Expired(_) => "expired",
                KeyState::Revoked(_) => "revoked",
            },
            created_by: &key.created_by,
            created_at: key.created_at.and_utc(),
            expires_at: utc(key.expires_at),
            last_used_at: utc(key.last_used_at),
            revoked_at: utc(key.revoked_at),
            replaced_by: key.replaced_by.as_ref().map(ApiKeyId::as_str),
            rate_limit_per_minute: key.rate_limit_per_minute,
        }
    }
}
use crate::ids::ApiKeyId;
