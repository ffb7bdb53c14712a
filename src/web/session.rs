//! The dashboard's side of a session: the cookie that carries its token, the CSRF
//! token derived from it, and `Member`, the extractor that turns the cookie into the
//! signed-in person (`users::session::resolve`) or a redirect to the sign-in page.
//!
//! The cookie is `HttpOnly` and `SameSite=Lax`; with an https issuer it is also
//! `Secure` and named with the `__Host-` prefix (so no subdomain or plain-http page can
//! set or shadow it). A plain-http issuer (development on loopback) gets the same
//! cookie without those two, which browsers would otherwise drop.
//!
//! Each session has its CSRF token (`users::session`): every signed-in page embeds
//! it in its forms and every post must bring it back; a page of another origin can
//! read neither it nor the cookie.

use std::future::Future;
use std::pin::Pin;

use actix_web::http::header;
use actix_web::{web, FromRequest, HttpRequest, HttpResponse};

use super::{security, DashboardSettings};
use crate::audit::Source;
use crate::clock::Clock;
use crate::config::Issuer;
use crate::identity::authority::Actor;
use crate::store::Store;
use crate::users::session::{self as sessions, ActiveSession};

/// The session cookie's name for `issuer`.
pub fn cookie_name(issuer: &Issuer) -> &'static str {
    if is_https(issuer) {
        "__Host-keygate_session"
    } else {
        "keygate_session"
    }
}

fn is_https(issuer: &Issuer) -> bool {
    issuer.base().starts_with("https://")
}

/// `Set-Cookie` for a new session (a session cookie: it ends with the browser; the
/// server ends it sooner, idle or at its absolute lifetime).
pub fn set_cookie(issuer: &Issuer, token: &str) -> String {
    let secure = if is_https(issuer) { "; Secure" } else { "" };
    format!(
        "{}={token}; Path=/; HttpOnly; SameSite=Lax{secure}",
        cookie_name(issuer)
    )
}

/// `Set-Cookie` that removes the session cookie.
pub fn clear_cookie(issuer: &Issuer) -> String {
    let secure = if is_https(issuer) { "; Secure" } else { "" };
    format!(
        "{}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0{secure}",
        cookie_name(issuer)
    )
}

/// The session token the request's cookie carries, if any.
pub fn token_of(req: &HttpRequest, issuer: &Issuer) -> Option<String> {
    let name = cookie_name(issuer);
    req.headers()
        .get_all(header::COOKIE)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|line| line.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.to_owned())
        .filter(|value| !value.is_empty() && value.len() <= 128)
}

/// A signed-in person, from the session cookie. Without a live session a page
/// answers with a redirect to the sign-in page (`?next=` the page asked for).
pub struct Member {
    pub session: ActiveSession,
    /// The name of the organization the session works in, for the pages.
    pub org_name: String,
    pub source: Source,
    /// The organization requires a second factor and this person has none: only the
    /// account page (to enrol) and signing out open; every other page sends them there.
    pub second_factor_missing: bool,
}

impl Member {
    /// This person as the actor of a change: bounded by their role in the
    /// organization the session works in.
    pub fn actor(&self) -> Actor {
        self.session.actor(self.source.clone())
    }

    /// The form token the pages embed and the posts must bring back.
    pub fn csrf(&self) -> &str {
        self.session.csrf.expose()
    }

    /// The shared header of a signed-in page in `section`.
    pub fn nav(&self, section: &'static str) -> super::pages::Nav<'_> {
        let role = self.session.membership.role();
        super::pages::Nav {
            section,
            csrf: self.csrf(),
            user_email: &self.session.user.email,
            org_name: &self.org_name,
            role: role.as_str(),
            reads_audit_log: role.may_read_audit_log(),
        }
    }

    /// Whether a form post carries this session's CSRF token.
    pub fn check_csrf(&self, presented: &str) -> bool {
        sessions::check_csrf(&self.session, presented)
    }

    /// Whether a form post comes from keygate's own pages (its origin) and carries
    /// this session's CSRF token: the first check of every signed-in post.
    pub fn posted_from_own_page(
        &self,
        req: &HttpRequest,
        issuer: &Issuer,
        csrf: Option<&str>,
    ) -> bool {
        security::same_origin(req, issuer) && csrf.is_some_and(|c| self.check_csrf(c))
    }
}

/// Why there is no `Member`: the browser goes to the sign-in page.
#[derive(Debug)]
pub struct SignInFirst {
    next: String,
    clear: Option<String>,
}

impl std::fmt::Display for SignInFirst {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("sign in first")
    }
}

impl actix_web::ResponseError for SignInFirst {
    fn error_response(&self) -> HttpResponse {
        let next: String = url::form_urlencoded::byte_serialize(self.next.as_bytes()).collect();
        // A cookie that names no live session: it ended (idle, its lifetime, signed
        // out elsewhere), and the sign-in page says so.
        let ended = if self.clear.is_some() {
            "&notice=session-ended"
        } else {
            ""
        };
        let mut response = security::see_other(&format!("/sign-in?next={next}{ended}"));
        if let Some(clear) = &self.clear {
            response.insert_header((header::SET_COOKIE, clear.clone()));
        }
        response.finish()
    }
}

/// The organization requires a second factor this person has not set up: the
/// browser goes to the account page to enrol.
#[derive(Debug)]
pub struct EnrolFirst;

impl std::fmt::Display for EnrolFirst {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("set up a second factor first")
    }
}

impl actix_web::ResponseError for EnrolFirst {
    fn error_response(&self) -> HttpResponse {
        security::see_other("/dashboard/account?notice=second-factor-required").finish()
    }
}

impl FromRequest for Member {
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let settings = req
                .app_data::<web::Data<DashboardSettings>>()
                .cloned()
                .ok_or_else(|| actix_web::error::ErrorInternalServerError("no settings"))?;
            let store = req
                .app_data::<web::Data<Store>>()
                .cloned()
                .ok_or_else(|| actix_web::error::ErrorInternalServerError("no store"))?;
            let clock = req
                .app_data::<web::Data<dyn Clock>>()
                .cloned()
                .ok_or_else(|| actix_web::error::ErrorInternalServerError("no clock"))?;
            // With the query: an authorization request comes back to itself.
            let asked = req
                .uri()
                .path_and_query()
                .map_or_else(|| req.path(), |pq| pq.as_str());
            let next = security::safe_next(Some(asked)).to_owned();
            let Some(token) = token_of(&req, &settings.issuer) else {
                return Err(SignInFirst { next, clear: None }.into());
            };
            let (idle, absolute) = (settings.session_idle_timeout, settings.session_lifetime);
            let now = clock.now().naive_utc();
            // A read: resolving takes a write only to touch the session's last-seen
            // time (at most once a minute).
            let found = store
                .read(move |tx| {
                    let Some(session) = sessions::resolve(tx, &token, now, idle, absolute)? else {
                        return Ok(None);
                    };
                    let org = crate::orgs::repo::find(tx, &session.membership.org_id)?;
                    let required = org.as_ref().is_some_and(|org| org.second_factor_required);
                    let org_name = org.map_or_else(String::new, |org| org.name);
                    Ok::<_, crate::store::StoreError>(Some((session, org_name, required)))
                })
                .await
                .map_err(crate::error::ApiError::from)?;
            match found {
                Some((session, org_name, required)) => {
                    let second_factor_missing = required && session.user.totp_enabled_at.is_none();
                    let allowed =
                        req.path().starts_with("/dashboard/account") || req.path() == "/sign-out";
                    if second_factor_missing && !allowed {
                        return Err(EnrolFirst.into());
                    }
                    Ok(Member {
                        session,
                        org_name,
                        source: Source::of(&req),
                        second_factor_missing,
                    })
                }
                None => Err(SignInFirst {
                    next,
                    clear: Some(clear_cookie(&settings.issuer)),
                }
                .into()),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cookie_is_host_only_and_secure_over_https_only() {
        let https: Issuer = "https://auth.example.com".parse().unwrap();
        let http: Issuer = "http://127.0.0.1:8080".parse().unwrap();
        assert_eq!(
            set_cookie(&https, "t"),
            "__Host-keygate_session=t; Path=/; HttpOnly; SameSite=Lax; Secure"
        );
        assert_eq!(
            set_cookie(&http, "t"),
            "keygate_session=t; Path=/; HttpOnly; SameSite=Lax"
        );
        assert!(clear_cookie(&https).contains("Max-Age=0"));
    }

    #[test]
    fn the_cookie_is_read_among_others() {
        let issuer: Issuer = "http://127.0.0.1:8080".parse().unwrap();
        let req = actix_web::test::TestRequest::get()
            .insert_header(("Cookie", "a=1; keygate_session=kgss_x; b=2"))
            .to_http_request();
        assert_eq!(token_of(&req, &issuer).as_deref(), Some("kgss_x"));
        let none = actix_web::test::TestRequest::get()
            .insert_header(("Cookie", "keygate_session="))
            .to_http_request();
        assert_eq!(token_of(&none, &issuer), None);
    }
}
