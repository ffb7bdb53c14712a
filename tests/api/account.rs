//! A person's own account in the dashboard, over HTTP as a browser uses it: change the
//! password (the other sessions end), list and end their sessions, enrol a TOTP second
//! factor (a wrong first code changes nothing; recovery codes shown once), sign in
//! with it (the waiting session opens nothing else; a code works once; recovery codes
//! once each; wrong codes throttled), turn it off, and an organization that requires
//! one sending its members to enrol first — with the cross-site, forged and hostile
//! posts each refuses.

use std::sync::Arc;

use chrono::Utc;
use keygate::clock::{Clock, ManualClock};
use keygate::users::totp::{self, TotpSecret};
use keygate::users::Role;
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use reqwest::StatusCode;

use crate::helpers::db::{audit_trail, TestConnection};
use crate::helpers::web::{
    browser, csrf_of, get, member, page, post, session_cookie, sign_in, PASSWORD,
};

use crate::helpers::TestApp;

const NEW_PASSWORD: &str = "a new and long enough passphrase";

fn location(response: &reqwest::Response) -> String {
    response.headers()[LOCATION].to_str().unwrap().to_owned()
}

fn value_after(html: &str, marker: &str) -> String {
    let start = html
        .find(marker)
        .unwrap_or_else(|| panic!("{marker} in {html}"))
        + marker.len();
    html[start..].split('"').next().unwrap().to_owned()
}

/// The code an authenticator app shows for the secret on an enrolment page, at `at`.
fn code_at(secret_shown: &str, at: chrono::DateTime<Utc>) -> String {
    let base32: String = secret_shown.split_whitespace().collect();
    let secret = TotpSecret::from_bytes(totp::base32_decode(&base32).unwrap());
    totp::code_text(&secret, totp::step_of(at.timestamp()))
}

/// Enrols the signed-in `cookie`'s person at the clock's time: (the secret as shown,
/// the recovery codes).
async fn enrol(app: &TestApp, cookie: &str, clock: &ManualClock) -> (String, Vec<String>) {
    let csrf = account_csrf(app, cookie).await;
    let started = post(
        app,
        "/dashboard/account/second-factor/start",
        Some(cookie),
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!(started.status(), StatusCode::OK);
    assert_eq!(started.headers()["cache-control"], "no-store");
    let html = started.text().await.unwrap();
    let secret = value_after(&html, "id=\"totp-secret\" readonly value=\"");
    assert!(html.contains("otpauth://totp/"), "{html}");
    let code = code_at(&secret, clock.now());
    let confirmed = post(
        app,
        "/dashboard/account/second-factor/confirm",
        Some(cookie),
        &[("csrf", &csrf), ("code", &code)],
    )
    .await;
    assert_eq!(confirmed.status(), StatusCode::OK);
    assert_eq!(confirmed.headers()["cache-control"], "no-store");
    let html = confirmed.text().await.unwrap();
    let start = html.find("data-secret>").unwrap() + "data-secret>".len();
    let codes: Vec<String> = html[start..]
        .split("</textarea>")
        .next()
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    assert_eq!(codes.len(), 10, "{html}");
    (secret, codes)
}

/// The CSRF token the account page embeds (the one page open to a person who must
/// enrol first).
async fn account_csrf(app: &TestApp, cookie: &str) -> String {
    value_after(
        &page(app, "/dashboard/account", cookie).await.1,
        "name=\"csrf\" value=\"",
    )
}

async fn spawn_with_manual_clock() -> (TestApp, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(Utc::now()));
    let app = TestApp::spawn_with_clock(|_| {}, clock.clone()).await;
    (app, clock)
}

#[actix_rt::test]
async fn a_password_change_ends_the_other_sessions() {
    let app = TestApp::spawn().await;
    let (_, first) = member(&app, "ada@example.com", "default", Role::Developer).await;
    let second = session_cookie(&sign_in(&app, "ada@example.com", PASSWORD).await);
    let csrf = csrf_of(&app, &first).await;
    let (status, html) = page(&app, "/dashboard/account", &first).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(html.matches("/end\">").count(), 2, "two sessions: {html}");

    let change = |current: &'static str, password: &'static str, confirm: &'static str| {
        let (app, first, csrf) = (&app, &first, &csrf);
        async move {
            post(
                app,
                "/dashboard/account/password",
                Some(first),
                &[
                    ("csrf", csrf),
                    ("current", current),
                    ("password", password),
                    ("confirm", confirm),
                ],
            )
            .await
        }
    };
    assert_eq!(
        change("wrong password!!", NEW_PASSWORD, NEW_PASSWORD)
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        change(PASSWORD, NEW_PASSWORD, "something else entirely")
            .await
            .status(),
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        change(PASSWORD, "short", "short").await.status(),
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        change(PASSWORD, "password1234", "password1234")
            .await
            .status(),
        StatusCode::BAD_REQUEST,
        "a common password"
    );
    let forged = post(
        &app,
        "/dashboard/account/password",
        Some(&first),
        &[
            ("csrf", "forged"),
            ("current", PASSWORD),
            ("password", NEW_PASSWORD),
            ("confirm", NEW_PASSWORD),
        ],
    )
    .await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    // Nothing has changed yet: the second session still opens pages.
    assert_eq!(
        get(&app, "/dashboard", &second).await.status(),
        StatusCode::OK
    );

    let changed = change(PASSWORD, NEW_PASSWORD, NEW_PASSWORD).await;
    assert_eq!(changed.status(), StatusCode::SEE_OTHER);
    assert!(location(&changed).contains("password-changed"));
    assert_eq!(
        get(&app, "/dashboard", &first).await.status(),
        StatusCode::OK
    );
    let ended = get(&app, "/dashboard", &second).await;
    assert_eq!(ended.status(), StatusCode::SEE_OTHER);
    assert!(location(&ended).starts_with("/sign-in"));
    assert_eq!(
        sign_in(&app, "ada@example.com", PASSWORD).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        sign_in(&app, "ada@example.com", NEW_PASSWORD)
            .await
            .status(),
        StatusCode::SEE_OTHER
    );
    let trail = audit_trail(&app.store, "default");
    assert!(
        trail.iter().any(|e| e.starts_with("user.password_changed")),
        "{trail:?}"
    );
}

#[actix_rt::test]
async fn sessions_are_listed_and_ended_one_at_a_time_but_only_ones_own() {
    let app = TestApp::spawn().await;
    let (_, first) = member(&app, "ada@example.com", "default", Role::Viewer).await;
    let second = session_cookie(&sign_in(&app, "ada@example.com", PASSWORD).await);
    let (_, other) = member(&app, "bob@example.com", "default", Role::Owner).await;
    let csrf = csrf_of(&app, &first).await;
    let (_, html) = page(&app, "/dashboard/account", &first).await;
    let ids: Vec<String> = html
        .match_indices("/dashboard/account/sessions/")
        .map(|(at, _)| html[at + 28..].split('/').next().unwrap().to_owned())
        .collect();
    assert_eq!(ids.len(), 2);
    assert!(html.contains("Sign out (this one)"));

    // Bob's session is not Ada's to end.
    let (_, bobs) = page(&app, "/dashboard/account", &other).await;
    let bob_session = bobs
        .split("/dashboard/account/sessions/")
        .nth(1)
        .unwrap()
        .split('/')
        .next()
        .unwrap()
        .to_owned();
    let foreign = post(
        &app,
        &format!("/dashboard/account/sessions/{bob_session}/end"),
        Some(&first),
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!(foreign.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        get(&app, "/dashboard", &other).await.status(),
        StatusCode::OK
    );
    for junk in ["nope", "%27%20OR%201%3D1", &"s".repeat(300)] {
        let response = post(
            &app,
            &format!("/dashboard/account/sessions/{junk}/end"),
            Some(&first),
            &[("csrf", &csrf)],
        )
        .await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{junk}");
    }

    // Ada ends her other session, then signs out of this one from the list.
    let (_, second_html) = page(&app, "/dashboard/account", &second).await;
    let this_second = second_html
        .split("Sign out (this one)")
        .next()
        .unwrap()
        .rsplit("/dashboard/account/sessions/")
        .next()
        .unwrap()
        .split('/')
        .next()
        .unwrap()
        .to_owned();
    let ended = post(
        &app,
        &format!("/dashboard/account/sessions/{this_second}/end"),
        Some(&first),
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!(ended.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        get(&app, "/dashboard", &second).await.status(),
        StatusCode::SEE_OTHER
    );
    let own = ids.iter().find(|id| **id != this_second).unwrap();
    let out = post(
        &app,
        &format!("/dashboard/account/sessions/{own}/end"),
        Some(&first),
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!(out.status(), StatusCode::SEE_OTHER);
    assert!(out.headers()[SET_COOKIE]
        .to_str()
        .unwrap()
        .contains("Max-Age=0"));
    assert_eq!(
        get(&app, "/dashboard", &first).await.status(),
        StatusCode::SEE_OTHER
    );
}

#[actix_rt::test]
async fn a_second_factor_is_enrolled_and_signs_in_once_per_code() {
    let (app, clock) = spawn_with_manual_clock().await;
    let (_, cookie) = member(&app, "ada@example.com", "default", Role::Owner).await;
    let csrf = csrf_of(&app, &cookie).await;

    // A wrong first code turns nothing on and shows the same secret again.
    let started = post(
        &app,
        "/dashboard/account/second-factor/start",
        Some(&cookie),
        &[("csrf", &csrf)],
    )
    .await;
    let secret = value_after(
        &started.text().await.unwrap(),
        "id=\"totp-secret\" readonly value=\"",
    );
    let wrong = post(
        &app,
        "/dashboard/account/second-factor/confirm",
        Some(&cookie),
        &[("csrf", &csrf), ("code", "000000")],
    )
    .await;
    assert_eq!(wrong.status(), StatusCode::BAD_REQUEST);
    let again = wrong.text().await.unwrap();
    assert!(again.contains(&secret), "the same secret to retry");
    let (_, account) = page(&app, "/dashboard/account", &cookie).await;
    assert!(account.contains("Set up an authenticator app"));

    let (secret, codes) = enrol(&app, &cookie, &clock).await;
    let (_, account) = page(&app, "/dashboard/account", &cookie).await;
    assert!(account.contains("10 recovery codes left"), "{account}");
    assert!(!account.contains(&codes[0]), "codes are shown once");

    // Sign in again: the password alone opens only the second-factor form.
    let password_only = sign_in(&app, "ada@example.com", PASSWORD).await;
    assert_eq!(password_only.status(), StatusCode::SEE_OTHER);
    assert!(location(&password_only).starts_with("/sign-in/second-factor"));
    let pending = session_cookie(&password_only);
    let refused = get(&app, "/dashboard", &pending).await;
    assert_eq!(refused.status(), StatusCode::SEE_OTHER);
    assert!(location(&refused).starts_with("/sign-in"));
    let form = page(&app, "/sign-in/second-factor", &pending).await.1;
    let pending_csrf = value_after(&form, "name=\"csrf\" value=\"");
    assert!(form.contains("autocomplete=\"one-time-code\""));

    let second_step = |code: String| {
        let (app, pending, pending_csrf) = (&app, pending.clone(), pending_csrf.clone());
        async move {
            post(
                app,
                "/sign-in/second-factor",
                Some(&pending),
                &[
                    ("csrf", &pending_csrf),
                    ("code", &code),
                    ("next", "/dashboard/keys"),
                ],
            )
            .await
        }
    };
    // The enrolment's code was spent on enrolment.
    let replayed = second_step(code_at(&secret, clock.now())).await;
    assert_eq!(replayed.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        second_step("12345678901234567890".into()).await.status(),
        StatusCode::UNAUTHORIZED
    );
    clock.advance(chrono::Duration::seconds(31));
    let code = code_at(&secret, clock.now());
    let passed = second_step(code.clone()).await;
    assert_eq!(passed.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&passed), "/dashboard/keys");
    let full = session_cookie(&passed);
    assert_ne!(full, pending, "the session changes at the second step");
    assert_eq!(
        get(&app, "/dashboard", &full).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        second_step(code.clone()).await.status(),
        StatusCode::SEE_OTHER,
        "the waiting session is gone: start over"
    );

    // The same code in a new sign-in does not pass again; a recovery code does, once.
    let retry = session_cookie(&sign_in(&app, "ada@example.com", PASSWORD).await);
    let retry_csrf = value_after(
        &page(&app, "/sign-in/second-factor", &retry).await.1,
        "name=\"csrf\" value=\"",
    );
    let with = |code: String| {
        let (app, retry, retry_csrf) = (&app, retry.clone(), retry_csrf.clone());
        async move {
            post(
                app,
                "/sign-in/second-factor",
                Some(&retry),
                &[("csrf", &retry_csrf), ("code", &code)],
            )
            .await
        }
    };
    assert_eq!(with(code).await.status(), StatusCode::UNAUTHORIZED);
    let recovered = with(codes[3].to_lowercase()).await;
    assert_eq!(recovered.status(), StatusCode::SEE_OTHER);
    let after = session_cookie(&sign_in(&app, "ada@example.com", PASSWORD).await);
    let after_csrf = value_after(
        &page(&app, "/sign-in/second-factor", &after).await.1,
        "name=\"csrf\" value=\"",
    );
    let reused = post(
        &app,
        "/sign-in/second-factor",
        Some(&after),
        &[("csrf", &after_csrf), ("code", &codes[3])],
    )
    .await;
    assert_eq!(reused.status(), StatusCode::UNAUTHORIZED, "once only");

    // Cross-site or forged second steps are refused before any code is checked.
    let cross = browser()
        .post(app.url("/sign-in/second-factor"))
        .header("origin", "https://evil.example")
        .header(COOKIE, &after)
        .form(&[("csrf", after_csrf.as_str()), ("code", codes[4].as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(cross.status(), StatusCode::FORBIDDEN);
    let forged = post(
        &app,
        "/sign-in/second-factor",
        Some(&after),
        &[("csrf", "forged"), ("code", &codes[4])],
    )
    .await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);

    // The waiting session expires after five minutes.
    clock.advance(chrono::Duration::minutes(6));
    let late = post(
        &app,
        "/sign-in/second-factor",
        Some(&after),
        &[("csrf", &after_csrf), ("code", &codes[4])],
    )
    .await;
    assert_eq!(late.status(), StatusCode::SEE_OTHER);
    assert!(location(&late).contains("start-over"));

    // Turning it off takes a current code.
    let csrf = csrf_of(&app, &full).await;
    let no = post(
        &app,
        "/dashboard/account/second-factor/disable",
        Some(&full),
        &[("csrf", &csrf), ("code", "999999")],
    )
    .await;
    assert_eq!(no.status(), StatusCode::BAD_REQUEST);
    clock.advance(chrono::Duration::seconds(31));
    let off = post(
        &app,
        "/dashboard/account/second-factor/disable",
        Some(&full),
        &[("csrf", &csrf), ("code", &code_at(&secret, clock.now()))],
    )
    .await;
    assert_eq!(off.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        sign_in(&app, "ada@example.com", PASSWORD).await.status(),
        StatusCode::SEE_OTHER
    );
    let trail = audit_trail(&app.store, "default");
    for event in [
        "user.second_factor_enabled",
        "user.second_factor_disabled",
        "user.signed_in",
    ] {
        assert!(
            trail.iter().any(|e| e.starts_with(event)),
            "{event}: {trail:?}"
        );
    }
    let secret_plain: String = secret.split_whitespace().collect();
    let stored: Vec<Option<String>> = app.store.with_conn(|c| {
        use diesel::prelude::*;
        keygate::store::schema::users::table
            .select(keygate::store::schema::users::totp_pending_secret)
            .load(c)
            .unwrap()
    });
    assert!(
        stored.iter().flatten().all(|s| !s.contains(&secret_plain)),
        "never stored readable"
    );
}

#[actix_rt::test]
async fn wrong_second_factor_codes_are_throttled() {
    let (app, clock) = spawn_with_manual_clock().await;
    let (_, cookie) = member(&app, "ada@example.com", "default", Role::Owner).await;
    enrol(&app, &cookie, &clock).await;
    let pending = session_cookie(&sign_in(&app, "ada@example.com", PASSWORD).await);
    let csrf = value_after(
        &page(&app, "/sign-in/second-factor", &pending).await.1,
        "name=\"csrf\" value=\"",
    );
    let mut statuses = Vec::new();
    for guess in 0..40 {
        let code = format!("{:06}", 100_000 + guess);
        let response = post(
            &app,
            "/sign-in/second-factor",
            Some(&pending),
            &[("csrf", &csrf), ("code", &code)],
        )
        .await;
        statuses.push(response.status());
        if response.status() == StatusCode::TOO_MANY_REQUESTS {
            assert!(response.headers().contains_key("retry-after"));
            break;
        }
    }
    assert_eq!(
        statuses.last(),
        Some(&StatusCode::TOO_MANY_REQUESTS),
        "{statuses:?}"
    );

    // Turning it off from a live session counts wrong codes against the same throttle.
    let csrf = account_csrf(&app, &cookie).await;
    let mut last = StatusCode::OK;
    for guess in 0..40 {
        let code = format!("{:06}", 200_000 + guess);
        last = post(
            &app,
            "/dashboard/account/second-factor/disable",
            Some(&cookie),
            &[("csrf", &csrf), ("code", &code)],
        )
        .await
        .status();
        if last == StatusCode::TOO_MANY_REQUESTS {
            break;
        }
    }
    assert_eq!(last, StatusCode::TOO_MANY_REQUESTS);
}

#[actix_rt::test]
async fn an_organization_that_requires_a_second_factor_sends_members_to_enrol() {
    let (app, clock) = spawn_with_manual_clock().await;
    let (_, cookie) = member(&app, "ada@example.com", "default", Role::Developer).await;
    app.store.with_conn(|c| {
        use diesel::prelude::*;
        use keygate::store::schema::organizations;
        diesel::update(organizations::table)
            .set(organizations::second_factor_required.eq(true))
            .execute(c)
            .unwrap();
    });
    for path in ["/dashboard", "/dashboard/keys", "/dashboard/members"] {
        let sent = get(&app, path, &cookie).await;
        assert_eq!(sent.status(), StatusCode::SEE_OTHER, "{path}");
        assert_eq!(
            location(&sent),
            "/dashboard/account?notice=second-factor-required"
        );
    }
    let (status, account) = page(&app, "/dashboard/account", &cookie).await;
    assert_eq!(status, StatusCode::OK);
    assert!(account.contains("requires a second factor"), "{account}");
    enrol(&app, &cookie, &clock).await;
    assert_eq!(
        get(&app, "/dashboard/keys", &cookie).await.status(),
        StatusCode::OK
    );
}
