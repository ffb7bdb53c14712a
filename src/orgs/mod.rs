//! Organizations: the tenants every client (and, later, API key) belongs to, and the
//! default organization created on an empty database. No HTTP routes yet; the
//! management API (`/v1/orgs`) comes with the identity resolver.

pub mod model;
pub mod repo;

pub use model::{OrgId, Organization, DEFAULT_ORG_SLUG};
