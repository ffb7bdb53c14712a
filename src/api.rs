//! Pieces every management-API handler shares: page limits and cursors, and PATCH
//! fields that tell `null` (clear it) from absent (leave it).

use serde::{Deserialize, Deserializer};

use crate::error::ApiError;

/// `limit` of a list request: `default` when absent, else 1 to `max`.
pub fn page_limit(limit: Option<i64>, default: i64, max: i64) -> Result<i64, ApiError> {
    let limit = limit.unwrap_or(default);
    if !(1..=max).contains(&limit) {
        return Err(ApiError::invalid_request(
            format!("limit must be between 1 and {max}"),
            Some("limit"),
        ));
    }
    Ok(limit)
}

/// Whether `text` has the shape of one of keygate's ids: `prefix` and 32 hex digits
/// (a UUID). Anything else is refused before a query.
pub fn is_prefixed_id(text: &str, prefix: &str) -> bool {
    text.strip_prefix(prefix)
        .is_some_and(|hex| hex.len() == 32 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// For `#[serde(default, deserialize_with = "present")]` on an `Option<Option<T>>`
/// field: absent → `None`, `null` → `Some(None)`, a value → `Some(Some(value))`.
pub fn present<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}
