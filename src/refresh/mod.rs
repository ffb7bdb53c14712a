//! Refresh tokens: opaque `kgr_…` tokens (256 bits) stored only as SHA-256 digests,
//! in families (one per original grant) bound to a client. Every use rotates the
//! token; a spent token presented again revokes its whole family (RFC 9700 §4.14),
//! except for an optional per-client grace interval that lets a client that lost a
//! response retry without forking the family. Exactly one winner under concurrency is
//! the database's job: a conditional update and its affected-row count.

pub mod model;
pub mod repo;

pub use model::{generate_token, Family, FirstToken, Lifetimes, Owner, Refused, Rotated};
