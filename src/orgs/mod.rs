//! Organizations: the tenants every client and API key belongs to, and the default
//! organization created on an empty database — their rows (`model`, `repo`), the use
//! cases every door calls, each with its audit event (`service`), and how one is
//! shown (`view`). No HTTP routes yet.

pub mod model;
pub mod repo;
pub mod service;
pub mod view;

pub use model::{Organization, DEFAULT_ORG_SLUG};
pub use service::OrgError;
pub use view::OrgView;
