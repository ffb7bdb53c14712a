//! The audit log: a record of who created, changed or revoked which credential, when
//! and from where — never a secret. Written on the same connection as the change it
//! records, inside its transaction (`Store::write`), from typed events
//! (`event::Change`); shown as `view::EventView` through `GET /v1/audit-events`
//! (scope `admin`, own organization) and `keygate audit`.

pub mod event;
pub mod handlers;
pub mod model;
pub mod repo;
pub mod view;

pub use event::{Change, Diff, SigningKeyStep, Via};
pub use model::{parse_actor, ActorFilterError, Audited, Event, EventType, Source};
pub use repo::{By, Target};
