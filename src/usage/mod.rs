//! Usage metering: requests per credential (API key or client), minute and status
//! class, and token-endpoint requests per client, minute and outcome (`issued`, or the
//! refusal's RFC 6749 error code). Every request the identity resolver attributes to a
//! credential is counted in memory (`Meter::count`), and so is every token request
//! that names a client (`Meter::count_token`): no database write per request. A
//! background task writes both in one transaction every `usage_flush_interval`, and
//! `Application` writes the rest when the server stops gracefully. Read as reports
//! (`report`) through `GET /v1/usage` and `keygate usage`.

pub mod counts;
pub mod handlers;
pub mod meter;
pub mod repo;
pub mod report;

pub use counts::{status_class, Metered, ISSUED};
pub use meter::{meter_requests, Meter};
