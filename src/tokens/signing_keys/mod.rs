//! Signing keys — the keys that sign access tokens, not the API keys callers hold:
//! what a key is (`key`), its lifecycle as PEM and JSON files in the keys directory
//! (`lifecycle`: generate, activate, retire, remove) and the ring of parsed keys a
//! server signs and verifies with (`ring`). `ring` reads what `lifecycle` writes;
//! `lifecycle` never needs the ring. The CLI and the server's first start take each
//! step through `service`, which records it in the audit log.

mod key;
mod lifecycle;
mod ring;
pub mod service;

pub use key::{KeyAlg, KeyError, KeyMeta, KeyState, SignError};
pub use lifecycle::{activate, ensure_active, generate, read_metas, remove, retire};
pub use ring::{KeyRing, LoadedKey, LoosePermissions, SigningKeys};
