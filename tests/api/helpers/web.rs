//! The dashboard as a browser drives it over HTTP, for the tests of its pages: a
//! client that shows redirects instead of following them, the session cookie and
//! the origin carried by hand, a person signed in, the CSRF token a page embeds.

use chrono::Utc;
use keygate::identity::authority::Actor;
use keygate::ids::UserId;
use keygate::users::{service, Role};
use reqwest::header::{COOKIE, LOCATION, ORIGIN, SET_COOKIE};
use reqwest::StatusCode;

use super::db::TestConnection;
use super::{TestApp, ISSUER};

pub const PASSWORD: &str = "correct horse battery staple 42";

/// A client that shows redirects instead of following them.
pub fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// A person of the organization `org_slug` with `role` who has not set a password:
/// (user id, the token of their set-up link).
pub fn person(app: &TestApp, email: &str, org_slug: &str, role: Role) -> (UserId, String) {
    let now = Utc::now().naive_utc();
    app.store.with_conn(|c| {
        let org = keygate::orgs::repo::find_by_slug(c, org_slug)
            .unwrap()
            .unwrap();
        let actor = Actor::operator("test");
        let (user, token) =
            service::create_user(c, &actor, email, None, &org.id, role, now).unwrap();
        (user.id, token.expose().to_owned())
    })
}

/// A person of `org_slug` with `role`, signed in: (user id, the cookie to send).
pub async fn member(app: &TestApp, email: &str, org_slug: &str, role: Role) -> (UserId, String) {
    let (user_id, token) = person(app, email, org_slug, role);
    let form = [
        ("token", token.as_str()),
        ("password", PASSWORD),
        ("confirm", PASSWORD),
    ];
    let set = post(app, "/setup", None, &form).await;
    assert_eq!(set.status(), StatusCode::SEE_OTHER);
    let signed_in = post(
        app,
        "/sign-in",
        None,
        &[("email", email), ("password", PASSWORD)],
    )
    .await;
    assert_eq!(signed_in.status(), StatusCode::SEE_OTHER);
    (user_id, session_cookie(&signed_in))
}

/// The `name=value` of the session cookie a response sets.
pub fn session_cookie(response: &reqwest::Response) -> String {
    let set = response
        .headers()
        .get(SET_COOKIE)
        .expect("a session cookie")
        .to_str()
        .unwrap();
    set.split(';').next().unwrap().to_owned()
}

pub async fn post(
    app: &TestApp,
    path: &str,
    cookie: Option<&str>,
    form: &[(&str, &str)],
) -> reqwest::Response {
    let mut request = browser()
        .post(app.url(path))
        .header(ORIGIN, ISSUER)
        .form(form);
    if let Some(cookie) = cookie {
        request = request.header(COOKIE, cookie);
    }
    request.send().await.unwrap()
}

/// GET `path` with the session `cookie` ("" for none).
pub async fn get(app: &TestApp, path: &str, cookie: &str) -> reqwest::Response {
    let mut request = browser().get(app.url(path));
    if !cookie.is_empty() {
        request = request.header(COOKIE, cookie);
    }
    request.send().await.unwrap()
}

/// (status, HTML) of a page `cookie`'s session reads.
pub async fn page(app: &TestApp, path: &str, cookie: &str) -> (StatusCode, String) {
    let response = get(app, path, cookie).await;
    (response.status(), response.text().await.unwrap())
}

/// The CSRF token a signed-in page embeds (the sign-out form of every page has it).
pub async fn csrf_of(app: &TestApp, cookie: &str) -> String {
    let (_, html) = page(app, "/dashboard/apps", cookie).await;
    value_after(&html, "name=\"csrf\" value=\"")
}

pub fn value_after(html: &str, marker: &str) -> String {
    let start = html
        .find(marker)
        .unwrap_or_else(|| panic!("{marker} in {html}"))
        + marker.len();
    html[start..].split('"').next().unwrap().to_owned()
}

pub fn location(response: &reqwest::Response) -> String {
    response.headers()[LOCATION].to_str().unwrap().to_owned()
}

/// Posts the sign-in form (no redirect followed).
pub async fn sign_in(app: &TestApp, email: &str, password: &str) -> reqwest::Response {
    post(
        app,
        "/sign-in",
        None,
        &[("email", email), ("password", password)],
    )
    .await
}
