//! Organizations: the tenants every client and API key belongs to, and the default
//! organization created on an empty database — their rows (`model`, `repo`), the use
//! cases every door calls, each with its audit event (`service`), how one is shown
//! (`view`), and `/v1/organization`, the caller's own (`handlers`).

pub mod handlers;
pub mod model;
pub mod repo;
pub mod service;
pub mod view;

pub use model::{Organization, DEFAULT_ORG_SLUG};
pub use service::OrgError;
pub use view::OrgView;
