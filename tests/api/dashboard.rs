//! The dashboard over HTTP, as a browser would use it (no redirects followed, the
//! session cookie carried by hand): set-up links, sign-in, the keys page and its
//! forms, and what each refuses — cross-site posts, a wrong CSRF token, foreign
//! `?next=`, another organization's key, a viewer's writes, a disabled person's live
//! session, an idle session. In a real Chromium: `a_person_manages_keys_in_a_browser`.

use std::sync::Arc;

use chrono::Utc;
use keygate::clock::ManualClock;
use keygate::identity::authority::Actor;
use keygate::users::{service, Role};
use reqwest::header::{COOKIE, ORIGIN, SET_COOKIE};
use reqwest::StatusCode;

use crate::helpers::db::TestConnection;
use crate::helpers::web::{
    browser, csrf_of, get, location, member, person, post, session_cookie, PASSWORD,
};
use crate::helpers::{TestApp, ISSUER};

/// The HTML of a page `cookie`'s session reads.
async fn page_text(app: &TestApp, path: &str, cookie: &str) -> String {
    get(app, path, cookie).await.text().await.unwrap()
}

/// A person of the default organization who has set their password and signed in:
/// the cookie to send.
async fn signed_in(app: &TestApp, email: &str, role: Role) -> String {
    member(app, email, "default", role).await.1
}

/// The key a "shown once" page shows.
fn shown_key(page: &str) -> String {
    let start = page
        .find("id=\"new-key\" readonly value=\"")
        .expect("the key, shown once")
        + 29;
    page[start..].split('"').next().unwrap().to_owned()
}

async fn me_status(app: &TestApp, key: &str) -> StatusCode {
    app.http
        .get(app.url("/v1/me"))
        .header("X-API-Key", key)
        .send()
        .await
        .unwrap()
        .status()
}

#[actix_rt::test]
async fn every_page_carries_the_security_headers() {
    let app = TestApp::spawn().await;
    for path in ["/sign-in", "/setup"] {
        let response = get(&app, path, "").await;
        assert_eq!(response.status(), 200, "{path}");
        let headers = response.headers();
        let csp = headers["content-security-policy"].to_str().unwrap();
        assert!(
            csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
            "{csp}"
        );
        assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
        assert_eq!(headers["x-content-type-options"], "nosniff");
        assert_eq!(headers["referrer-policy"], "same-origin");
        assert_eq!(headers["cache-control"], "no-store");
        let body = response.text().await.unwrap();
        assert!(
            !body.contains("<script>") && !body.contains("style=\""),
            "no inline script or style"
        );
    }
    let home = get(&app, "/", "").await;
    assert_eq!(home.status(), StatusCode::SEE_OTHER);
    let dashboard = get(&app, &location(&home), "").await;
    assert_eq!(location(&dashboard), "/sign-in?next=%2Fdashboard");
    assert_eq!(get(&app, "/assets/app.css", "").await.status(), 200);
    for missing in ["/assets/nope.js", "/assets/..%2Fmod.rs"] {
        assert_eq!(get(&app, missing, "").await.status(), 404, "{missing}");
    }
}

#[actix_rt::test]
async fn a_person_sets_a_password_signs_in_and_manages_keys() {
    let app = TestApp::spawn().await;
    let (user_id, token) = person(&app, "Ada@Example.com", "default", Role::Owner);
    let weak = post(
        &app,
        "/setup",
        None,
        &[
            ("token", &token),
            ("password", "short"),
            ("confirm", "short"),
        ],
    )
    .await;
    assert_eq!(weak.status(), 400);
    assert!(
        weak.text().await.unwrap().contains("12"),
        "the rule is named"
    );
    let differ = post(
        &app,
        "/setup",
        None,
        &[
            ("token", &token),
            ("password", PASSWORD),
            ("confirm", "something else entirely"),
        ],
    )
    .await;
    assert_eq!(differ.status(), 400);
    let set = post(
        &app,
        "/setup",
        None,
        &[
            ("token", &token),
            ("password", PASSWORD),
            ("confirm", PASSWORD),
        ],
    )
    .await;
    assert_eq!(set.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&set), "/sign-in?notice=password-set");
    let again = post(
        &app,
        "/setup",
        None,
        &[
            ("token", &token),
            ("password", PASSWORD),
            ("confirm", PASSWORD),
        ],
    )
    .await;
    assert_eq!(again.status(), 400, "a set-up link works once");

    // The email matches whatever its case.
    let signed = post(
        &app,
        "/sign-in",
        None,
        &[
            ("email", "ada@example.COM"),
            ("password", PASSWORD),
            ("next", "/dashboard/keys"),
        ],
    )
    .await;
    assert_eq!(signed.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&signed), "/dashboard/keys");
    let set_cookie = signed.headers()[SET_COOKIE].to_str().unwrap().to_owned();
    assert!(
        set_cookie.starts_with("keygate_session=kgss_"),
        "{set_cookie}"
    );
    assert!(
        set_cookie.contains("HttpOnly")
            && set_cookie.contains("SameSite=Lax")
            && set_cookie.contains("Path=/")
    );
    let cookie = session_cookie(&signed);

    let csrf = csrf_of(&app, &cookie).await;
    let created = post(
        &app,
        "/dashboard/keys",
        Some(&cookie),
        &[
            ("csrf", &csrf),
            ("name", "CI deploy"),
            ("scope", "read"),
            ("scope", "write"),
            ("expires", "90d"),
            ("environment", "test"),
        ],
    )
    .await;
    assert_eq!(created.status(), 200);
    assert_eq!(created.headers()["cache-control"], "no-store");
    let key = shown_key(&created.text().await.unwrap());
    assert!(key.starts_with("kg_test_"), "{key}");
    assert_eq!(
        me_status(&app, &key).await,
        200,
        "the key works from outside the dashboard"
    );
    let page = page_text(&app, "/dashboard/keys", &cookie).await;
    assert!(
        page.contains("CI deploy") && !page.contains(&key),
        "listed masked, never shown again"
    );

    // The dashboard's changes are audited as the person.
    let events = app
        .get_json("/v1/audit-events?type=api_key.created", &app.admin_key)
        .await;
    let actors: Vec<&str> = events["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["actor"].as_str().unwrap())
        .collect();
    assert!(
        actors.contains(&format!("user:{user_id}").as_str()),
        "{actors:?}"
    );

    let key_id = app.get_json("/v1/api-keys", &app.admin_key).await["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["name"] == "CI deploy")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let unconfirmed = post(
        &app,
        &format!("/dashboard/keys/{key_id}/revoke"),
        Some(&cookie),
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!(
        unconfirmed.status(),
        400,
        "a revocation needs its confirmation"
    );
    assert_eq!(me_status(&app, &key).await, 200);
    let revoked = post(
        &app,
        &format!("/dashboard/keys/{key_id}/revoke"),
        Some(&cookie),
        &[("csrf", &csrf), ("confirm", "yes")],
    )
    .await;
    assert_eq!(revoked.status(), StatusCode::SEE_OTHER);
    assert_eq!(me_status(&app, &key).await, 401);

    let out = post(&app, "/sign-out", Some(&cookie), &[("csrf", &csrf)]).await;
    assert_eq!(out.status(), StatusCode::SEE_OTHER);
    assert!(out.headers()[SET_COOKIE]
        .to_str()
        .unwrap()
        .contains("Max-Age=0"));
    let after = get(&app, "/dashboard/keys", &cookie).await;
    assert_eq!(
        after.status(),
        StatusCode::SEE_OTHER,
        "the session ended on the server"
    );
}

#[actix_rt::test]
async fn cross_site_posts_and_wrong_csrf_tokens_are_refused() {
    let app = TestApp::spawn().await;
    let cookie = signed_in(&app, "owner@example.com", Role::Owner).await;
    let csrf = csrf_of(&app, &cookie).await;
    let form = [("csrf", csrf.as_str()), ("name", "x"), ("scope", "read")];
    let foreign = browser()
        .post(app.url("/dashboard/keys"))
        .header(ORIGIN, "http://evil.example")
        .header(COOKIE, &cookie)
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(foreign.status(), 403);
    let no_origin = browser()
        .post(app.url("/dashboard/keys"))
        .header(COOKIE, &cookie)
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(no_origin.status(), 403, "neither Origin nor Referer");
    for bad in ["", "x", &csrf[..csrf.len() - 1]] {
        let response = post(
            &app,
            "/dashboard/keys",
            Some(&cookie),
            &[("csrf", bad), ("name", "x"), ("scope", "read")],
        )
        .await;
        assert_eq!(response.status(), 403, "csrf {bad:?}");
    }
    let missing = post(
        &app,
        "/dashboard/keys",
        Some(&cookie),
        &[("name", "x"), ("scope", "read")],
    )
    .await;
    assert_eq!(missing.status(), 403);
    let sign_in = browser()
        .post(app.url("/sign-in"))
        .header(ORIGIN, "http://evil.example")
        .form(&[("email", "owner@example.com"), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(sign_in.status(), 403, "login CSRF");
    let keys = app.get_json("/v1/api-keys", &app.admin_key).await;
    assert!(
        !keys.to_string().contains("\"name\":\"x\""),
        "nothing was created"
    );
}

#[actix_rt::test]
async fn sign_in_failures_look_alike_and_are_throttled() {
    let app = TestApp::spawn().await;
    signed_in(&app, "real@example.com", Role::Owner).await;
    let wrong = post(
        &app,
        "/sign-in",
        None,
        &[
            ("email", "real@example.com"),
            ("password", "not the password at all"),
        ],
    )
    .await;
    let unknown = post(
        &app,
        "/sign-in",
        None,
        &[
            ("email", "nobody@example.com"),
            ("password", "not the password at all"),
        ],
    )
    .await;
    assert_eq!(wrong.status(), 401);
    assert_eq!(unknown.status(), 401);
    let (wrong, unknown) = (wrong.text().await.unwrap(), unknown.text().await.unwrap());
    assert_eq!(
        wrong.replace("real@example.com", "E"),
        unknown.replace("nobody@example.com", "E"),
        "the same page"
    );
    let mut last = StatusCode::OK;
    for _ in 0..30 {
        last = post(
            &app,
            "/sign-in",
            None,
            &[
                ("email", "real@example.com"),
                ("password", "still not the password"),
            ],
        )
        .await
        .status();
        if last == StatusCode::TOO_MANY_REQUESTS {
            break;
        }
    }
    assert_eq!(
        last,
        StatusCode::TOO_MANY_REQUESTS,
        "repeated failures are throttled"
    );
}

#[actix_rt::test]
async fn next_leads_only_to_keygate_and_the_session_changes_at_sign_in() {
    let app = TestApp::spawn().await;
    let (_, token) = person(&app, "nav@example.com", "default", Role::Admin);
    post(
        &app,
        "/setup",
        None,
        &[
            ("token", &token),
            ("password", PASSWORD),
            ("confirm", PASSWORD),
        ],
    )
    .await;
    for next in [
        "https://evil.example/",
        "//evil.example/x",
        "/\\evil.example",
        "javascript:alert(1)",
    ] {
        let response = post(
            &app,
            "/sign-in",
            Some("keygate_session=kgss_planted"),
            &[
                ("email", "nav@example.com"),
                ("password", PASSWORD),
                ("next", next),
            ],
        )
        .await;
        assert_eq!(location(&response), "/dashboard", "{next}");
        assert_ne!(
            session_cookie(&response),
            "keygate_session=kgss_planted",
            "a planted session id is never kept"
        );
    }
    let planted = get(&app, "/dashboard/keys", "keygate_session=kgss_planted").await;
    assert_eq!(
        planted.status(),
        StatusCode::SEE_OTHER,
        "an unknown session is no session"
    );
}

#[actix_rt::test]
async fn a_viewer_reads_and_another_organizations_key_does_not_exist() {
    let app = TestApp::spawn().await;
    let viewer = signed_in(&app, "viewer@example.com", Role::Viewer).await;
    let page = page_text(&app, "/dashboard/keys", &viewer).await;
    assert!(!page.contains("Create key"), "no create form for a viewer");
    let csrf = csrf_of(&app, &viewer).await;
    let refused = post(
        &app,
        "/dashboard/keys",
        Some(&viewer),
        &[("csrf", &csrf), ("name", "x"), ("scope", "read")],
    )
    .await;
    assert_eq!(refused.status(), 403);

    let owner = signed_in(&app, "owner@example.com", Role::Owner).await;
    let owner_csrf = csrf_of(&app, &owner).await;
    let theirs = app.other_org_admin();
    let response = post(
        &app,
        &format!("/dashboard/keys/{}/revoke", theirs.id),
        Some(&owner),
        &[("csrf", &owner_csrf), ("confirm", "yes")],
    )
    .await;
    assert_eq!(response.status(), 404);
    assert_eq!(
        me_status(&app, &theirs.key).await,
        200,
        "the other organization's key lives"
    );
}

#[actix_rt::test]
async fn a_disabled_person_is_signed_out_at_the_next_request() {
    let app = TestApp::spawn().await;
    let cookie = signed_in(&app, "leaver@example.com", Role::Admin).await;
    assert_eq!(get(&app, "/dashboard/keys", &cookie).await.status(), 200);
    let user_id = app.store.with_conn(|c| {
        keygate::users::repo::find_by_email(c, "leaver@example.com")
            .unwrap()
            .unwrap()
            .id
    });
    app.store.with_conn(|c| {
        service::disable_user(
            c,
            &Actor::operator("test"),
            &user_id,
            Utc::now().naive_utc(),
        )
        .unwrap()
    });
    assert_eq!(
        get(&app, "/dashboard/keys", &cookie).await.status(),
        StatusCode::SEE_OTHER
    );
    let again = post(
        &app,
        "/sign-in",
        None,
        &[("email", "leaver@example.com"), ("password", PASSWORD)],
    )
    .await;
    assert_eq!(again.status(), 401, "and cannot sign in again");
}

#[actix_rt::test]
async fn an_idle_session_ends() {
    let clock = Arc::new(ManualClock::new(Utc::now()));
    let app = TestApp::spawn_with_clock(|_| {}, clock.clone()).await;
    let cookie = signed_in(&app, "idle@example.com", Role::Owner).await;
    assert_eq!(get(&app, "/dashboard/keys", &cookie).await.status(), 200);
    clock.advance(chrono::Duration::minutes(20));
    assert_eq!(
        get(&app, "/dashboard/keys", &cookie).await.status(),
        200,
        "still within the idle timeout"
    );
    clock.advance(chrono::Duration::minutes(31));
    let idle = get(&app, "/dashboard/keys", &cookie).await;
    assert_eq!(
        idle.status(),
        StatusCode::SEE_OTHER,
        "past the idle timeout"
    );
    assert!(location(&idle).starts_with("/sign-in"));
}

#[actix_rt::test]
async fn malformed_and_oversize_forms_are_refused() {
    let app = TestApp::spawn().await;
    let missing = post(&app, "/sign-in", None, &[("email", "a@example.com")]).await;
    assert_eq!(missing.status(), 400);
    let huge = "x".repeat(64 * 1024);
    let oversize = post(
        &app,
        "/sign-in",
        None,
        &[("email", "a@example.com"), ("password", &huge)],
    )
    .await;
    assert_eq!(oversize.status(), 413);
    let cookie = signed_in(&app, "o@example.com", Role::Owner).await;
    let csrf = csrf_of(&app, &cookie).await;
    let long_name = "n".repeat(201);
    for (form, message) in [
        (
            vec![("csrf", csrf.as_str()), ("name", ""), ("scope", "read")],
            "name",
        ),
        (
            vec![
                ("csrf", csrf.as_str()),
                ("name", long_name.as_str()),
                ("scope", "read"),
            ],
            "name",
        ),
        (vec![("csrf", csrf.as_str()), ("name", "x")], "scope"),
        (
            vec![("csrf", csrf.as_str()), ("name", "x"), ("scope", "billing")],
            "billing",
        ),
        (
            vec![
                ("csrf", csrf.as_str()),
                ("name", "x"),
                ("scope", "read"),
                ("expires", "soon"),
            ],
            "expires",
        ),
        (
            vec![
                ("csrf", csrf.as_str()),
                ("name", "<script>alert(1)</script>"),
                ("scope", "nope<b>"),
            ],
            "nope&#60;b&#62;",
        ),
    ] {
        let response = post(&app, "/dashboard/keys", Some(&cookie), &form).await;
        assert_eq!(response.status(), 400, "{form:?}");
        let page = response.text().await.unwrap();
        assert!(page.contains(message), "{form:?}: {page}");
        assert!(!page.contains("<script>alert"), "escaped");
    }
}

#[actix_rt::test]
async fn the_keys_table_pages_through_many_keys() {
    let app = TestApp::spawn().await;
    let cookie = signed_in(&app, "many@example.com", Role::Owner).await;
    for _ in 0..55 {
        app.operator_key("default", "read", None);
    }
    let first = page_text(&app, "/dashboard/keys", &cookie).await;
    assert_eq!(first.matches("<tr id=\"key_").count(), 50, "50 keys a page");
    let start = first
        .find("/dashboard/keys?after=")
        .expect("a next-page link")
        + 22;
    let after = first[start..].split('"').next().unwrap();
    assert!(after.starts_with("key_"), "{after}");
    let second = get(&app, &format!("/dashboard/keys?after={after}"), &cookie)
        .await
        .text()
        .await
        .unwrap();
    // 55 operator keys and the bootstrap key.
    assert_eq!(second.matches("<tr id=\"key_").count(), 6);
    assert!(
        !second.contains("rel=\"next\""),
        "the last page has no next link"
    );
    for garbage in ["x", "key_../../etc", "%3Cscript%3E"] {
        let page = get(&app, &format!("/dashboard/keys?after={garbage}"), &cookie).await;
        assert_eq!(page.status(), 200, "{garbage}");
        assert_eq!(
            page.text().await.unwrap().matches("<tr id=\"key_").count(),
            50,
            "from the start"
        );
    }
}

/// The whole journey in Debian's Chromium, driven by playwright-core
/// (`tests/browser/dashboard.cjs`); screenshots land in `KEYGATE_TEST_SCREENSHOTS`.
#[actix_rt::test]
#[ignore = "needs Chromium and playwright-core: .ci/run installs both (KEYGATE_TEST_PLAYWRIGHT names the module)"]
async fn a_person_manages_keys_in_a_browser() {
    let Some(playwright) = crate::helpers::process::browser_tools() else {
        return;
    };
    let app = TestApp::spawn_on_own_origin().await;
    let (_, owner) = person(&app, "owner@example.com", "default", Role::Owner);
    let (_, viewer) = person(&app, "viewer@example.com", "default", Role::Viewer);
    let setup = |token: &str| format!("{}/setup#{token}", app.address);
    let stdout = crate::helpers::process::run_browser_script(
        playwright,
        "dashboard.cjs",
        &[
            ("KEYGATE_URL", app.address.clone()),
            ("OWNER_EMAIL", "owner@example.com".into()),
            ("OWNER_SETUP_URL", setup(&owner)),
            ("VIEWER_EMAIL", "viewer@example.com".into()),
            ("VIEWER_SETUP_URL", setup(&viewer)),
            ("ADMIN_KEY", app.admin_key.clone()),
        ],
    )
    .await;
    assert!(
        stdout.contains("ok - a viewer has no way to create keys"),
        "the script ran to its end"
    );
}

#[actix_rt::test]
async fn the_create_form_follows_the_organizations_key_policy() {
    let app = TestApp::spawn().await;
    let cookie = signed_in(&app, "ada@example.com", Role::Owner).await;
    let page = page_text(&app, "/dashboard/keys", &cookie).await;
    assert!(page.contains("<option value=\"\">never</option>"), "{page}");

    let set = app
        .send_json(
            reqwest::Method::PUT,
            "/v1/api-key-policy",
            &app.admin_key,
            &serde_json::json!({"max_lifetime": "14d", "expiry_required": true}),
        )
        .await;
    assert_eq!(set.status(), StatusCode::OK);
    let page = page_text(&app, "/dashboard/keys", &cookie).await;
    assert!(
        !page.contains("<option value=\"\">never</option>"),
        "no unexpiring preset"
    );
    assert!(
        !page.contains("value=\"30d\""),
        "no preset beyond the maximum"
    );
    assert!(page.contains("value=\"7d\""), "{page}");
    assert!(
        page.contains("value=\"1209600s\" selected>in 14 days (the maximum)"),
        "{page}"
    );
    assert!(
        page.contains("Your organization's policy: every key must expire within 14 days."),
        "{page}"
    );

    // A crafted post without an expiry is refused on the page, and makes no key.
    let csrf = csrf_of(&app, &cookie).await;
    for expires in ["", "365d"] {
        let refused = post(
            &app,
            "/dashboard/keys",
            Some(&cookie),
            &[
                ("csrf", &csrf),
                ("name", "forever"),
                ("scope", "read"),
                ("expires", expires),
            ],
        )
        .await;
        assert_eq!(refused.status(), StatusCode::BAD_REQUEST, "{expires}");
        let text = refused.text().await.unwrap();
        assert!(
            text.contains("every key must expire within 14 days"),
            "{text}"
        );
        assert!(!text.contains("id=\"new-key\""), "no key shown");
    }
    let created = post(
        &app,
        "/dashboard/keys",
        Some(&cookie),
        &[
            ("csrf", &csrf),
            ("name", "ci"),
            ("scope", "read"),
            ("expires", "1209600s"),
        ],
    )
    .await;
    assert_eq!(created.status(), StatusCode::OK);
    let key = shown_key(&created.text().await.unwrap());
    assert_eq!(me_status(&app, &key).await, StatusCode::OK);
}

/// Creates a key through the keys page's form; returns (its id, the key).
async fn created_key(app: &TestApp, cookie: &str, form: &[(&str, &str)]) -> (String, String) {
    let csrf = csrf_of(app, cookie).await;
    let mut fields = vec![("csrf", csrf.as_str())];
    fields.extend_from_slice(form);
    let response = post(app, "/dashboard/keys", Some(cookie), &fields).await;
    assert_eq!(response.status(), 200);
    let key = shown_key(&response.text().await.unwrap());
    let me: serde_json::Value = app
        .http
        .get(app.url("/v1/me"))
        .header("X-API-Key", &key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = me["key_id"].as_str().expect("the key's id").to_owned();
    (id, key)
}

#[actix_rt::test]
async fn the_overview_shows_usage_refusals_what_expires_and_the_latest_events() {
    let app =
        TestApp::spawn_with(|s| s.usage_flush_interval = std::time::Duration::from_secs(1)).await;
    let owner = signed_in(&app, "owner@example.com", Role::Owner).await;
    let (_, key) = created_key(
        &app,
        &owner,
        &[("name", "soon gone"), ("scope", "read"), ("expires", "3d")],
    )
    .await;
    for _ in 0..3 {
        assert_eq!(me_status(&app, &key).await, 200);
    }
    // A refused request: a scope the key lacks.
    let refused = app
        .http
        .get(app.url("/v1/api-keys"))
        .header("X-API-Key", &key)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 403);
    let page = crate::helpers::eventually("the overview to count the requests", || async {
        let page = page_text(&app, "/dashboard", &owner).await;
        page.contains("API requests refused (4xx)").then_some(page)
    })
    .await;
    assert!(page.contains("<svg"), "a chart");
    assert!(page.contains("as a table"), "its figures as a table");
    assert!(
        page.contains("API key <a href=\"/dashboard/keys/key_"),
        "the expiring key, linked: {page}"
    );
    assert!(page.contains("soon gone"));
    assert!(page.contains("api_key.created"), "the latest events");
    let week = get(&app, "/dashboard?range=7d", &owner).await;
    assert_eq!(week.status(), 200);
    assert!(week
        .text()
        .await
        .unwrap()
        .contains("aria-current=\"true\">last 7 days"));
    for bad in ["30d", "%3Cscript%3E", ""] {
        let response = get(&app, &format!("/dashboard?range={bad}"), &owner).await;
        assert_eq!(response.status(), 400, "{bad}");
    }
    // `/` leads here; a viewer sees the figures but not the audit log.
    let home = get(&app, "/", &owner).await;
    assert_eq!(location(&home), "/dashboard");
    let viewer = signed_in(&app, "viewer@example.com", Role::Viewer).await;
    let theirs = page_text(&app, "/dashboard", &viewer).await;
    assert!(theirs.contains("soon gone") && !theirs.contains("Latest events"));
    // Signed out: the sign-in page, and back here after it.
    let anonymous = get(&app, "/dashboard", "").await;
    assert_eq!(location(&anonymous), "/sign-in?next=%2Fdashboard");
}

#[actix_rt::test]
async fn a_keys_page_renames_and_narrows_it_and_refuses_what_it_may_not() {
    let app = TestApp::spawn().await;
    let owner = signed_in(&app, "owner@example.com", Role::Owner).await;
    let (id, key) = created_key(
        &app,
        &owner,
        &[("name", "deploy"), ("scope", "read"), ("scope", "write")],
    )
    .await;
    let path = format!("/dashboard/keys/{id}");
    let page = page_text(&app, &path, &owner).await;
    assert!(page.contains("Requests with this key"), "its usage chart");
    assert!(page.contains(&key[key.len() - 4..]), "the key, masked");
    assert!(!page.contains(&key), "never the whole key");
    let csrf = csrf_of(&app, &owner).await;

    let saved = post(
        &app,
        &path,
        Some(&owner),
        &[
            ("csrf", &csrf),
            ("name", "deploy (read only)"),
            ("scope", "read"),
        ],
    )
    .await;
    assert_eq!(saved.status(), 303);
    assert_eq!(location(&saved), format!("{path}?notice=saved"));
    let me: serde_json::Value = app
        .http
        .get(app.url("/v1/me"))
        .header("X-API-Key", &key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["scopes"], serde_json::json!(["read"]), "{me}");
    let page = page_text(&app, &path, &owner).await;
    assert!(page.contains("deploy (read only)"));

    let long = "n".repeat(201);
    for (form, says) in [
        // A scope the key does not have: narrowing never widens.
        (
            vec![("name", "x"), ("scope", "read"), ("scope", "admin")],
            "admin",
        ),
        (vec![("name", "x")], "scope"),
        (vec![("name", ""), ("scope", "read")], "name"),
        (vec![("name", long.as_str()), ("scope", "read")], "name"),
        (
            vec![("name", "<script>alert(1)</script>"), ("scope", "<b>")],
            "&#60;b&#62;",
        ),
    ] {
        let mut fields = vec![("csrf", csrf.as_str())];
        fields.extend(form.iter().copied());
        let response = post(&app, &path, Some(&owner), &fields).await;
        assert_eq!(response.status(), 400, "{form:?}");
        let text = response.text().await.unwrap();
        assert!(text.contains(says), "{form:?}: {text}");
        assert!(!text.contains("<script>alert"), "escaped");
    }
    let unchanged = page_text(&app, &path, &owner).await;
    assert!(
        unchanged.contains("deploy (read only)"),
        "nothing refused was saved"
    );

    // No CSRF token, another site, a viewer, another organization's key.
    let no_csrf = post(
        &app,
        &path,
        Some(&owner),
        &[("name", "x"), ("scope", "read")],
    )
    .await;
    assert_eq!(no_csrf.status(), 403);
    let cross = browser()
        .post(app.url(&path))
        .header(ORIGIN, "https://evil.example")
        .header(COOKIE, &owner)
        .form(&[("csrf", csrf.as_str()), ("name", "x"), ("scope", "read")])
        .send()
        .await
        .unwrap();
    assert_eq!(cross.status(), 403);
    let viewer = signed_in(&app, "viewer@example.com", Role::Viewer).await;
    let viewer_page = page_text(&app, &path, &viewer).await;
    assert!(
        !viewer_page.contains("Save changes"),
        "a viewer gets no forms"
    );
    let viewer_csrf = csrf_of(&app, &viewer).await;
    let refused = post(
        &app,
        &path,
        Some(&viewer),
        &[("csrf", &viewer_csrf), ("name", "mine"), ("scope", "read")],
    )
    .await;
    assert_eq!(refused.status(), 403);
    let theirs = app.other_org_admin();
    let foreign = format!("/dashboard/keys/{}", theirs.id);
    assert_eq!(get(&app, &foreign, &owner).await.status(), 404);
    let response = post(
        &app,
        &foreign,
        Some(&owner),
        &[("csrf", &csrf), ("name", "mine"), ("scope", "read")],
    )
    .await;
    assert_eq!(response.status(), 404);
    for bad in ["key_nope", "..%2F..%2Fetc", "%3Cscript%3E"] {
        let response = get(&app, &format!("/dashboard/keys/{bad}"), &owner).await;
        assert_eq!(response.status(), 404, "{bad}");
    }
    let bad_range = get(&app, &format!("{path}?range=1y"), &owner).await;
    assert_eq!(bad_range.status(), 400);

    // A revoked key's page shows it, with nothing left to change.
    let revoked = post(
        &app,
        &format!("{path}/revoke"),
        Some(&owner),
        &[("csrf", &csrf), ("confirm", "yes")],
    )
    .await;
    assert_eq!(revoked.status(), 303);
    let page = page_text(&app, &path, &owner).await;
    assert!(page.contains("revoked") && !page.contains("Save changes"));
}

#[actix_rt::test]
async fn a_sign_in_flood_beyond_the_argon2_wait_gets_503_with_retry_after() {
    let app = TestApp::spawn_with(|s| {
        s.argon2_max_concurrency = 2;
        s.argon2_max_wait = std::time::Duration::from_millis(1);
        s.auth_failures_per_minute = 1000;
        s.auth_failures_per_minute_per_source = 1000;
    })
    .await;
    let flood: Vec<_> = (0..12)
        .map(|i| {
            let (http, url) = (browser(), app.url("/sign-in"));
            actix_web::rt::spawn(async move {
                http.post(url)
                    .header(ORIGIN, ISSUER)
                    .form(&[
                        ("email", format!("nobody{i}@example.com")),
                        ("password", "not the password at all".to_owned()),
                    ])
                    .send()
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut busy = 0;
    for request in flood {
        let response = request.await.unwrap();
        match response.status().as_u16() {
            401 => {}
            503 => {
                busy += 1;
                assert_eq!(response.headers()["retry-after"], "1");
                assert!(response
                    .text()
                    .await
                    .unwrap()
                    .contains("busy signing people in"));
            }
            other => panic!("unexpected {other}"),
        }
    }
    // With two leases, sign-ins hold one at a time: most of twelve at once wait.
    assert!(busy > 0, "some attempts found the sign-in share taken");
}

#[actix_rt::test]
async fn every_page_the_nav_links_to_answers() {
    let app = TestApp::spawn().await;
    for role in [Role::Owner, Role::Viewer] {
        let cookie = signed_in(&app, &format!("{role}@example.com"), role).await;
        let page = page_text(&app, "/dashboard", &cookie).await;
        let nav = &page[page.find("<nav").unwrap()..page.find("</nav>").unwrap()];
        let links: Vec<&str> = nav
            .split("href=\"")
            .skip(1)
            .map(|rest| rest.split('"').next().unwrap())
            .collect();
        assert!(links.len() >= 4, "{nav}");
        for link in links {
            let status = get(&app, link, &cookie).await.status();
            // A role that may not read a page is told so (403); none is a dead link.
            assert!(
                status == 200 || status == 403,
                "{role}: {link} answered {status}"
            );
        }
    }
}

#[actix_rt::test]
async fn a_key_refused_for_its_rate_limit_shows_as_rate_limited() {
    let app = TestApp::spawn_with(|s| s.rate_limits = true).await;
    let cookie = signed_in(&app, "ada@example.com", Role::Owner).await;
    let limited = app.operator_key("default", "read", Some(1));
    let calm = app.operator_key("default", "read", None);
    let mut statuses = Vec::new();
    for _ in 0..3 {
        statuses.push(me_status(&app, &limited.key).await);
    }
    assert!(
        statuses.contains(&StatusCode::TOO_MANY_REQUESTS),
        "{statuses:?}"
    );
    assert_eq!(me_status(&app, &calm.key).await, StatusCode::OK);
    let page = page_text(&app, "/dashboard/keys", &cookie).await;
    let row_of = |id: &str| {
        let start = page.find(&format!("id=\"{id}\"")).expect("the key's row");
        page[start..].split("</tr>").next().unwrap().to_owned()
    };
    assert!(
        row_of(&limited.id).contains("rate-limited"),
        "{}",
        row_of(&limited.id)
    );
    assert!(!row_of(&calm.id).contains("rate-limited"));
    let detail = page_text(&app, &format!("/dashboard/keys/{}", limited.id), &cookie).await;
    assert!(detail.contains("rate-limited"));
}

#[actix_rt::test]
async fn a_key_made_by_a_member_names_them_by_email() {
    let app = TestApp::spawn().await;
    let cookie = signed_in(&app, "ada@example.com", Role::Developer).await;
    let (id, _) = created_key(&app, &cookie, &[("name", "mine"), ("scope", "read")]).await;
    let by_cli = app.operator_key("default", "read", None);
    let page = page_text(&app, "/dashboard/keys", &cookie).await;
    let row_of = |id: &str| {
        let start = page.find(&format!("id=\"{id}\"")).expect("the key's row");
        page[start..].split("</tr>").next().unwrap().to_owned()
    };
    assert!(
        row_of(&id).contains("<td>ada@example.com</td>"),
        "{}",
        row_of(&id)
    );
    assert!(
        row_of(&by_cli.id).contains("<td>test</td>"),
        "{}",
        row_of(&by_cli.id)
    );
    let detail = page_text(&app, &format!("/dashboard/keys/{id}"), &cookie).await;
    assert!(detail.contains("<dt>Created by</dt><dd>ada@example.com</dd>"));
}

#[actix_rt::test]
async fn the_nav_offers_the_audit_log_only_to_those_who_may_read_it() {
    let app = TestApp::spawn().await;
    for (email, role, shown) in [
        ("o@example.com", Role::Owner, true),
        ("a@example.com", Role::Admin, true),
        ("d@example.com", Role::Developer, false),
        ("v@example.com", Role::Viewer, false),
    ] {
        let cookie = signed_in(&app, email, role).await;
        let page = page_text(&app, "/dashboard", &cookie).await;
        assert_eq!(page.contains("href=\"/dashboard/audit\""), shown, "{role}");
        let audit = get(&app, "/dashboard/audit", &cookie).await.status();
        assert_eq!(audit == StatusCode::OK, shown, "{role}: {audit}");
    }
}
