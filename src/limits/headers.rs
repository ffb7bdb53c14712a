//! The `RateLimit-*` response headers (IETF draft "RateLimit header fields for
//! HTTP") of the allowance the identity resolver's rate-limit check granted.

use super::verdict::Allowance;

/// Middleware: the `RateLimit-*` headers of the allowance the `Principal` extractor
/// left in the request's extensions (a 429 sets its own).
pub async fn rate_limit_headers(
    req: actix_web::dev::ServiceRequest,
    next: actix_web::middleware::Next<impl actix_web::body::MessageBody>,
) -> Result<actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>, actix_web::Error> {
    use actix_web::http::header::{HeaderName, HeaderValue};
    use actix_web::HttpMessage;
    let mut response = next.call(req).await?;
    let allowance = response.request().extensions().get::<Allowance>().copied();
    if let Some(allowance) = allowance {
        let headers = response.headers_mut();
        // `HeaderValue::from(integer)` formats without a String.
        for (name, value) in [
            ("ratelimit-limit", HeaderValue::from(allowance.limit)),
            (
                "ratelimit-remaining",
                HeaderValue::from(allowance.remaining),
            ),
            ("ratelimit-reset", HeaderValue::from(allowance.reset_secs)),
        ] {
            headers.insert(HeaderName::from_static(name), value);
        }
    }
    Ok(response)
}
