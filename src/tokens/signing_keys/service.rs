//! The signing-key lifecycle as use cases, for the CLI and the server's first start:
//! each step on disk (`lifecycle`), then its audit event. Signing keys belong to the
//! whole server, so their events go to the default organization's log.
//!
//! The files are the truth, and a step on disk cannot roll back with a transaction:
//! a step that is done stays done if its event then cannot be recorded, and the
//! error (`StepError::Unrecorded`) says so.

use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::json;

use super::key::{KeyAlg, KeyError, KeyMeta, KeyState};
use super::lifecycle;
use crate::audit::{self, Change, SigningKeyStep, Target};
use crate::identity::authority::Actor;
use crate::orgs;
use crate::store::{DbConn, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum StepError {
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error("the signing-key step is done, but its audit event could not be recorded: {0}")]
    Unrecorded(#[source] StoreError),
    /// No store turn to begin with: nothing was done.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A commit that fails comes after the step on disk.
impl From<diesel::result::Error> for StepError {
    fn from(error: diesel::result::Error) -> Self {
        Self::Unrecorded(error.into())
    }
}

/// A new key: active if none is, else pending (published, not signing).
pub fn generate(
    conn: &mut DbConn,
    actor: &Actor,
    dir: &Path,
    alg: KeyAlg,
    now: DateTime<Utc>,
) -> Result<KeyMeta, StepError> {
    let meta = lifecycle::generate(dir, alg, now)?;
    record(
        conn,
        actor,
        SigningKeyStep::Generated,
        &meta.kid,
        view(&meta),
        now,
    )?;
    Ok(meta)
}

/// An active ES256 key if the directory has none (the server's first start);
/// `None` if one was there.
pub fn ensure_active(
    conn: &mut DbConn,
    actor: &Actor,
    dir: &Path,
    now: DateTime<Utc>,
) -> Result<Option<KeyMeta>, StepError> {
    let Some(meta) = lifecycle::ensure_active(dir, now)? else {
        return Ok(None);
    };
    record(
        conn,
        actor,
        SigningKeyStep::Generated,
        &meta.kid,
        view(&meta),
        now,
    )?;
    Ok(Some(meta))
}

/// Makes a pending key the signing key; the one that signed until now is retired,
/// and both steps are recorded.
pub fn activate(
    conn: &mut DbConn,
    actor: &Actor,
    dir: &Path,
    kid: &str,
    now: DateTime<Utc>,
) -> Result<KeyMeta, StepError> {
    let previous = lifecycle::read_metas(dir)?
        .into_iter()
        .find(|m| m.state == KeyState::Active && m.kid != kid)
        .map(|m| m.kid);
    let meta = lifecycle::activate(dir, kid, now)?;
    record(
        conn,
        actor,
        SigningKeyStep::Activated,
        kid,
        view(&meta),
        now,
    )?;
    if let Some(previous) = previous {
        let details = json!({"retired_by_activating": kid});
        record(
            conn,
            actor,
            SigningKeyStep::Retired,
            &previous,
            details,
            now,
        )?;
    }
    Ok(meta)
}

/// Stops a pending key from ever signing. Retiring a retired key records nothing.
pub fn retire(
    conn: &mut DbConn,
    actor: &Actor,
    dir: &Path,
    kid: &str,
    now: DateTime<Utc>,
) -> Result<KeyMeta, StepError> {
    let was_retired = lifecycle::read_metas(dir)?
        .iter()
        .any(|m| m.kid == kid && m.state == KeyState::Retired);
    let meta = lifecycle::retire(dir, kid, now)?;
    if !was_retired {
        record(conn, actor, SigningKeyStep::Retired, kid, view(&meta), now)?;
    }
    Ok(meta)
}

/// Deletes a retired key once no token it signed can still be valid.
pub fn remove(
    conn: &mut DbConn,
    actor: &Actor,
    dir: &Path,
    kid: &str,
    longest_token_ttl: Duration,
    now: DateTime<Utc>,
) -> Result<(), StepError> {
    lifecycle::remove(dir, kid, longest_token_ttl, now)?;
    let details = json!({"removed": kid});
    record(conn, actor, SigningKeyStep::Removed, kid, details, now)
}

/// A key's public metadata, as its events carry it.
fn view(meta: &KeyMeta) -> serde_json::Value {
    serde_json::to_value(meta).unwrap_or_default()
}

fn record(
    conn: &mut DbConn,
    actor: &Actor,
    step: SigningKeyStep,
    kid: &str,
    key: serde_json::Value,
    now: DateTime<Utc>,
) -> Result<(), StepError> {
    record_in_log(conn, actor, step, kid, key, now.naive_utc()).map_err(StepError::Unrecorded)
}

fn record_in_log(
    conn: &mut DbConn,
    actor: &Actor,
    step: SigningKeyStep,
    kid: &str,
    key: serde_json::Value,
    now: chrono::NaiveDateTime,
) -> Result<(), StoreError> {
    let (org, _) = orgs::repo::ensure_default(conn, now)?;
    let target = Target {
        org_id: &org.id,
        id: kid,
    };
    audit::repo::record(
        conn,
        target,
        actor.by(),
        Change::SigningKey { step, key },
        now,
    )?;
    Ok(())
}
