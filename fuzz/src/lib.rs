//! What the fuzz targets share: a plain-text framing of an HTTP request, so that seed
//! files are readable and a crash input can be pasted into a regression test.
//!
//! ```text
//! Authorization: Basic YTpi        <- header lines, `Name: value`; repeats allowed
//! Content-Type: application/x-www-form-urlencoded
//! ?a=b                             <- a line starting with `?`: the query string
//!                                  <- an empty line
//! grant_type=client_credentials    <- the body (any bytes)
//! ```
//!
//! Header lines whose name or value actix-web would refuse are skipped, as a real
//! server never hands those to keygate. One space after the colon is dropped; any
//! other whitespace is kept.

use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};

pub struct Request<'a> {
    pub headers: HeaderMap,
    pub query: String,
    pub body: &'a [u8],
}

pub fn request(data: &[u8]) -> Request<'_> {
    let (head, body) = match data.windows(2).position(|w| w == b"\n\n") {
        Some(i) => (&data[..i], &data[i + 2..]),
        None => (data, &b""[..]),
    };
    let mut headers = HeaderMap::new();
    let mut query = String::new();
    for line in head.split(|&b| b == b'\n') {
        if let Some(q) = line.strip_prefix(b"?") {
            query = String::from_utf8_lossy(q).into_owned();
            continue;
        }
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let value = &line[colon + 1..];
        let value = value.strip_prefix(b" ").unwrap_or(value);
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(&line[..colon]),
            HeaderValue::from_bytes(value),
        ) {
            headers.append(name, value);
        }
    }
    Request {
        headers,
        query,
        body,
    }
}
