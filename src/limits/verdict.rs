//! What a limiter answers: within the limits (`Allowance`) or over them (`Limited`).

/// A request within its limits: what the `RateLimit-*` headers say.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Allowance {
    pub limit: u32,
    pub remaining: u32,
    /// Seconds until the allowance is whole again.
    pub reset_secs: u64,
}

/// A request over its limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limited {
    pub limit: u32,
    pub retry_after_secs: u64,
}
