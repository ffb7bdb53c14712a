//! Signing keys on disk and their lifecycle (the in-memory side is `ring`).
//!
//! Each key is two files in the keys directory: `<kid>.pem` (the PKCS#8 private key,
//! mode 0600) and `<kid>.json` (its algorithm and lifecycle state). The `kid` is the
//! RFC 7638 SHA-256 thumbprint of the public JWK. Lifecycle:
//! `pending` (published in the JWKS, not signing) → `active` (signs new tokens; exactly
//! one) → `retired` (published until every token it signed has expired) → removed.
//! The first key generated into an empty ring becomes active at once.
//!
//! Every change takes an exclusive lock on `<dir>/.lock`, so several instances (or an
//! operator's CLI) sharing one keys directory never both create the first key. A
//! server that finds an active key only reads the directory, which may be read-only.
//!
//! The directory (mode 0700) and the PEM files (0600) are for their owner only:
//! loading refuses either when group or others have any access to it, unless the
//! settings allow it (`LoosePermissions`).

use std::fs;
use std::io::Write;
use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, Utc};
use jsonwebtoken::jwk::ThumbprintHash;

use super::key::{invalid, io_error, KeyAlg, KeyError, KeyMeta, KeyPair, KeyState};

/// All `<kid>.json` files in `dir`, oldest first. A missing directory is an empty ring.
pub fn read_metas(dir: &Path) -> Result<Vec<KeyMeta>, KeyError> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io_error(dir)(e)),
    };
    let mut metas = Vec::new();
    for entry in entries {
        let path = entry.map_err(io_error(dir))?.path();
        if path.extension().and_then(|e| e.to_str()) != Some("json") {
            continue;
        }
        let text = fs::read_to_string(&path).map_err(io_error(&path))?;
        let meta: KeyMeta = serde_json::from_str(&text).map_err(|e| invalid(&path, e))?;
        if path.file_stem().and_then(|s| s.to_str()) != Some(meta.kid.as_str()) {
            return Err(invalid(&path, "file name does not match its kid"));
        }
        metas.push(meta);
    }
    metas.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.kid.cmp(&b.kid)));
    Ok(metas)
}

/// Generates a key into `dir`. It becomes active if no key is; otherwise it is
/// pending (published, not signing) until `activate`.
pub fn generate(dir: &Path, alg: KeyAlg, now: DateTime<Utc>) -> Result<KeyMeta, KeyError> {
    let _lock = lock_dir(dir)?;
    generate_locked(dir, alg, now)
}

fn generate_locked(dir: &Path, alg: KeyAlg, now: DateTime<Utc>) -> Result<KeyMeta, KeyError> {
    let existing = read_metas(dir)?;
    let der = KeyPair::generate(alg)?;
    let pair = KeyPair::from_pkcs8(alg, &der).map_err(|e| invalid(dir, e))?;
    let kid = pair
        .public_jwk()
        .and_then(|jwk| {
            jwk.thumbprint(ThumbprintHash::SHA256)
                .map_err(|e| e.to_string())
        })
        .map_err(|e| invalid(dir, e))?;
    let becomes_active = !existing.iter().any(|m| m.state == KeyState::Active);
    let meta = KeyMeta {
        kid: kid.clone(),
        alg,
        state: if becomes_active {
            KeyState::Active
        } else {
            KeyState::Pending
        },
        created_at: now,
        activated_at: becomes_active.then_some(now),
        retired_at: None,
    };
    create_private_dir(dir)?;
    if existing.is_empty() {
        make_private(dir);
    }
    let pem = pem::encode(&pem::Pem::new("PRIVATE KEY", der));
    write_file(&dir.join(format!("{kid}.pem")), pem.as_bytes(), true)?;
    write_meta(dir, &meta)?;
    Ok(meta)
}

/// Makes a pending key the signing key; the previous active key is retired.
pub fn activate(dir: &Path, kid: &str, now: DateTime<Utc>) -> Result<KeyMeta, KeyError> {
    let _lock = lock_dir(dir)?;
    activate_locked(dir, kid, now)
}

fn activate_locked(dir: &Path, kid: &str, now: DateTime<Utc>) -> Result<KeyMeta, KeyError> {
    let metas = read_metas(dir)?;
    let mut target = find(&metas, kid)?.clone();
    if target.state != KeyState::Pending {
        return Err(KeyError::WrongState {
            kid: kid.to_owned(),
            state: target.state,
            expected: "pending",
            action: "activated",
        });
    }
    // Write the new active key first: a crash in between leaves two active keys,
    // which `load` refuses loudly, rather than none.
    target.state = KeyState::Active;
    target.activated_at = Some(now);
    write_meta(dir, &target)?;
    for mut previous in metas.into_iter().filter(|m| m.state == KeyState::Active) {
        previous.state = KeyState::Retired;
        previous.retired_at = Some(now);
        write_meta(dir, &previous)?;
    }
    Ok(target)
}

/// Stops a key from signing; it stays published until `remove`.
pub fn retire(dir: &Path, kid: &str, now: DateTime<Utc>) -> Result<KeyMeta, KeyError> {
    let _lock = lock_dir(dir)?;
    retire_locked(dir, kid, now)
}

fn retire_locked(dir: &Path, kid: &str, now: DateTime<Utc>) -> Result<KeyMeta, KeyError> {
    let metas = read_metas(dir)?;
    let mut target = find(&metas, kid)?.clone();
    match target.state {
        KeyState::Active => return Err(KeyError::RetireActive(kid.to_owned())),
        KeyState::Retired => return Ok(target),
        KeyState::Pending => {}
    }
    target.state = KeyState::Retired;
    target.retired_at = Some(now);
    write_meta(dir, &target)?;
    Ok(target)
}

/// Deletes a retired key once no token it signed can still be valid
/// (`retired_at + longest_token_ttl`).
pub fn remove(
    dir: &Path,
    kid: &str,
    longest_token_ttl: Duration,
    now: DateTime<Utc>,
) -> Result<(), KeyError> {
    let _lock = lock_dir(dir)?;
    let metas = read_metas(dir)?;
    let target = find(&metas, kid)?;
    let retired_at = match (target.state, target.retired_at) {
        (KeyState::Retired, Some(at)) => at,
        (state, _) => {
            return Err(KeyError::WrongState {
                kid: kid.to_owned(),
                state,
                expected: "retired",
                action: "removed",
            })
        }
    };
    let ttl = chrono::Duration::from_std(longest_token_ttl).unwrap_or(chrono::Duration::MAX);
    let until = retired_at
        .checked_add_signed(ttl)
        .unwrap_or(DateTime::<Utc>::MAX_UTC);
    // A pending key never signed anything; one that was active did until retired_at.
    if target.activated_at.is_some() && now < until {
        return Err(KeyError::StillNeeded {
            kid: kid.to_owned(),
            until,
        });
    }
    for ext in ["json", "pem"] {
        let path = dir.join(format!("{kid}.{ext}"));
        fs::remove_file(&path).map_err(io_error(&path))?;
    }
    Ok(())
}

/// Generates an active ES256 key if the directory has no active key. Returns the new
/// key's metadata if one was made.
///
/// A directory with an active key is only read, without the lock: it may be a
/// read-only mount shared by several instances (where `.lock` cannot be opened for
/// writing), and a key that exists needs no protection from a second creator.
pub fn ensure_active(dir: &Path, now: DateTime<Utc>) -> Result<Option<KeyMeta>, KeyError> {
    if read_metas(dir)?.iter().any(|m| m.state == KeyState::Active) {
        return Ok(None);
    }
    // Checked again under the lock: two instances starting on one empty directory
    // must not both generate an active key.
    let _lock = lock_dir(dir)?;
    if read_metas(dir)?.iter().any(|m| m.state == KeyState::Active) {
        return Ok(None);
    }
    generate_locked(dir, KeyAlg::ES256, now).map(Some)
}

/// An exclusive advisory lock on `<dir>/.lock`, held until the file is dropped.
fn lock_dir(dir: &Path) -> Result<fs::File, KeyError> {
    create_private_dir(dir)?;
    let path = dir.join(".lock");
    let file = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(io_error(&path))?;
    file.lock().map_err(io_error(&path))?;
    Ok(file)
}

fn find<'a>(metas: &'a [KeyMeta], kid: &str) -> Result<&'a KeyMeta, KeyError> {
    metas
        .iter()
        .find(|m| m.kid == kid)
        .ok_or_else(|| KeyError::UnknownKid(kid.to_owned()))
}

fn write_meta(dir: &Path, meta: &KeyMeta) -> Result<(), KeyError> {
    let json = serde_json::to_vec_pretty(meta).map_err(|e| invalid(dir, e))?;
    write_file(&dir.join(format!("{}.json", meta.kid)), &json, false)
}

fn create_private_dir(dir: &Path) -> Result<(), KeyError> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir).map_err(io_error(dir))
}

/// Takes group and other permissions off a keys directory keygate is about to put its
/// first key in — an existing one, such as the `keys/` of a checkout, keeps the mode
/// it was made with, and `KeyRing::load` would refuse it. Best effort: a directory
/// keygate does not own (a mount) stays as it is, and the load then says so.
fn make_private(dir: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if fs::metadata(dir).is_ok_and(|m| m.permissions().mode() & 0o077 != 0) {
            let _ = fs::set_permissions(dir, fs::Permissions::from_mode(0o700));
        }
    }
    #[cfg(not(unix))]
    let _ = dir;
}

/// Writes via a temporary file and a rename, so a reader never sees half a key.
fn write_file(path: &Path, contents: &[u8], private: bool) -> Result<(), KeyError> {
    let tmp = path.with_extension("tmp");
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(if private { 0o600 } else { 0o644 });
    }
    #[cfg(not(unix))]
    let _ = private;
    let mut file = options.open(&tmp).map_err(io_error(&tmp))?;
    file.write_all(contents).map_err(io_error(&tmp))?;
    file.sync_all().map_err(io_error(&tmp))?;
    fs::rename(&tmp, path).map_err(io_error(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        Utc::now()
    }

    #[test]
    fn private_key_files_are_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let meta = generate(dir.path(), KeyAlg::ES256, now()).unwrap();
        let mode = fs::metadata(dir.path().join(format!("{}.pem", meta.kid)))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn ensure_active_generates_only_when_needed() {
        let dir = tempfile::tempdir().unwrap();
        assert!(ensure_active(dir.path(), now()).unwrap().is_some());
        assert!(ensure_active(dir.path(), now()).unwrap().is_none());
    }
}
