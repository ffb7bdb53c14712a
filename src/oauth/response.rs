//! What every OAuth answer that carries or describes a credential has in common.

use actix_web::http::header;
use actix_web::HttpResponseBuilder;

/// `response` with the headers of every answer that carries or describes a
/// credential: `Cache-Control: no-store` and `Pragma: no-cache` (RFC 6749 §5.1).
pub fn uncached(mut response: HttpResponseBuilder) -> HttpResponseBuilder {
    response
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::PRAGMA, "no-cache"));
    response
}
