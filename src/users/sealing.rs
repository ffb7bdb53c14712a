//! The key that seals each person's TOTP secret at rest. A TOTP secret, unlike a
//! password, must be read back to check a code, so it cannot be stored as a hash; it
//! is stored encrypted with AES-256-GCM (aws-lc-rs, already in the tree) under a key
//! that lives beside the signing keys — `keys/second-factor.seal`, 32 random bytes in
//! hex, mode 0600 — not in the database: a copy of the database alone opens no
//! second factor. Each sealed value is bound to its person (the user id is the
//! additional data), so a sealed secret copied onto another row does not open.
//!
//! The key is made on the first start that finds none, without replacing one another
//! instance made at the same moment (written aside, then hard-linked into place,
//! which fails if the name exists). A start that finds none and cannot write one (a
//! keys directory mounted read-only) serves without it (`Sealer::without_key`): it
//! says so in its log, and setting up a second factor is refused until the file is
//! there; a malformed or exposed key file still stops the start. Every instance must share it, as they share the
//! signing keys; losing it means every person re-enrols (their recovery codes still
//! sign them in).

use std::path::Path;

use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

/// The key's file name in the keys directory.
pub const SEAL_KEY_FILE: &str = "second-factor.seal";

/// What a sealed value starts with: the format's version.
const SEALED_PREFIX: &str = "v1.";

#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error("{path}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    /// There was no key file and none could be written (a read-only keys directory).
    #[error("no {SEAL_KEY_FILE} in the keys directory, and none could be made there ({path})")]
    CannotCreate {
        path: String,
        source: std::io::Error,
    },
    /// This server runs without a sealing key (`CannotCreate` at start).
    #[error(
        "this server has no key to seal second factors ({SEAL_KEY_FILE} in the keys directory)"
    )]
    NoKey,
    #[error("{0}: not 64 hexadecimal characters (a 256-bit key)")]
    Malformed(String),
    #[error("{path} is readable by others (mode {mode:o}); chmod 600 it")]
    OpenToOthers { path: String, mode: u32 },
    /// A sealed value that does not open: another key, another person, or altered.
    #[error("a sealed value does not open with this key")]
    Unopenable,
    #[error("the system's random number generator failed")]
    Random,
}

/// Seals and opens values with the server's key. Redacting `Debug`.
pub struct Sealer {
    key: Option<LessSafeKey>,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealer(<key>)")
    }
}

impl Sealer {
    /// The sealer of the key in `dir`, made first if there is none.
    pub fn load_or_create(dir: &Path) -> Result<Self, SealError> {
        let path = dir.join(SEAL_KEY_FILE);
        let shown = path.display().to_string();
        if !path.exists() {
            create_key_file(dir, &path).map_err(|error| match error {
                SealError::Io { path, source } => SealError::CannotCreate { path, source },
                other => other,
            })?;
        }
        check_private(&path)?;
        let text = std::fs::read_to_string(&path).map_err(|source| SealError::Io {
            path: shown.clone(),
            source,
        })?;
        let bytes = hex_decode(text.trim()).ok_or_else(|| SealError::Malformed(shown.clone()))?;
        let key: [u8; 32] = bytes
            .try_into()
            .map_err(|_| SealError::Malformed(shown.clone()))?;
        Ok(Self::from_key(&key))
    }

    /// A sealer of the raw key `key` (tests).
    pub fn from_key(key: &[u8; 32]) -> Self {
        let unbound = UnboundKey::new(&AES_256_GCM, key)
            .unwrap_or_else(|_| unreachable!("AES-256-GCM takes any 32-byte key"));
        Self {
            key: Some(LessSafeKey::new(unbound)),
        }
    }

    /// A sealer with no key: every seal and open is `NoKey`.
    pub fn without_key() -> Self {
        Self { key: None }
    }

    fn key(&self) -> Result<&LessSafeKey, SealError> {
        self.key.as_ref().ok_or(SealError::NoKey)
    }

    /// `plaintext` sealed for `bound_to` (a user id): `v1.` and base64url of the
    /// random nonce, the ciphertext and the tag.
    pub fn seal(&self, plaintext: &[u8], bound_to: &str) -> Result<String, SealError> {
        let mut nonce = [0u8; NONCE_LEN];
        aws_lc_rs::rand::fill(&mut nonce).map_err(|_| SealError::Random)?;
        let mut in_out = plaintext.to_vec();
        self.key()?
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(bound_to.as_bytes()),
                &mut in_out,
            )
            .map_err(|_| SealError::Random)?;
        let mut sealed = nonce.to_vec();
        sealed.extend_from_slice(&in_out);
        Ok(format!("{SEALED_PREFIX}{}", URL_SAFE_NO_PAD.encode(sealed)))
    }

    /// The plaintext of `sealed`, if it was sealed with this key for `bound_to`.
    pub fn open(&self, sealed: &str, bound_to: &str) -> Result<Vec<u8>, SealError> {
        let key = self.key()?;
        let bytes = sealed
            .strip_prefix(SEALED_PREFIX)
            .and_then(|b64| URL_SAFE_NO_PAD.decode(b64).ok())
            .filter(|bytes| bytes.len() > NONCE_LEN)
            .ok_or(SealError::Unopenable)?;
        let (nonce, ciphertext) = bytes.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| SealError::Unopenable)?;
        let mut in_out = ciphertext.to_vec();
        let plain = key
            .open_in_place(nonce, Aad::from(bound_to.as_bytes()), &mut in_out)
            .map_err(|_| SealError::Unopenable)?;
        Ok(plain.to_vec())
    }
}

fn create_key_file(dir: &Path, path: &Path) -> Result<(), SealError> {
    let io = |p: &Path| {
        let shown = p.display().to_string();
        move |source| SealError::Io {
            path: shown,
            source,
        }
    };
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let mut key = [0u8; 32];
    aws_lc_rs::rand::fill(&mut key).map_err(|_| SealError::Random)?;
    let aside = dir.join(format!(
        ".{SEAL_KEY_FILE}.{}",
        uuid::Uuid::new_v4().simple()
    ));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    {
        use std::io::Write;
        let mut file = options.open(&aside).map_err(io(&aside))?;
        file.write_all(hex_encode(&key).as_bytes())
            .and_then(|()| file.sync_all())
            .map_err(io(&aside))?;
    }
    // Into place only if no other instance got there first (then theirs is used).
    let linked = std::fs::hard_link(&aside, path);
    let _ = std::fs::remove_file(&aside);
    match linked {
        Ok(()) => {
            tracing::info!(path = %path.display(), "made the key that seals second factors");
            Ok(())
        }
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(error) => Err(io(path)(error)),
    }
}

fn hex_encode(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn hex_decode(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) || !text.is_ascii() {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).ok())
        .collect()
}

#[cfg(unix)]
fn check_private(path: &Path) -> Result<(), SealError> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path)
        .map_err(|source| SealError::Io {
            path: path.display().to_string(),
            source,
        })?
        .permissions()
        .mode();
    if mode & 0o077 != 0 {
        return Err(SealError::OpenToOthers {
            path: path.display().to_string(),
            mode: mode & 0o777,
        });
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_private(_path: &Path) -> Result<(), SealError> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_value_opens_only_with_its_key_for_its_person() {
        let sealer = Sealer::from_key(&[7; 32]);
        let sealed = sealer.seal(b"totp secret", "usr_a").unwrap();
        assert!(sealed.starts_with("v1.") && !sealed.contains("totp"));
        assert_eq!(sealer.open(&sealed, "usr_a").unwrap(), b"totp secret");
        assert_ne!(
            sealed,
            sealer.seal(b"totp secret", "usr_a").unwrap(),
            "a fresh nonce"
        );
        assert!(matches!(
            sealer.open(&sealed, "usr_b"),
            Err(SealError::Unopenable)
        ));
        let other = Sealer::from_key(&[8; 32]);
        assert!(matches!(
            other.open(&sealed, "usr_a"),
            Err(SealError::Unopenable)
        ));
        let mut altered = sealed.clone().into_bytes();
        let last = altered.len() - 2;
        altered[last] = if altered[last] == b'A' { b'B' } else { b'A' };
        let altered = String::from_utf8(altered).unwrap();
        assert!(sealer.open(&altered, "usr_a").is_err());
        for junk in ["", "v1.", "v2.abc", "v1.!!!", "v1.AAAA"] {
            assert!(sealer.open(junk, "usr_a").is_err(), "{junk}");
        }
    }

    #[test]
    fn the_key_file_is_made_once_private_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let first = Sealer::load_or_create(dir.path()).unwrap();
        let sealed = first.seal(b"x", "u").unwrap();
        let again = Sealer::load_or_create(dir.path()).unwrap();
        assert_eq!(again.open(&sealed, "u").unwrap(), b"x");
        let path = dir.path().join(SEAL_KEY_FILE);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
            assert!(matches!(
                Sealer::load_or_create(dir.path()),
                Err(SealError::OpenToOthers { .. })
            ));
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        std::fs::write(&path, "not hex").unwrap();
        assert!(matches!(
            Sealer::load_or_create(dir.path()),
            Err(SealError::Malformed(_))
        ));
        let leftovers = std::fs::read_dir(dir.path()).unwrap().count();
        assert_eq!(leftovers, 1, "nothing left aside");
    }

    #[test]
    fn without_a_key_nothing_is_sealed_or_opened() {
        let none = Sealer::without_key();
        assert!(matches!(none.seal(b"x", "u"), Err(SealError::NoKey)));
        assert!(matches!(none.open("v1.AAAA", "u"), Err(SealError::NoKey)));
        // A directory that cannot take the file: the start is told which error it is.
        let missing = std::path::Path::new("/proc/keygate-no-such-dir");
        assert!(matches!(
            Sealer::load_or_create(missing),
            Err(SealError::CannotCreate { .. })
        ));
    }
}
