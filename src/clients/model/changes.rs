//! What an update changes: the columns it rewrites (`ClientChanges`), the registration
//! a stored client stands for (`ClientRegistration::from_client`), the merge of a
//! partial update into it (`ClientUpdate`, `PATCH /v1/clients/{id}` and `keygate
//! client update`), and what changed, for the audit log (`Client::changes_from`).

use std::time::Duration;

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::{Client, ClientRegistration};
use crate::audit::Diff;
use crate::scope::ScopeSet;
use crate::store::schema::clients;

/// The metadata columns an update rewrites (all of them: `None` clears).
#[derive(AsChangeset)]
#[diesel(table_name = clients, treat_none_as_null = true)]
pub struct ClientChanges {
    pub name: String,
    pub grant_types: String,
    pub allowed_scopes: String,
    pub default_scopes: String,
    pub audience: Option<String>,
    pub access_token_ttl_secs: Option<i64>,
    pub refresh_reuse_grace_secs: i64,
    pub rate_limit_per_minute: Option<i64>,
    pub token_endpoint_auth_method: Option<String>,
    pub audiences: Option<String>,
    pub updated_at: NaiveDateTime,
}

impl Client {
    /// What changed from `before` to this row, for the audit log: every changed
    /// setting. Never a secret or a hash: only the columns named here are compared.
    pub fn changes_from(&self, before: &Client) -> Diff {
        let utc = |at: Option<NaiveDateTime>| at.map(|t| t.and_utc());
        Diff::default()
            .field("name", &before.name, &self.name)
            .field("scope", &before.allowed_scopes, &self.allowed_scopes)
            .field(
                "default_scope",
                &before.default_scopes,
                &self.default_scopes,
            )
            .field("grant_types", &before.grant_types, &self.grant_types)
            .field("audience", &before.audience, &self.audience)
            .field("audiences", &before.audiences, &self.audiences)
            .field(
                "access_token_ttl_secs",
                &before.access_token_ttl_secs,
                &self.access_token_ttl_secs,
            )
            .field(
                "refresh_reuse_grace_secs",
                &before.refresh_reuse_grace_secs,
                &self.refresh_reuse_grace_secs,
            )
            .field(
                "rate_limit_per_minute",
                &before.rate_limit_per_minute,
                &self.rate_limit_per_minute,
            )
            .field(
                "token_endpoint_auth_method",
                &before.token_endpoint_auth_method,
                &self.token_endpoint_auth_method,
            )
            .field(
                "secret_expires_at",
                &utc(before.secret_expires_at),
                &utc(self.secret_expires_at),
            )
    }
}

impl ClientRegistration {
    /// The registration `client` stands for, to be changed and validated again.
    pub fn from_client(client: &Client) -> Self {
        Self {
            name: client.name.clone(),
            scope: client.allowed_scopes.clone(),
            default_scope: Some(client.default_scopes.clone()),
            grant_types: client.grant_types.split(' ').map(str::to_owned).collect(),
            audience: client.audience.clone(),
            // A list only beside the default: a client with one audience is edited
            // through `audience` alone.
            audiences: match client.registered_audiences() {
                list if list.len() > 1 => list.into_iter().map(str::to_owned).collect(),
                _ => Vec::new(),
            },
            access_token_ttl: client.access_token_ttl(),
            refresh_reuse_grace: u64::try_from(client.refresh_reuse_grace_secs)
                .ok()
                .map(Duration::from_secs),
            rate_limit_per_minute: client
                .rate_limit_per_minute
                .and_then(|n| u32::try_from(n).ok()),
            token_endpoint_auth_method: client.token_endpoint_auth_method.clone(),
        }
    }
}

/// What an update asks for (`PATCH /v1/clients/{id}`, `keygate client update`):
/// `None` leaves a setting as it is; a present one replaces it, and the result is
/// validated as a whole. `Some(None)` clears what may be cleared (the default
/// audience, the rate limit, the authentication method).
#[derive(Clone, Debug, Default)]
pub struct ClientUpdate {
    pub name: Option<String>,
    /// Space-separated scopes.
    pub scope: Option<String>,
    pub default_scope: Option<String>,
    pub grant_types: Option<Vec<String>>,
    pub audience: Option<Option<String>>,
    pub audiences: Option<Vec<String>>,
    pub access_token_ttl: Option<Duration>,
    pub refresh_reuse_grace: Option<Duration>,
    pub rate_limit_per_minute: Option<Option<u32>>,
    pub token_endpoint_auth_method: Option<Option<String>>,
}

impl ClientUpdate {
    /// The registration `client` would have after this update, to be validated.
    pub fn merged_into(self, client: &Client) -> ClientRegistration {
        let mut registration = ClientRegistration::from_client(client);
        if let Some(name) = self.name {
            registration.name = name;
        }
        if let Some(scope) = self.scope {
            registration.scope = scope;
            if self.default_scope.is_none() {
                // Narrowing the scopes narrows the default with them (to all of the new
                // scopes if nothing of the old default is left).
                let new = ScopeSet::parse(&registration.scope).unwrap_or_default();
                let old_default = client.default_scopes();
                let kept: Vec<&str> = old_default.iter().filter(|s| new.contains(s)).collect();
                registration.default_scope = (!kept.is_empty()).then(|| kept.join(" "));
            }
        }
        if let Some(default_scope) = self.default_scope {
            registration.default_scope = Some(default_scope);
        }
        if let Some(grant_types) = self.grant_types {
            registration.grant_types = grant_types;
        }
        if let Some(audiences) = self.audiences {
            // Like the scopes' default: a default the new list leaves out gives way to
            // the list's first, unless the update names a default itself.
            if self.audience.is_none()
                && registration
                    .audience
                    .as_ref()
                    .is_some_and(|default| !audiences.is_empty() && !audiences.contains(default))
            {
                registration.audience = None;
            }
            registration.audiences = audiences;
        }
        if let Some(audience) = self.audience {
            registration.audience = audience;
        }
        if let Some(ttl) = self.access_token_ttl {
            registration.access_token_ttl = Some(ttl);
        }
        if let Some(grace) = self.refresh_reuse_grace {
            registration.refresh_reuse_grace = Some(grace);
        }
        if let Some(limit) = self.rate_limit_per_minute {
            registration.rate_limit_per_minute = limit;
        }
        if let Some(method) = self.token_endpoint_auth_method {
            registration.token_endpoint_auth_method = method;
        }
        registration
    }
}
