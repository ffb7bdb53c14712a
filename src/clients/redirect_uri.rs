//! Redirect URIs for the authorization code grant: which a client may register, and
//! whether the one an authorization request names is one of them.
//!
//! Registered (RFC 6749 §3.1.2, RFC 8252, RFC 9700 §2.1): an absolute URI without a
//! fragment or userinfo, at most 2,000 characters, that is
//! - `https://…` (a web application),
//! - `http://127.0.0.1…` or `http://[::1]…` (a native app or a CLI listening on
//!   loopback, RFC 8252 §7.3 — `localhost` is refused, as §8.3 advises, since a name
//!   can resolve elsewhere), or
//! - a private-use scheme in reverse-domain form, `com.example.app:/callback` (a native
//!   app, RFC 8252 §7.1).
//!
//! Matched: by exact string (RFC 9700 §4.1.3), except that a loopback URI matches at
//! any port (RFC 8252 §7.3: the app picks a free port at the time of the request).

/// The longest redirect URI keygate takes.
pub const MAX_REDIRECT_URI_CHARS: usize = 2000;

/// Why a redirect URI cannot be registered; the message is the RFC 7591
/// `invalid_redirect_uri` description.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum RedirectUriError {
    #[error("a redirect URI must be an absolute URI of at most 2000 characters")]
    NotAbsolute,
    #[error("a redirect URI must not have a fragment (RFC 6749 §3.1.2)")]
    Fragment,
    #[error("a redirect URI must be written in its canonical form (lowercase scheme and host, no dot segments, an IP address in its usual notation)")]
    NotCanonical,
    #[error("a redirect URI must not carry a user name or password")]
    Userinfo,
    #[error(
        "http is allowed only on a loopback address (http://127.0.0.1 or http://[::1]); use https"
    )]
    PlainHttp,
    #[error("use http://127.0.0.1 or http://[::1] rather than localhost, which can resolve elsewhere (RFC 8252 §8.3)")]
    Localhost,
    #[error("a custom scheme must be in reverse-domain form, such as com.example.app:/callback (RFC 8252 §7.1)")]
    CustomScheme,
}

/// Checks a URI a client registers as a redirect URI.
pub fn validate(text: &str) -> Result<(), RedirectUriError> {
    if text.chars().count() > MAX_REDIRECT_URI_CHARS || text.trim() != text {
        return Err(RedirectUriError::NotAbsolute);
    }
    let url = url::Url::parse(text).map_err(|_| RedirectUriError::NotAbsolute)?;
    if text.contains('#') {
        return Err(RedirectUriError::Fragment);
    }
    // What is matched later is the string, so it must be the URI's own canonical
    // form: no `127.1` or `2130706433` for 127.0.0.1, no `/a/../`, no tab or line
    // break the parser would drop (a bare origin may leave out its root `/`).
    if !is_canonical(&url, text) {
        return Err(RedirectUriError::NotCanonical);
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(RedirectUriError::Userinfo);
    }
    match url.scheme() {
        "https" if url.host().is_some() => Ok(()),
        "https" => Err(RedirectUriError::NotAbsolute),
        "http" if is_loopback_literal(&url) => Ok(()),
        "http"
            if url
                .host_str()
                .is_some_and(|h| h.eq_ignore_ascii_case("localhost")) =>
        {
            Err(RedirectUriError::Localhost)
        }
        "http" => Err(RedirectUriError::PlainHttp),
        scheme if scheme.contains('.') && !url.cannot_be_a_base() => Ok(()),
        _ => Err(RedirectUriError::CustomScheme),
    }
}

/// Whether `presented` (an authorization request's `redirect_uri`) is the
/// registered URI `registered`: the same string, or — for a loopback URI — the same
/// but for the port.
pub fn matches(registered: &str, presented: &str) -> bool {
    if registered == presented {
        return true;
    }
    // Loopback: the same string once the port is taken out of both — and each
    // string in its canonical form, so nothing else can differ.
    let without_port = |text: &str| {
        let mut url = url::Url::parse(text).ok()?;
        if !is_canonical(&url, text) || url.scheme() != "http" || !is_loopback_literal(&url) {
            return None;
        }
        url.set_port(None).ok()?;
        Some(url.to_string())
    };
    match (without_port(registered), without_port(presented)) {
        (Some(registered), Some(presented)) => registered == presented,
        _ => false,
    }
}

/// Whether `text` is how the parser writes `url` back.
fn is_canonical(url: &url::Url, text: &str) -> bool {
    let written = url.as_str();
    written == text || (url.path() == "/" && written.strip_suffix('/') == Some(text))
}

/// `127.0.0.1` or `[::1]` as an IP literal (not a name that resolves to one).
fn is_loopback_literal(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip == std::net::Ipv4Addr::LOCALHOST,
        Some(url::Host::Ipv6(ip)) => ip == std::net::Ipv6Addr::LOCALHOST,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn web_loopback_and_reverse_domain_uris_register() {
        for uri in [
            "https://app.example.com/callback",
            "https://app.example.com/cb?tenant=7",
            "https://app.example.com",
            "http://127.0.0.1/callback",
            "http://127.0.0.1:8400/callback",
            "http://[::1]/callback",
            "com.example.app:/oauth2redirect",
        ] {
            assert_eq!(validate(uri), Ok(()), "{uri}");
        }
    }

    #[test]
    fn the_rest_are_refused_with_the_reason() {
        for (uri, refusal) in [
            ("/callback", RedirectUriError::NotAbsolute),
            ("not a uri", RedirectUriError::NotAbsolute),
            (" https://app.example.com/cb", RedirectUriError::NotAbsolute),
            (
                "https://app.example.com/cb#frag",
                RedirectUriError::Fragment,
            ),
            ("https://app.example.com/cb#", RedirectUriError::Fragment),
            (
                "https://user:pw@app.example.com/cb",
                RedirectUriError::Userinfo,
            ),
            ("http://app.example.com/cb", RedirectUriError::PlainHttp),
            ("http://127.0.0.2/cb", RedirectUriError::PlainHttp),
            ("http://localhost:8080/cb", RedirectUriError::Localhost),
            ("myapp:/cb", RedirectUriError::CustomScheme),
            ("javascript:alert(1)", RedirectUriError::CustomScheme),
            ("data:text/html,hi", RedirectUriError::CustomScheme),
            ("http://127.1/cb", RedirectUriError::NotCanonical),
            ("http://2130706433/cb", RedirectUriError::NotCanonical),
            (
                "https://app.example.com/a/../cb",
                RedirectUriError::NotCanonical,
            ),
            ("https://App.Example.com/cb", RedirectUriError::NotCanonical),
            (
                "https://app.example.com/c\tb",
                RedirectUriError::NotCanonical,
            ),
        ] {
            assert_eq!(validate(uri), Err(refusal), "{uri}");
        }
        let long = format!(
            "https://app.example.com/{}",
            "a".repeat(MAX_REDIRECT_URI_CHARS)
        );
        assert_eq!(validate(&long), Err(RedirectUriError::NotAbsolute));
    }

    #[test]
    fn uris_match_by_exact_string() {
        let registered = "https://app.example.com/callback";
        assert!(matches(registered, registered));
        for presented in [
            "https://app.example.com/callback/",
            "https://app.example.com/Callback",
            "https://app.example.com/callback?x=1",
            "https://app.example.com:443/callback",
            "https://APP.example.com/callback",
            "https://app.example.com/callback#x",
            "https://app.example.com.evil.example/callback",
            "http://app.example.com/callback",
        ] {
            assert!(!matches(registered, presented), "{presented}");
        }
    }

    #[test]
    fn a_loopback_uri_matches_at_any_port_and_nothing_else() {
        let registered = "http://127.0.0.1/callback";
        assert!(matches(registered, "http://127.0.0.1:51234/callback"));
        assert!(matches(
            "http://127.0.0.1:8400/callback",
            "http://127.0.0.1:9/callback"
        ));
        assert!(matches("http://[::1]/cb", "http://[::1]:6000/cb"));
        for presented in [
            "http://127.0.0.1:51234/other",
            "http://127.0.0.1:51234/callback?x=1",
            "http://localhost:51234/callback",
            "http://[::1]:51234/callback",
            "https://127.0.0.1:51234/callback",
            "http://user@127.0.0.1:51234/callback",
            "http://127.0.0.1:51234/callback#frag",
            "http://2130706433:9/callback",
            "http://127.0.0.1:9/x/../callback",
        ] {
            assert!(!matches(registered, presented), "{presented}");
        }
        // Only loopback URIs ignore the port.
        assert!(!matches(
            "https://app.example.com/cb",
            "https://app.example.com:8443/cb"
        ));
    }
}
