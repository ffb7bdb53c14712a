//! Logging: one tracing subscriber (text or JSON, to stderr, filtered by `KEYGATE_LOG`)
//! and a request-log middleware that gives every request an id — the caller's
//! `X-Request-Id` when it is a plain token, else a new one — carried by every log line
//! of the request and returned in `X-Request-Id`, and records method, path (never the
//! query string, where a careless client may put a secret), status and latency.
//! Method and path are the caller's text, so the log gets them bounded and escaped
//! (`bounded`): a made-up 100 KB method must not become a 100 KB log line.

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

/// The HTTP layer's connection errors: a client's malformed request (a NUL byte in a
/// header, a broken request line) is answered 400 by actix-http, which also logs it
/// at ERROR — an operator would be paged for a client's mistake. Off unless
/// `KEYGATE_LOG` names `actix_http` itself.
const CLIENT_STREAM_ERRORS: &str = "actix_http::h1::dispatcher=off";

/// Installs the global subscriber. `KEYGATE_LOG` takes `RUST_LOG` syntax; the default
/// is `info`. Per-request lines are at `debug`.
pub fn init(format: LogFormat) {
    let given = std::env::var("KEYGATE_LOG").ok();
    let mut filter =
        EnvFilter::try_from_env("KEYGATE_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    if !given.is_some_and(|text| text.contains("actix_http")) {
        if let Ok(directive) = CLIENT_STREAM_ERRORS.parse() {
            filter = filter.add_directive(directive);
        }
    }
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    // try_init: a second call (tests build several apps) keeps the first subscriber.
    let _ = match format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

pub const REQUEST_ID: &str = "x-request-id";
/// A caller's request id longer than this, or with other than `[A-Za-z0-9._-]`, is
/// replaced: it goes into every log line of the request.
const MAX_REQUEST_ID_LEN: usize = 64;

fn request_id(req: &ServiceRequest) -> String {
    req.headers()
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|id| {
            !id.is_empty()
                && id.len() <= MAX_REQUEST_ID_LEN
                && id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
        })
        .map_or_else(new_request_id, str::to_owned)
}

/// 32 hex digits: this process's random 64-bit prefix and a counter — unique, and
/// without a trip to the OS random source on every request.
fn new_request_id() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::OnceLock;
    static PREFIX: OnceLock<u64> = OnceLock::new();
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let prefix = PREFIX.get_or_init(|| uuid::Uuid::new_v4().as_u64_pair().0);
    format!("{prefix:016x}{:016x}", NEXT.fetch_add(1, Ordering::Relaxed))
}

/// Longest method and path the request line logs, in characters, before `…`. Every
/// route's path is far shorter than the path's bound; the standard methods are at
/// most 7 characters.
const MAX_LOGGED_METHOD: usize = 16;
const MAX_LOGGED_PATH: usize = 256;
/// Longest client id a log line carries (keygate's are 36 characters); a caller may
/// send any.
pub const MAX_LOGGED_ID: usize = 64;

/// `text` for a log line: at most `max` characters, then `…`; anything but printable
/// ASCII escaped (`\u{…}`), so a caller can neither make a line long nor forge one.
pub fn bounded(text: &str, max: usize) -> String {
    let mut out = String::with_capacity(text.len().min(max) + 3);
    for (i, c) in text.chars().enumerate() {
        if i == max {
            out.push('…');
            break;
        }
        match c {
            '\\' => out.push_str("\\\\"),
            c if c.is_ascii_graphic() => out.push(c),
            c => out.extend(c.escape_unicode()),
        }
    }
    out
}

pub async fn log_request(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    use tracing::Instrument;
    let started = Instant::now();
    let method = req.method().clone();
    let path = bounded(req.path(), MAX_LOGGED_PATH);
    // The route pattern (`/v1/api-keys/{id}`), not the path: metrics stay few.
    let route = req.match_pattern();
    let metrics = req
        .app_data::<actix_web::web::Data<crate::metrics::Metrics>>()
        .cloned();
    let id = request_id(&req);
    let span = tracing::info_span!("request", request_id = %id);
    let mut response = next.call(req).instrument(span.clone()).await?;
    if let Ok(value) = actix_web::http::header::HeaderValue::from_str(&id) {
        response.headers_mut().insert(
            actix_web::http::header::HeaderName::from_static(REQUEST_ID),
            value,
        );
    }
    if let Some(metrics) = metrics {
        metrics.request(
            route.as_deref(),
            &method,
            response.status().as_u16(),
            started.elapsed().as_secs_f64(),
        );
    }
    span.in_scope(|| {
        tracing::debug!(
            method = %bounded(method.as_str(), MAX_LOGGED_METHOD),
            %path,
            status = response.status().as_u16(),
            elapsed_us = started.elapsed().as_micros() as u64,
            "request"
        )
    });
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logged_caller_text_is_bounded_and_escaped() {
        assert_eq!(bounded("/v1/me", 256), "/v1/me");
        assert_eq!(
            bounded(&"A".repeat(100_000), 16),
            format!("{}…", "A".repeat(16))
        );
        assert_eq!(bounded("a b\nc\u{e9}\\", 16), "a\\u{20}b\\u{a}c\\u{e9}\\\\");
    }
}
