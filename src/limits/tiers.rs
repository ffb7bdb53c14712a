//! The per-tier limits as configured: `[tiers.<name>]` in the settings file, and the
//! tier an organization without a configured one falls back to.

use std::collections::BTreeMap;

use serde::Deserialize;

/// One tier's limit, as configured.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct TierLimit {
    pub requests_per_minute: u32,
    /// Requests allowed at once after a quiet spell.
    pub burst: u32,
}

/// The tiers keygate knows by default; `[tiers.<name>]` in the settings file
/// replaces them.
pub fn default_tiers() -> BTreeMap<String, TierLimit> {
    [
        ("free", 600, 100),
        ("pro", 6_000, 1_000),
        ("enterprise", 60_000, 10_000),
    ]
    .into_iter()
    .map(|(name, requests_per_minute, burst)| {
        (
            name.to_owned(),
            TierLimit {
                requests_per_minute,
                burst,
            },
        )
    })
    .collect()
}

/// The tier an organization falls back to when its tier is not configured.
pub const FALLBACK_TIER: &str = "free";
