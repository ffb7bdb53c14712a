//! API keys: the `kg_live_…`/`kg_test_…` format (`format`), their rows and validation
//! (`model`), storage as SHA-256 digests (`repo`), the use cases every door calls —
//! create, update, revoke, rotate, each with its audit event (`service`) — how a key
//! is shown (`view`), an organization's key policy — maximum lifetime, expiry
//! required — enforced on every create and rotate (`policy`), coalesced last-used
//! times (`last_used`), and the management API
//! `/v1/api-keys` (`handlers`). Resolving a presented key into a `Principal` is the
//! identity resolver's job (`identity`).

pub mod format;
pub mod handlers;
pub mod last_used;
pub mod model;
pub mod policy;
pub mod repo;
pub mod service;
pub mod view;

pub use format::Environment;
pub use last_used::LastUsed;
pub use model::{ApiKey, IssuedKey, KeyDraft, KeyRequest, KeyRequestError, KeyState};
pub use service::KeyError;
pub use view::ApiKeyView;
