//! What every dashboard response carries and every dashboard request is checked for:
//! the security headers of an HTML page, the same-origin check of a form post (with
//! the per-session CSRF token, `session`), and `?next=` redirects that can only lead
//! to keygate's own pages.

use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, HttpResponseBuilder};

use crate::config::Issuer;

/// No inline script or style, nothing from elsewhere, no framing, forms only to
/// keygate itself.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; \
frame-ancestors 'none'; base-uri 'none'";

/// An HTML page with the headers every dashboard page carries. Pages are about one
/// person's session (and some show a secret once): never stored by a cache.
pub fn page(status: StatusCode, html: String) -> HttpResponse {
    let mut response = HttpResponse::build(status);
    with_page_headers(&mut response);
    response.content_type("text/html; charset=utf-8").body(html)
}

/// 303 to `location` (one of keygate's own paths), with the page headers.
pub fn see_other(location: &str) -> HttpResponseBuilder {
    let mut response = HttpResponse::SeeOther();
    with_page_headers(&mut response);
    response.insert_header((header::LOCATION, location.to_owned()));
    response
}

/// The policy of a page whose form is answered with a redirect to `redirect_uri`
/// (the consent page: Chrome holds the redirect after a post to `form-action`):
/// the same, with that URI's origin — or its scheme, for an app's own — allowed as a
/// form target besides keygate.
pub fn allow_form_redirect_to(response: &mut HttpResponse, redirect_uri: &str) {
    let Ok(url) = url::Url::parse(redirect_uri) else {
        return;
    };
    let source = match url.host_str() {
        Some(_) => url.origin().ascii_serialization(),
        None => format!("{}:", url.scheme()),
    };
    if source
        .bytes()
        .any(|b| b == b';' || b == b',' || !b.is_ascii_graphic())
    {
        return;
    }
    let policy = CONTENT_SECURITY_POLICY.replace(
        "form-action 'self'",
        &format!("form-action 'self' {source}"),
    );
    if let Ok(value) = HeaderValue::from_str(&policy) {
        response
            .headers_mut()
            .insert(header::CONTENT_SECURITY_POLICY, value);
    }
}

fn with_page_headers(response: &mut HttpResponseBuilder) {
    response
        .insert_header((header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::REFERRER_POLICY, "same-origin"))
        .insert_header((header::X_FRAME_OPTIONS, "DENY"))
        .insert_header((header::CACHE_CONTROL, "no-store"));
}

/// `next` if it names one of keygate's own pages — a path, not `//host` or
/// `/\host` (which browsers take for another host), no scheme, nothing a browser
/// would normalise into one — else the dashboard's first page.
pub fn safe_next(next: Option<&str>) -> &str {
    const HOME: &str = "/dashboard";
    let Some(next) = next else {
        return HOME;
    };
    let own_path = next.starts_with('/')
        && !next.starts_with("//")
        && !next.starts_with("/\\")
        // Room for an OAuth authorization request (`oauth::authorization`, 8 KiB).
        && next.len() <= 9 * 1024
        && next
            .bytes()
            .all(|b| b.is_ascii_graphic() && b != b'\\' && b != b'"' && b != b'<' && b != b'>');
    if own_path {
        next
    } else {
        HOME
    }
}

/// Whether a form post comes from keygate's own pages: its `Origin` (every current
/// browser sends one with a POST), or failing that its `Referer`, must be the
/// issuer's origin. The CSRF token (`session`) is checked besides, for a signed-in
/// session; this also covers the sign-in and set-up forms, which have no session yet.
pub fn same_origin(req: &HttpRequest, issuer: &Issuer) -> bool {
    let own = origin_of(issuer.base());
    let header_origin = |name: header::HeaderName| {
        req.headers()
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
            .map(str::to_owned)
    };
    if let Some(origin) = header_origin(header::ORIGIN) {
        return origin != "null" && origin_of(&origin) == own;
    }
    header_origin(header::REFERER).is_some_and(|referer| origin_of(&referer) == own)
}

/// `scheme://host[:port]` of an absolute URL (lowercased), or `""`.
fn origin_of(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(parsed) => parsed.origin().ascii_serialization().to_ascii_lowercase(),
        Err(_) => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_leads_only_to_keygate_paths() {
        for own in ["/dashboard/keys", "/dashboard/keys?x=1"] {
            assert_eq!(safe_next(Some(own)), own);
        }
        for other in [
            "https://evil.example/",
            "//evil.example/",
            "/\\evil.example",
            "\\\\evil.example",
            "javascript:alert(1)",
            "dashboard",
            "/a b",
            "/\u{0}x",
            "/\"><script>",
            "",
        ] {
            assert_eq!(safe_next(Some(other)), "/dashboard", "{other:?}");
        }
        assert_eq!(safe_next(None), "/dashboard");
    }

    #[test]
    fn a_post_from_another_origin_is_refused() {
        let issuer: Issuer = "http://127.0.0.1:8080".parse().unwrap();
        let with = |name: &str, value: &str| {
            actix_web::test::TestRequest::post()
                .insert_header((name, value))
                .to_http_request()
        };
        assert!(same_origin(
            &with("Origin", "http://127.0.0.1:8080"),
            &issuer
        ));
        assert!(same_origin(
            &with("Referer", "http://127.0.0.1:8080/sign-in"),
            &issuer
        ));
        assert!(!same_origin(
            &with("Origin", "http://evil.example"),
            &issuer
        ));
        assert!(!same_origin(&with("Origin", "null"), &issuer));
        assert!(!same_origin(
            &with("Origin", "http://127.0.0.1:8081"),
            &issuer
        ));
        assert!(!same_origin(
            &with("Referer", "http://evil.example/x"),
            &issuer
        ));
        let bare = actix_web::test::TestRequest::post().to_http_request();
        assert!(!same_origin(&bare, &issuer), "a post with neither header");
    }
}
