//! Signing keys — the keys that sign access tokens, not the API keys callers hold:
//! what a key is (`key`), its lifecycle as PEM and JSON files in the keys directory
//! (`lifecycle`: generate, activate, retire, remove) and the ring of parsed keys a
//! server signs and verifies with (`ring`). `ring` reads what `lifecycle` writes;
//! `lifecycle` never needs the ring.

mod key;
mod lifecycle;
mod ring;

pub use key::{KeyAlg, KeyError, KeyMeta, KeyState, SignError};
pub use lifecycle::{activate, ensure_active, generate, read_metas, remove, retire};
pub use ring::{KeyRing, LoadedKey, LoosePermissions, SigningKeys};
