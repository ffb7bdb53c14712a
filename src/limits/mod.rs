//! Rate limits: requests per minute with a burst (GCRA, the `governor` crate), set by
//! the organization's tier and, tighter, by a key's or client's own override. Every
//! request the identity resolver admits is counted twice — against its credential and
//! against its organization — and the tighter of the two is reported in the
//! `RateLimit-*` headers (IETF draft "RateLimit header fields for HTTP").
//!
//! The limiter state is in this process — with several instances each enforces the
//! limits on its own share of the traffic — unless a Redis URL is configured: then
//! the instances share one state there (`shared`), falling back to their own when
//! Redis is unreachable.
//!
//! `tiers` holds the configured limits, `gcra` the in-process limiter, `shared` the
//! Redis one, `headers` the middleware that reports the allowance, `verdict`
//! what both limiters answer, and `recent` which credentials were refused lately.

pub mod gcra;
pub mod headers;
pub mod recent;
pub mod shared;
pub mod tiers;
pub mod verdict;

pub use gcra::{LimitKey, RateLimits};
pub use headers::rate_limit_headers;
pub use shared::SharedLimiter;
pub use tiers::{default_tiers, TierLimit, FALLBACK_TIER};
pub use verdict::{Allowance, Limited};
