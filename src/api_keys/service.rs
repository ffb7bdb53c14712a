//! The API-key use cases — create, update, revoke, rotate, and the bootstrap key —
//! for every door: the JSON API, the CLI, start-up and the tests. Each takes the
//! connection of the caller's store turn (`Store::write`), the actor, validated input
//! and `now`, and commits the change with its audit event in one transaction or not
//! at all. What the actor may do is `identity::authority`'s; which keys it sees is
//! its organization's (`Actor::sees`): another organization's key is `NotFound`.

use std::time::Duration;

use chrono::NaiveDateTime;
use diesel::Connection;

use super::format;
use super::model::{
    is_key_id, validate_name, validate_rate_limit, validate_scopes, ApiKey, IssuedKey, KeyDraft,
    KeyRequest, KeyRequestError, MAX_ROTATION_OVERLAP,
};
use super::policy::{self, KeyPolicy, PolicyError};
use super::repo::{self, KeyChange, RotateError};
use crate::audit::{self, Change, Diff, Target};
use crate::identity::authority::{Actor, AuthorityError, Holdings};
use crate::ids::{ApiKeyId, OrgId};
use crate::scope::ScopeSet;
use crate::secret::RandomError;
use crate::store::{DbConn, StoreError};

/// Why a use case refused or failed. Each error shape maps it in its own file.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error(transparent)]
    Request(#[from] KeyRequestError),
    #[error(transparent)]
    Authority(#[from] AuthorityError),
    #[error(transparent)]
    Policy(#[from] PolicyError),
    /// No such key — or one of an organization the actor does not see.
    #[error("no such API key")]
    NotFound,
    /// The key changed meanwhile, or is past changing (revoked, expired, rotated).
    #[error("{0}")]
    Conflict(&'static str),
    #[error(transparent)]
    Random(#[from] RandomError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<diesel::result::Error> for KeyError {
    fn from(error: diesel::result::Error) -> Self {
        Self::Store(error.into())
    }
}

impl From<RotateError> for KeyError {
    fn from(error: RotateError) -> Self {
        match error {
            RotateError::NotFound => Self::NotFound,
            RotateError::NotRotatable => {
                Self::Conflict("the key is revoked, expired, already rotated or changed meanwhile")
            }
            RotateError::Store(error) => Self::Store(error),
        }
    }
}

/// What a PATCH asks for; `None` leaves a field as it is (`rate_limit_per_minute:
/// Some(None)` removes the override).
#[derive(Debug, Default)]
pub struct KeyUpdate {
    pub name: Option<String>,
    /// Only a subset of the key's current scopes.
    pub scopes: Option<Vec<String>>,
    pub rate_limit_per_minute: Option<Option<u32>>,
}

/// The key `id` if the actor sees it.
pub fn find(conn: &mut DbConn, actor: &Actor, id: &ApiKeyId) -> Result<Option<ApiKey>, StoreError> {
    if !is_key_id(id.as_str()) {
        return Ok(None);
    }
    let found = match actor.org_id() {
        Some(org_id) => repo::find_in_org(conn, org_id, id)?,
        None => repo::find_in_any_org(conn, id)?,
    };
    Ok(found)
}

fn find_visible(conn: &mut DbConn, actor: &Actor, id: &ApiKeyId) -> Result<ApiKey, KeyError> {
    find(conn, actor, id)?.ok_or(KeyError::NotFound)
}

/// A new key in `org_id` with at most the actor's scopes, lifetime and rate
/// allowance; the key, shown once, is in the result.
pub fn create(
    conn: &mut DbConn,
    actor: &Actor,
    org_id: &OrgId,
    request: KeyRequest,
    known_scopes: &ScopeSet,
    now: NaiveDateTime,
) -> Result<IssuedKey, KeyError> {
    if !actor.sees(org_id) {
        return Err(KeyError::NotFound);
    }
    let rate_limit = actor.cap_rate_limit(Some(request.rate_limit_per_minute))?;
    let request = KeyRequest {
        rate_limit_per_minute: rate_limit.flatten(),
        ..request
    };
    let draft = KeyDraft::new(request, org_id, known_scopes, actor, now)?;
    let key = format::generate(draft.environment)?;
    conn.transaction(|c| {
        policy::policy_of(c, org_id)?.admits(draft.expires_at, now)?;
        let issued = repo::create(c, &draft, key, now)?;
        let change = Change::ApiKeyCreated {
            name: &issued.row.name,
            scopes: &issued.row.scopes,
            expires_at: issued.row.expires_at,
        };
        audit::repo::record(c, &issued.row, actor.by(), change, now)?;
        Ok(issued)
    })
}

/// The API-key policy of `org_id` (none set: the default, no policy).
pub fn policy(conn: &mut DbConn, actor: &Actor, org_id: &OrgId) -> Result<KeyPolicy, KeyError> {
    if !actor.sees(org_id) {
        return Err(KeyError::NotFound);
    }
    Ok(policy::policy_of(conn, org_id)?)
}

/// Sets the API-key policy of `org_id`: from now on every create and rotate of its
/// keys, through any door, keeps to it (keys that exist keep their expiry until
/// they are rotated). Needs the `admin` scope. Setting the policy it has records
/// nothing.
pub fn set_policy(
    conn: &mut DbConn,
    actor: &Actor,
    org_id: &OrgId,
    asked: KeyPolicy,
    now: NaiveDateTime,
) -> Result<KeyPolicy, KeyError> {
    if !actor.sees(org_id) {
        return Err(KeyError::NotFound);
    }
    actor.require_admin()?;
    let asked = asked.validated()?;
    conn.transaction(|c| {
        let before = policy::policy_of(c, org_id)?;
        if before == asked {
            return Ok(asked);
        }
        if crate::orgs::repo::find(c, org_id)?.is_none() {
            return Err(KeyError::NotFound);
        }
        policy::store_policy(c, org_id, &asked, now)?;
        let secs = |p: &KeyPolicy| p.max_lifetime.map(|max| max.as_secs());
        let diff = Diff::default()
            .shown("max_lifetime_secs", &secs(&before), &secs(&asked))
            .shown(
                "expiry_required",
                &before.expiry_required,
                &asked.expiry_required,
            );
        let target = Target {
            org_id,
            id: org_id.as_str(),
        };
        audit::repo::record(
            c,
            target,
            actor.by(),
            Change::ApiKeyPolicyChanged(diff),
            now,
        )?;
        Ok(asked)
    })
}

/// The admin key of a new database: every configured scope, for the default
/// organization, made only while there are no keys and no clients at all (see
/// `repo::create_first`); `None` otherwise.
pub fn create_bootstrap(
    conn: &mut DbConn,
    org_id: &OrgId,
    known_scopes: &ScopeSet,
    now: NaiveDateTime,
) -> Result<Option<IssuedKey>, KeyError> {
    let request = KeyRequest {
        name: "bootstrap admin".into(),
        scopes: known_scopes.iter().map(str::to_owned).collect(),
        ..Default::default()
    };
    let actor = Actor::operator("bootstrap");
    let draft = KeyDraft::new(request, org_id, known_scopes, &actor, now)?;
    let key = format::generate(draft.environment)?;
    conn.transaction(|c| {
        let issued = repo::create_first(c, &draft, key, now)?;
        if let Some(issued) = &issued {
            let change = Change::BootstrapKeyIssued {
                scopes: &issued.row.scopes,
            };
            audit::repo::record(c, &issued.row, actor.by(), change, now)?;
        }
        Ok(issued)
    })
}

/// Renames the key, narrows its scopes (a scope it does not have cannot be added:
/// that is a new key) and sets or removes its rate limit, within the actor's own.
pub fn update(
    conn: &mut DbConn,
    actor: &Actor,
    id: &ApiKeyId,
    update: KeyUpdate,
    known_scopes: &ScopeSet,
    now: NaiveDateTime,
) -> Result<ApiKey, KeyError> {
    if let Some(limit) = update.rate_limit_per_minute {
        validate_rate_limit(limit)?;
    }
    let rate_limit_per_minute = actor.cap_rate_limit(update.rate_limit_per_minute)?;
    conn.transaction(|c| {
        let key = find_visible(c, actor, id)?;
        let name = update.name.as_deref().map(validate_name).transpose()?;
        let scopes = update
            .scopes
            .map(|scopes| narrowed_scopes(&key, &scopes, known_scopes))
            .transpose()?;
        let change = KeyChange {
            name: name.as_deref(),
            scopes: scopes.as_ref(),
            rate_limit_per_minute,
        };
        let updated = repo::update(c, &key, &change)?.ok_or(KeyError::Conflict(
            "the key changed while it was being updated; read it again and retry",
        ))?;
        let diff = updated.changes_from(&key);
        if !diff.is_empty() {
            audit::repo::record(c, &updated, actor.by(), Change::ApiKeyUpdated(diff), now)?;
        }
        Ok(updated)
    })
}

/// `asked` if it is a configured, non-empty subset of the key's own scopes.
fn narrowed_scopes(
    key: &ApiKey,
    asked: &[String],
    known_scopes: &ScopeSet,
) -> Result<ScopeSet, KeyRequestError> {
    validate_scopes(asked, known_scopes, Some(&key.scope_set())).map_err(|error| match error {
        KeyRequestError::BeyondCreator(scope) => KeyRequestError::Widening(scope),
        other => other,
    })
}

/// Revokes the key: it stops working on the next request, on every instance.
/// Revoking a revoked key changes nothing and records nothing.
pub fn revoke(
    conn: &mut DbConn,
    actor: &Actor,
    id: &ApiKeyId,
    now: NaiveDateTime,
) -> Result<ApiKey, KeyError> {
    conn.transaction(|c| {
        let key = find_visible(c, actor, id)?;
        let (revoked, now_revoked) =
            repo::revoke(c, &key.org_id, &key.id, now)?.ok_or(KeyError::NotFound)?;
        // Recorded once: by the call that revoked it.
        if now_revoked {
            let change = Change::ApiKeyRevoked {
                name: &revoked.name,
            };
            audit::repo::record(c, &revoked, actor.by(), change, now)?;
        }
        Ok(revoked)
    })
}

/// Replaces the key with a successor (same name, scopes, expiry and rate limit — the
/// expiry shortened to what the organization's policy allows from now); the old key
/// keeps working for `overlap` (at most 30 days), then answers `expired_api_key`.
/// Only for an actor that could have created the key.
pub fn rotate(
    conn: &mut DbConn,
    actor: &Actor,
    id: &ApiKeyId,
    overlap: Duration,
    now: NaiveDateTime,
) -> Result<IssuedKey, KeyError> {
    if overlap > MAX_ROTATION_OVERLAP {
        return Err(KeyRequestError::Overlap.into());
    }
    let overlap = chrono::Duration::from_std(overlap).map_err(|_| KeyRequestError::Overlap)?;
    conn.transaction(|c| {
        let old = find_visible(c, actor, id)?;
        actor.may_rotate(
            "key",
            Holdings {
                scopes: &old.scope_set(),
                expires_at: old.expires_at,
                rate_limit: old.rate_limit_per_minute,
            },
        )?;
        let expires_at =
            policy::policy_of(c, &old.org_id)?.successor_expiry(old.expires_at, now)?;
        let key = format::generate(old.environment())?;
        let issued = repo::rotate(c, &old, key, overlap, expires_at, actor.label(), now)?;
        let old_dies_at = old
            .expires_at
            .map_or(now + overlap, |at| at.min(now + overlap));
        let change = Change::ApiKeyRotated {
            successor: issued.row.id.as_str(),
            old_key_expires_at: old_dies_at,
        };
        audit::repo::record(c, &old, actor.by(), change, now)?;
        Ok(issued)
    })
}
