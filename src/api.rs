//! Pieces every management-API handler shares: page limits and cursors, PATCH
//! fields that tell `null` (clear it) from absent (leave it), and optional JSON bodies
//! held to the same limits as `web::Json` ones.

use actix_web::{FromRequest, HttpRequest, HttpResponse};
use serde::{Deserialize, Deserializer, Serialize};

use crate::error::ApiError;
use crate::tokens::TokenKind;

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
pub fn check_cursor(after: Option<&str>, kind: TokenKind, what: &str) -> Result<(), ApiError> {
    if after.is_some_and(|id| !kind.is_id(id)) {
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

/// A page of a list: the items, and the `after` of the next page (`null` on the
/// last one).
#[derive(Serialize, utoipa::ToSchema)]
pub struct Page<V> {
    pub data: Vec<V>,
    pub next_cursor: Option<String>,
}

/// A list response: `{"data": […], "next_cursor": id | null}`.
pub fn page_response<V: Serialize>(data: Vec<V>, next_cursor: Option<String>) -> HttpResponse {
    HttpResponse::Ok().json(Page { data, next_cursor })
}

/// The largest request body the management API reads (`max_body_bytes`), as app
/// data: `error::json_config` holds `web::Json` bodies to it, `OptionalJson` reads it.
#[derive(Clone, Copy, Debug)]
pub struct BodyLimit(pub usize);

/// An optional JSON body, for endpoints whose every field has a default (the rotate
/// endpoints): empty (or blank), or JSON `null`, is `T::default()`; anything else must be
/// `application/json` (else 415) of at most `BodyLimit` bytes (else 413) and parse.
/// The limits are `web::Json`'s, which cannot take an empty body.
pub struct OptionalJson<T>(pub T);

impl<T> OptionalJson<T> {
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T: serde::de::DeserializeOwned + Default + 'static> FromRequest for OptionalJson<T> {
    type Error = ApiError;
    type Future = futures_util::future::LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut actix_web::dev::Payload) -> Self::Future {
        let limit = req
            .app_data::<BodyLimit>()
            .map_or(DEFAULT_BODY_LIMIT, |l| l.0);
        let declared = req
            .headers()
            .get(actix_web::http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok());
        let json = is_json(req);
        let payload = actix_web::web::Payload::from_request(req, payload).into_inner();
        Box::pin(async move {
            if declared.is_some_and(|len| len > limit) {
                return Err(ApiError::PayloadTooLarge { limit });
            }
            let body = payload
                .map_err(|_| ApiError::invalid_request("could not read the request body", None))?
                .to_bytes_limited(limit)
                .await
                .map_err(|_| ApiError::PayloadTooLarge { limit })?
                .map_err(|_| ApiError::invalid_request("could not read the request body", None))?;
            if body.iter().all(u8::is_ascii_whitespace) {
                return Ok(Self(T::default()));
            }
            if !json {
                return Err(ApiError::UnsupportedMediaType);
            }
            serde_json::from_slice::<Option<T>>(&body)
                .map(|body| Self(body.unwrap_or_default()))
                .map_err(|e| ApiError::invalid_request(format!("invalid JSON body: {e}"), None))
        })
    }
}

/// Used where no `BodyLimit` was registered (the default of `max_body_bytes`).
const DEFAULT_BODY_LIMIT: usize = 16 * 1024;

/// Whether the request says its body is JSON: `application/json`, or a `+json` type
/// (as `web::Json` accepts).
fn is_json(req: &HttpRequest) -> bool {
    use actix_web::HttpMessage;
    req.mime_type().ok().flatten().is_some_and(|mime| {
        mime.type_() == "application"
            && (mime.subtype() == "json" || mime.suffix().is_some_and(|s| s == "json"))
    })
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
