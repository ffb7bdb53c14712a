//! Signing keys in memory: each key parsed once into a signer, its public JWK and its
//! encoded JWT header; the `KeyRing` of all published keys with the active one found
//! and the JWKS rendered once; and `SigningKeys`, the ring a running server uses,
//! reloaded when anything it was loaded from changes on disk.

use std::fs;
use std::path::Path;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::jwk::{JwkSet, ThumbprintHash};
use sha2::Digest;

use super::key::{invalid, io_error, KeyAlg, KeyError, KeyMeta, KeyPair, KeyState, SignError};
use super::lifecycle::read_metas;

/// One key, parsed once: the signer, its public JWK and the encoded JWT header.
pub struct LoadedKey {
    meta: KeyMeta,
    pair: KeyPair,
    encoded_header: String,
    decoding_key: jsonwebtoken::DecodingKey,
}

impl LoadedKey {
    pub fn meta(&self) -> &KeyMeta {
        &self.meta
    }

    pub fn kid(&self) -> &str {
        &self.meta.kid
    }

    /// base64url of `{"alg":…,"typ":"at+jwt","kid":…}` (RFC 9068 §2.1).
    pub fn encoded_header(&self) -> &str {
        &self.encoded_header
    }

    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, SignError> {
        self.pair.sign(message)
    }

    /// The public key, for verifying tokens this key signed.
    pub fn decoding_key(&self) -> &jsonwebtoken::DecodingKey {
        &self.decoding_key
    }
}

/// Whether key files and a keys directory that group or others may access are
/// refused (the default) or only warned about (`allow_loose_key_permissions`, for
/// mounts whose modes the operator cannot choose).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LoosePermissions {
    #[default]
    Refuse,
    Allow,
}

/// What a ring was loaded from: the directory's mode, each key's metadata, and a
/// digest and the mode of its PEM file (`None` when it could not be read). Any
/// difference on disk — a key added, activated or retired, a PEM rewritten, a mode
/// changed — is a change to load. A directory whose metadata cannot be read is that
/// error, so that it too is reported once.
#[derive(Clone, Debug, PartialEq, Eq)]
struct DiskState {
    dir_mode: Option<u32>,
    keys: Result<Vec<(KeyMeta, Option<PemState>)>, String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct PemState {
    digest: [u8; 32],
    mode: u32,
}

impl DiskState {
    fn read(dir: &Path) -> Self {
        let keys = read_metas(dir)
            .map(|metas| {
                metas
                    .into_iter()
                    .map(|meta| {
                        let pem = pem_state(&dir.join(format!("{}.pem", meta.kid)));
                        (meta, pem)
                    })
                    .collect()
            })
            .map_err(|error| error.to_string());
        Self {
            dir_mode: file_mode(dir),
            keys,
        }
    }
}

fn pem_state(path: &Path) -> Option<PemState> {
    let bytes = fs::read(path).ok()?;
    Some(PemState {
        digest: sha2::Sha256::digest(&bytes).into(),
        mode: file_mode(path).unwrap_or(0),
    })
}

/// Every key in the directory, parsed, with the active one found and the JWKS
/// rendered once.
pub struct KeyRing {
    keys: Vec<LoadedKey>,
    active: usize,
    jwks_json: String,
    loaded_from: DiskState,
}

impl KeyRing {
    /// `load_with`, refusing files others may read.
    pub fn load(dir: &Path) -> Result<Self, KeyError> {
        Self::load_with(dir, LoosePermissions::Refuse)
    }

    pub fn load_with(dir: &Path, loose: LoosePermissions) -> Result<Self, KeyError> {
        let metas = read_metas(dir)?;
        // A directory without keys has nothing to keep private: it is refused below
        // for having no active key, which says what to do.
        if !metas.is_empty() {
            check_private(dir, "700", loose)?;
        }
        let dir_mode = file_mode(dir);
        let mut keys = Vec::new();
        let mut jwks = JwkSet { keys: Vec::new() };
        let mut loaded_from = Vec::new();
        for meta in metas {
            let pem_path = dir.join(format!("{}.pem", meta.kid));
            let (pair, pem) = read_pair(&pem_path, meta.alg, loose)?;
            loaded_from.push((meta.clone(), Some(pem)));
            let mut jwk = pair.public_jwk().map_err(|e| invalid(&pem_path, e))?;
            let thumbprint = jwk
                .thumbprint(ThumbprintHash::SHA256)
                .map_err(|e| invalid(&pem_path, e))?;
            if thumbprint != meta.kid {
                return Err(invalid(
                    &pem_path,
                    "key does not match its kid (RFC 7638 thumbprint)",
                ));
            }
            jwk.common.key_id = Some(meta.kid.clone());
            jwk.common.key_algorithm = Some(
                meta.alg
                    .as_str()
                    .parse()
                    .map_err(|e| invalid(&pem_path, format!("{e}")))?,
            );
            jwk.common.public_key_use = Some(jsonwebtoken::jwk::PublicKeyUse::Signature);
            let decoding_key =
                jsonwebtoken::DecodingKey::from_jwk(&jwk).map_err(|e| invalid(&pem_path, e))?;
            jwks.keys.push(jwk);
            let header =
                serde_json::json!({"alg": meta.alg.as_str(), "typ": "at+jwt", "kid": meta.kid});
            let encoded_header = URL_SAFE_NO_PAD.encode(header.to_string());
            keys.push(LoadedKey {
                meta,
                pair,
                encoded_header,
                decoding_key,
            });
        }
        let active: Vec<usize> = keys
            .iter()
            .enumerate()
            .filter(|(_, k)| k.meta.state == KeyState::Active)
            .map(|(i, _)| i)
            .collect();
        let active = match active.as_slice() {
            [one] => *one,
            [] => return Err(KeyError::NoActive(dir.to_owned())),
            several => {
                return Err(KeyError::SeveralActive(
                    several.iter().map(|&i| keys[i].meta.kid.clone()).collect(),
                ))
            }
        };
        let jwks_json = serde_json::to_string(&jwks).map_err(|e| invalid(dir, e))?;
        Ok(Self {
            keys,
            active,
            jwks_json,
            loaded_from: DiskState {
                dir_mode,
                keys: Ok(loaded_from),
            },
        })
    }

    /// The key that signs new tokens.
    pub fn active(&self) -> &LoadedKey {
        &self.keys[self.active]
    }

    pub fn keys(&self) -> impl Iterator<Item = &LoadedKey> {
        self.keys.iter()
    }

    pub fn find(&self, kid: &str) -> Option<&LoadedKey> {
        self.keys.iter().find(|k| k.meta.kid == kid)
    }

    pub fn jwks_json(&self) -> &str {
        &self.jwks_json
    }
}

/// Parses a PEM file (after checking its mode), and what it was read from.
fn read_pair(
    pem_path: &Path,
    alg: KeyAlg,
    loose: LoosePermissions,
) -> Result<(KeyPair, PemState), KeyError> {
    let mode = check_private(pem_path, "600", loose)?;
    let text = fs::read(pem_path).map_err(io_error(pem_path))?;
    let state = PemState {
        digest: sha2::Sha256::digest(&text).into(),
        mode,
    };
    let pem = pem::parse(&text).map_err(|e| invalid(pem_path, e))?;
    if pem.tag() != "PRIVATE KEY" {
        return Err(invalid(
            pem_path,
            "expected a PKCS#8 'PRIVATE KEY' PEM block",
        ));
    }
    let pair = KeyPair::from_pkcs8(alg, pem.contents()).map_err(|e| invalid(pem_path, e))?;
    Ok((pair, state))
}

/// Refuses `path` (a PEM file, or the keys directory: `fix` is the mode to give it)
/// when group or others have any permission on it — a private key others can read is
/// no longer private — or warns when `loose` allows it. Returns the mode. A path that
/// does not exist is left to the read that follows.
fn check_private(path: &Path, fix: &'static str, loose: LoosePermissions) -> Result<u32, KeyError> {
    let Some(mode) = file_mode(path) else {
        return Ok(0);
    };
    if mode & 0o077 == 0 {
        return Ok(mode);
    }
    let error = KeyError::OpenToOthers {
        path: path.to_owned(),
        mode: mode & 0o777,
        fix,
    };
    match loose {
        LoosePermissions::Refuse => Err(error),
        LoosePermissions::Allow => {
            tracing::warn!(%error, "allowed by allow_loose_key_permissions");
            Ok(mode)
        }
    }
}

#[cfg(unix)]
fn file_mode(path: &Path) -> Option<u32> {
    use std::os::unix::fs::PermissionsExt;
    fs::metadata(path).ok().map(|m| m.permissions().mode())
}

#[cfg(not(unix))]
fn file_mode(_path: &Path) -> Option<u32> {
    None
}

/// The key ring the server signs and verifies with, replaced whole when the keys
/// directory changes — the CLI and other instances change it — so generating,
/// activating or retiring a key needs no restart. Requests take the current ring
/// (`current`) and keep it for the whole request.
pub struct SigningKeys {
    dir: std::path::PathBuf,
    loose: LoosePermissions,
    current: parking_lot::RwLock<std::sync::Arc<KeyRing>>,
    /// The last state on disk that did not load, so that it is reported once rather
    /// than at every check until someone fixes it.
    refused: parking_lot::Mutex<Option<DiskState>>,
}

impl SigningKeys {
    pub fn new(dir: &Path, ring: KeyRing) -> Self {
        Self::with_permissions(dir, ring, LoosePermissions::Refuse)
    }

    /// `new`, reloading with `loose` (as the first ring was loaded).
    pub fn with_permissions(dir: &Path, ring: KeyRing, loose: LoosePermissions) -> Self {
        Self {
            dir: dir.to_owned(),
            loose,
            current: parking_lot::RwLock::new(std::sync::Arc::new(ring)),
            refused: parking_lot::Mutex::new(None),
        }
    }

    pub fn current(&self) -> std::sync::Arc<KeyRing> {
        self.current.read().clone()
    }

    /// Reloads the ring if anything it was loaded from changed on disk: a key's
    /// metadata, or the content or mode of its PEM file. Returns whether it did.
    /// A directory that does not load — a change half made, a key missing, a PEM
    /// rewritten with something that is not its key, or opened to others — keeps
    /// the ring in use and returns why, once for each such state: the next restart
    /// would fail on it, so it is the operator's to fix now.
    pub fn refresh(&self) -> Result<bool, KeyError> {
        let on_disk = DiskState::read(&self.dir);
        if on_disk == self.current().loaded_from {
            *self.refused.lock() = None;
            return Ok(false);
        }
        if self.refused.lock().as_ref() == Some(&on_disk) {
            return Ok(false);
        }
        match KeyRing::load_with(&self.dir, self.loose) {
            Ok(ring) => {
                *self.current.write() = std::sync::Arc::new(ring);
                *self.refused.lock() = None;
                Ok(true)
            }
            Err(error) => {
                *self.refused.lock() = Some(on_disk);
                Err(error)
            }
        }
    }

    /// Checks the directory every `every` for as long as the server runs.
    pub fn spawn_watcher(keys: actix_web::web::Data<Self>, every: std::time::Duration) {
        actix_web::rt::spawn(async move {
            let mut ticks = actix_web::rt::time::interval(every);
            ticks.tick().await;
            loop {
                ticks.tick().await;
                let keys = keys.clone();
                match actix_web::web::block(move || keys.refresh()).await {
                    Ok(Ok(true)) => tracing::info!("signing keys reloaded"),
                    Ok(Ok(false)) => {}
                    Ok(Err(error)) => tracing::error!(
                        %error,
                        "signing keys changed on disk but do not load; still signing and verifying with the ones loaded before — fix the directory, or the next start fails"
                    ),
                    Err(_) => {}
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::super::lifecycle::{activate, ensure_active, generate, read_metas, remove, retire};
    use super::*;
    use chrono::{DateTime, Utc};
    use jsonwebtoken::{DecodingKey, Validation};
    use std::os::unix::fs::PermissionsExt;
    use std::time::Duration;

    fn now() -> DateTime<Utc> {
        Utc::now()
    }

    fn chmod(path: &Path, mode: u32) {
        fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
    }

    #[test]
    fn loose_modes_are_refused_unless_allowed() {
        let dir = tempfile::tempdir().unwrap();
        let meta = generate(dir.path(), KeyAlg::ES256, chrono::Utc::now()).unwrap();
        assert_eq!(
            fs::metadata(dir.path()).unwrap().permissions().mode() & 0o777,
            0o700
        );
        let pem = dir.path().join(format!("{}.pem", meta.kid));
        for (path, mode, fix) in [(&pem, 0o640, "600"), (&dir.path().to_owned(), 0o755, "700")] {
            chmod(path, mode);
            match KeyRing::load(dir.path()) {
                Err(KeyError::OpenToOthers { fix: said, .. }) => assert_eq!(said, fix),
                other => panic!("{:?}", other.err()),
            }
            KeyRing::load_with(dir.path(), LoosePermissions::Allow).unwrap();
            chmod(path, if fix == "600" { 0o600 } else { 0o700 });
        }
        KeyRing::load(dir.path()).unwrap();
    }

    #[test]
    fn a_rewritten_key_file_is_refused_once_and_the_ring_kept() {
        let dir = tempfile::tempdir().unwrap();
        let meta = generate(dir.path(), KeyAlg::ES256, chrono::Utc::now()).unwrap();
        let keys = SigningKeys::new(dir.path(), KeyRing::load(dir.path()).unwrap());
        assert!(!keys.refresh().unwrap());

        let pem = dir.path().join(format!("{}.pem", meta.kid));
        let original = fs::read(&pem).unwrap();
        let other = tempfile::tempdir().unwrap();
        let stranger = generate(other.path(), KeyAlg::ES256, chrono::Utc::now()).unwrap();
        let stranger_pem = fs::read(other.path().join(format!("{}.pem", stranger.kid))).unwrap();
        fs::write(&pem, stranger_pem).unwrap();
        let refused = keys.refresh().err().unwrap();
        assert!(refused.to_string().contains(&meta.kid), "{refused}");
        assert!(!keys.refresh().unwrap(), "reported once");
        assert_eq!(keys.current().active().kid(), meta.kid);

        // Put back: what is loaded again, nothing to reload.
        fs::write(&pem, &original).unwrap();
        assert!(!keys.refresh().unwrap());
        // A mode is part of what was loaded too.
        chmod(&pem, 0o644);
        assert!(matches!(keys.refresh(), Err(KeyError::OpenToOthers { .. })));
        chmod(&pem, 0o600);
        assert!(!keys.refresh().unwrap());
    }

    #[test]
    fn every_algorithm_signs_tokens_that_verify_against_its_jwk() {
        for alg in [KeyAlg::ES256, KeyAlg::RS256, KeyAlg::EdDSA] {
            let dir = tempfile::tempdir().unwrap();
            let meta = generate(dir.path(), alg, now()).unwrap();
            assert_eq!(meta.state, KeyState::Active);
            let ring = KeyRing::load(dir.path()).unwrap();
            let claims = serde_json::json!({"sub": "x", "exp": now().timestamp() + 60});
            let token = crate::tokens::jwt::encode(ring.active(), &claims).unwrap();

            let header = jsonwebtoken::decode_header(&token).unwrap();
            assert_eq!(header.typ.as_deref(), Some("at+jwt"));
            assert_eq!(header.kid.as_deref(), Some(meta.kid.as_str()));
            let jwks: JwkSet = serde_json::from_str(ring.jwks_json()).unwrap();
            let jwk = jwks.find(&meta.kid).unwrap();
            assert_eq!(jwk.thumbprint(ThumbprintHash::SHA256).unwrap(), meta.kid);
            let mut validation = Validation::new(alg.jsonwebtoken());
            validation.required_spec_claims.clear();
            let data = jsonwebtoken::decode::<serde_json::Value>(
                &token,
                &DecodingKey::from_jwk(jwk).unwrap(),
                &validation,
            )
            .unwrap();
            assert_eq!(data.claims["sub"], "x");
            assert!(
                !ring.jwks_json().contains("\"d\""),
                "private part published"
            );
        }
    }

    #[test]
    fn lifecycle_generate_activate_retire_remove() {
        let dir = tempfile::tempdir().unwrap();
        let first = generate(dir.path(), KeyAlg::ES256, now()).unwrap();
        let second = generate(dir.path(), KeyAlg::EdDSA, now()).unwrap();
        assert_eq!(second.state, KeyState::Pending);
        let ring = KeyRing::load(dir.path()).unwrap();
        assert_eq!(ring.active().kid(), first.kid);
        assert_eq!(ring.keys().count(), 2);

        assert!(matches!(
            retire(dir.path(), &first.kid, now()),
            Err(KeyError::RetireActive(_))
        ));
        activate(dir.path(), &second.kid, now()).unwrap();
        let ring = KeyRing::load(dir.path()).unwrap();
        assert_eq!(ring.active().kid(), second.kid);
        let metas = read_metas(dir.path()).unwrap();
        assert_eq!(
            metas.iter().find(|m| m.kid == first.kid).unwrap().state,
            KeyState::Retired
        );

        let ttl = Duration::from_secs(3600);
        assert!(matches!(
            remove(dir.path(), &first.kid, ttl, now()),
            Err(KeyError::StillNeeded { .. })
        ));
        remove(
            dir.path(),
            &first.kid,
            ttl,
            now() + chrono::Duration::hours(2),
        )
        .unwrap();
        assert_eq!(KeyRing::load(dir.path()).unwrap().keys().count(), 1);
        assert!(matches!(
            remove(dir.path(), &second.kid, ttl, now()),
            Err(KeyError::WrongState { .. })
        ));
    }

    #[test]
    fn broken_key_files_are_reported_by_path() {
        let dir = tempfile::tempdir().unwrap();
        let meta = generate(dir.path(), KeyAlg::ES256, now()).unwrap();
        let pem = dir.path().join(format!("{}.pem", meta.kid));
        fs::write(
            &pem,
            "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
        )
        .unwrap();
        let err = KeyRing::load(dir.path()).err().unwrap();
        assert!(err.to_string().contains(&meta.kid), "{err}");
        assert!(matches!(
            KeyRing::load(tempfile::tempdir().unwrap().path()),
            Err(KeyError::NoActive(_))
        ));
    }

    #[test]
    fn concurrent_first_starts_create_exactly_one_active_key() {
        let dir = tempfile::tempdir().unwrap();
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let path = dir.path().to_owned();
                std::thread::spawn(move || ensure_active(&path, now()).unwrap())
            })
            .collect();
        let generated = threads
            .into_iter()
            .filter_map(|t| t.join().unwrap())
            .count();
        assert_eq!(generated, 1);
        assert_eq!(read_metas(dir.path()).unwrap().len(), 1);
        KeyRing::load(dir.path()).unwrap();
    }
}
