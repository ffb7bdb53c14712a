//! Pieces every management-API handler shares: page limits and cursors, and PATCH
//! fields that tell `null` (clear it) from absent (leave it).

use actix_web::HttpResponse;
use serde::{Deserialize, Deserializer, Serialize};

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

/// Refuses an `after` cursor that is not an id with `prefix` (`what` names it in the
/// message, e.g. "a key id").
pub fn check_cursor(after: Option<&str>, prefix: &str, what: &str) -> Result<(), ApiError> {
    if after.is_some_and(|id| !is_prefixed_id(id, prefix)) {
        return Err(ApiError::invalid_request(
            format!("after must be {what} from next_cursor"),
            Some("after"),
        ));
    }
    Ok(())
}

/// Splits `rows` read with `limit + 1` — the one row more than asked says whether
/// there is a next page — into the page and its `next_cursor` (the last id shown).
pub fn split_page<R>(
    mut rows: Vec<R>,
    limit: i64,
    id: impl Fn(&R) -> &str,
) -> (Vec<R>, Option<String>) {
    let limit = usize::try_from(limit).unwrap_or(0);
    let more = rows.len() > limit;
    rows.truncate(limit);
    let next_cursor = more
        .then(|| rows.last().map(|r| id(r).to_owned()))
        .flatten();
    (rows, next_cursor)
}

/// A list response: `{"data": […], "next_cursor": id | null}`.
pub fn page_response<V: Serialize>(data: Vec<V>, next_cursor: Option<String>) -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({ "data": data, "next_cursor": next_cursor }))
}

/// An optional JSON body: empty (or blank) is `T::default()`; anything else must parse.
pub fn optional_json<T: serde::de::DeserializeOwned + Default>(body: &[u8]) -> Result<T, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(body)
        .map_err(|e| ApiError::invalid_request(format!("invalid JSON body: {e}"), None))
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
