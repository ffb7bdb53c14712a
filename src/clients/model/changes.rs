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
    pub redirect_uris: String,
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
            .field("redirect_uris", &before.redirect_uris, &self.redirect_uris)
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
            redirect_uris: client.redirect_uris().map(str::to_owned).collect(),
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
    pub redirect_uris: Option<Vec<String>>,
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
        if let Some(uris) = self.redirect_uris {
            registration.redirect_uris = uris;
        }
        registration
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(scopes: &str, default: &str, audience: Option<&str>, audiences: &str) -> Client {
        let now = chrono::Utc::now().naive_utc();
        Client {
            id: "kgc_1".into(),
            org_id: "org_1".into(),
            name: "billing".into(),
            secret_hash: "$argon2id$x".into(),
            redirect_uris: String::new(),
            grant_types: "client_credentials".into(),
            allowed_scopes: scopes.into(),
            default_scopes: default.into(),
            audience: audience.map(str::to_owned),
            access_token_ttl_secs: Some(600),
            created_at: now,
            updated_at: now,
            disabled_at: None,
            refresh_reuse_grace_secs: 0,
            previous_secret_hash: None,
            previous_secret_expires_at: None,
            registration_token_hash: None,
            rate_limit_per_minute: Some(60),
            secret_hint: None,
            previous_secret_hint: None,
            secret_expires_at: None,
            token_endpoint_auth_method: Some("client_secret_post".into()),
            audiences: (!audiences.is_empty()).then(|| audiences.to_owned()),
        }
    }

    #[test]
    fn an_empty_update_keeps_the_registration() {
        let client = client("read write", "read", None, "");
        let merged = ClientUpdate::default().merged_into(&client);
        assert_eq!(merged.name, "billing");
        assert_eq!(merged.scope, "read write");
        assert_eq!(merged.default_scope.as_deref(), Some("read"));
        assert_eq!(merged.access_token_ttl, Some(Duration::from_secs(600)));
        assert_eq!(merged.rate_limit_per_minute, Some(60));
        assert_eq!(
            merged.token_endpoint_auth_method.as_deref(),
            Some("client_secret_post")
        );
    }

    #[test]
    fn new_scopes_narrow_the_default_with_them() {
        let narrowed = |default: &str, scope: &str| {
            let update = ClientUpdate {
                scope: Some(scope.into()),
                ..Default::default()
            };
            update
                .merged_into(&client("read write", default, None, ""))
                .default_scope
        };
        assert_eq!(narrowed("read write", "read").as_deref(), Some("read"));
        // Nothing of the old default left: all of the new scopes.
        assert_eq!(narrowed("write", "read"), None);
        let named = ClientUpdate {
            scope: Some("read".into()),
            default_scope: Some("read".into()),
            ..Default::default()
        };
        let merged = named.merged_into(&client("read write", "write", None, ""));
        assert_eq!(merged.default_scope.as_deref(), Some("read"));
    }

    #[test]
    fn a_default_audience_the_new_list_leaves_out_gives_way() {
        let (a, b, c) = (
            "https://a.example",
            "https://b.example",
            "https://c.example",
        );
        let client = client("read", "read", Some(a), &format!("{a} {b}"));
        let update = |audience: Option<Option<&str>>, audiences: &[&str]| ClientUpdate {
            audience: audience.map(|a| a.map(str::to_owned)),
            audiences: Some(audiences.iter().map(|a| (*a).to_owned()).collect()),
            ..Default::default()
        };
        let kept = update(None, &[b, a]).merged_into(&client);
        assert_eq!(kept.audience.as_deref(), Some(a));
        let dropped = update(None, &[b, c]).merged_into(&client);
        assert_eq!(dropped.audience, None, "the list's first, once validated");
        let named = update(Some(Some(c)), &[b, c]).merged_into(&client);
        assert_eq!(named.audience.as_deref(), Some(c));
        let cleared = ClientUpdate {
            audience: Some(None),
            rate_limit_per_minute: Some(None),
            token_endpoint_auth_method: Some(None),
            ..Default::default()
        }
        .merged_into(&client);
        assert_eq!(cleared.audience, None);
        assert_eq!(cleared.rate_limit_per_minute, None);
        assert_eq!(cleared.token_endpoint_auth_method, None);
    }
}
