//! The dashboard's applications pages over HTTP, as a browser would use them (no
//! redirects followed, the session cookie carried by hand): register (the secret
//! shown once and never again), a token with it, edit within the person's scopes,
//! rotate with an overlap, disable with a confirmation, the token chart — and what
//! each refuses: cross-site posts, a wrong or missing CSRF token, a developer's or a
//! viewer's crafted posts, malformed, oversize and hostile input, another
//! organization's application. In a
//! real Chromium: `an_owner_manages_an_application_in_a_browser`; with the real binary,
//! a log without the secrets: `the_log_carries_no_secret_the_pages_showed`.

use std::time::Duration;

use chrono::Utc;
use keygate::clients::model::ClientRegistration;
use keygate::identity::authority::Actor;
use keygate::users::{service, Role};
use reqwest::header::{COOKIE, ORIGIN, SET_COOKIE};
use reqwest::StatusCode;

use crate::helpers::db::{audit_trail, TestConnection};
use crate::helpers::web::{browser, csrf_of, location, member, page, post, value_after, PASSWORD};
use crate::helpers::{eventually, TestApp, TestClient};

/// A form's fields, repeated names kept.
type Form<'a> = Vec<(&'a str, &'a str)>;

/// What a "shown once" page shows: (client id, secret).
fn shown(html: &str) -> (String, String) {
    (
        value_after(html, "id=\"client-id\" readonly value=\""),
        value_after(html, "id=\"new-secret\" readonly value=\""),
    )
}

/// Registers an application through the page: the "shown once" page's HTML.
async fn register(app: &TestApp, cookie: &str, form: &[(&str, &str)]) -> (StatusCode, String) {
    let csrf = csrf_of(app, cookie).await;
    let form = [&[("csrf", csrf.as_str())], form].concat();
    let response = post(app, "/dashboard/apps", Some(cookie), &form).await;
    (response.status(), response.text().await.unwrap())
}

const BILLING: [(&str, &str); 4] = [
    ("name", "billing sync"),
    ("grant_type", "client_credentials"),
    ("scope", "read"),
    ("lifetime", "10m"),
];

async fn token_status(app: &TestApp, id: &str, secret: &str) -> u16 {
    let client = TestClient {
        id: id.to_owned(),
        secret: secret.to_owned(),
    };
    app.token_basic(&client, &[("grant_type", "client_credentials")])
        .await
        .status()
        .as_u16()
}

#[actix_rt::test]
async fn an_owner_registers_an_app_sees_its_secret_once_and_gets_a_token_with_it() {
    let app = TestApp::spawn().await;
    let (user_id, cookie) = member(&app, "ada@example.com", "default", Role::Owner).await;
    let (status, list) = page(&app, "/dashboard/apps", &cookie).await;
    assert_eq!(status, 200);
    assert!(list.contains("Register an application") && list.contains("No applications yet"));
    assert!(
        list.contains("<label for=\"audiences\">")
            && list.contains("aria-current=\"page\">Applications")
    );

    let csrf = csrf_of(&app, &cookie).await;
    let form = [&[("csrf", csrf.as_str())], &BILLING[..]].concat();
    let response = post(&app, "/dashboard/apps", Some(&cookie), &form).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let html = response.text().await.unwrap();
    assert!(html.contains("will not show it again"), "{html}");
    let (id, secret) = shown(&html);
    assert!(id.starts_with("kgc_") && secret.len() > 30);
    assert_eq!(token_status(&app, &id, &secret).await, 200);

    // Never again: not in the list, the detail page or the API.
    let (_, list) = page(&app, "/dashboard/apps", &cookie).await;
    assert!(list.contains(&id) && list.contains("billing sync") && list.contains("active"));
    let (status, detail) = page(&app, &format!("/dashboard/apps/{id}"), &cookie).await;
    assert_eq!(status, 200);
    assert!(detail.contains("600 s") && detail.contains("client_credentials"));
    for html in [&list, &detail] {
        assert!(!html.contains(&secret), "the secret is shown once");
    }
    let api = app
        .get_text(&format!("/v1/clients/{id}"), &app.admin_key)
        .await;
    assert!(api.contains("\"access_token_ttl_secs\":600") && !api.contains(&secret));
    assert_eq!(
        audit_trail(&app.store, "default").last().unwrap(),
        &format!("client.registered user:{user_id}")
    );
}

#[actix_rt::test]
async fn an_admin_edits_rotates_and_disables_an_app_and_each_is_audited() {
    let app = TestApp::spawn().await;
    let (user_id, cookie) = member(&app, "ada@example.com", "default", Role::Admin).await;
    let (_, html) = register(&app, &cookie, &BILLING).await;
    let (id, first) = shown(&html);
    let csrf = csrf_of(&app, &cookie).await;
    let path = format!("/dashboard/apps/{id}");

    let edit = [
        ("csrf", csrf.as_str()),
        ("name", "billing v2"),
        ("scope", "read"),
        ("scope", "write"),
        (
            "audiences",
            "https://api.example.com\nhttps://billing.example.com",
        ),
        ("lifetime", "5m"),
    ];
    let saved = post(&app, &path, Some(&cookie), &edit).await;
    assert_eq!(saved.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&saved), format!("{path}?notice=saved"));
    let view = app
        .get_json(&format!("/v1/clients/{id}"), &app.admin_key)
        .await;
    assert_eq!(view["name"], "billing v2");
    assert_eq!(view["scopes"], serde_json::json!(["read", "write"]));
    assert_eq!(view["audiences"].as_array().unwrap().len(), 2);
    assert_eq!(view["access_token_ttl_secs"], 300);
    let (_, detail) = page(&app, &path, &cookie).await;
    assert!(detail.contains("billing v2") && detail.contains("https://billing.example.com"));

    // Rotate with an hour's overlap: both secrets work; again with none: the first stops.
    let rotated = post(
        &app,
        &format!("{path}/rotate"),
        Some(&cookie),
        &[("csrf", &csrf), ("overlap", "1h")],
    )
    .await;
    assert_eq!(rotated.status(), 200);
    let html = rotated.text().await.unwrap();
    assert!(
        html.contains("previous secret keeps working until"),
        "{html}"
    );
    let (_, second) = shown(&html);
    assert_ne!(first, second);
    assert_eq!(token_status(&app, &id, &first).await, 200);
    assert_eq!(token_status(&app, &id, &second).await, 200);
    let again = post(
        &app,
        &format!("{path}/rotate"),
        Some(&cookie),
        &[("csrf", &csrf), ("overlap", "")],
    )
    .await;
    let (_, third) = shown(&again.text().await.unwrap());
    assert_eq!(token_status(&app, &id, &first).await, 401);
    assert_eq!(token_status(&app, &id, &second).await, 401);
    assert_eq!(token_status(&app, &id, &third).await, 200);
    let (_, detail) = page(&app, &path, &cookie).await;
    assert!(!detail.contains(&third), "the new secret is shown once too");

    // Disable: only with the box ticked.
    let unconfirmed = post(
        &app,
        &format!("{path}/disable"),
        Some(&cookie),
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!(unconfirmed.status(), 400);
    assert_eq!(token_status(&app, &id, &third).await, 200);
    let disabled = post(
        &app,
        &format!("{path}/disable"),
        Some(&cookie),
        &[("csrf", &csrf), ("confirm", "yes")],
    )
    .await;
    assert_eq!(disabled.status(), StatusCode::SEE_OTHER);
    assert_eq!(token_status(&app, &id, &third).await, 401);
    let (_, detail) = page(&app, &path, &cookie).await;
    assert!(
        detail.contains("disabled") && !detail.contains("Rotate secret"),
        "no forms for a disabled app"
    );
    let edit_disabled = post(&app, &path, Some(&cookie), &edit).await;
    assert_eq!(edit_disabled.status(), StatusCode::CONFLICT);

    let by = format!("user:{user_id}");
    let trail: Vec<String> = audit_trail(&app.store, "default")
        .into_iter()
        .filter(|e| e.starts_with("client."))
        .collect();
    assert_eq!(
        trail,
        [
            format!("client.registered {by}"),
            format!("client.updated {by}"),
            format!("client.secret_rotated {by}"),
            format!("client.secret_rotated {by}"),
            format!("client.disabled {by}"),
        ]
    );
}

#[actix_rt::test]
async fn posts_from_elsewhere_or_without_the_csrf_token_are_refused() {
    let app = TestApp::spawn().await;
    let (_, cookie) = member(&app, "ada@example.com", "default", Role::Owner).await;
    let csrf = csrf_of(&app, &cookie).await;
    let client = app.client_with_scope("read");
    let paths = [
        "/dashboard/apps".to_owned(),
        format!("/dashboard/apps/{}", client.id),
        format!("/dashboard/apps/{}/rotate", client.id),
        format!("/dashboard/apps/{}/disable", client.id),
    ];
    for path in &paths {
        let form = [&[("csrf", csrf.as_str()), ("confirm", "yes")], &BILLING[..]].concat();
        let cross = browser()
            .post(app.url(path))
            .header(ORIGIN, "https://evil.example")
            .header(COOKIE, &cookie)
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(cross.status(), 403, "{path}");
        let no_origin = browser()
            .post(app.url(path))
            .header(COOKIE, &cookie)
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(no_origin.status(), 403, "{path} without an Origin");
        for token in [None, Some("wrong"), Some("")] {
            let mut form: Vec<(&str, &str)> = vec![("confirm", "yes")];
            form.extend(BILLING);
            if let Some(token) = token {
                form.push(("csrf", token));
            }
            assert_eq!(
                post(&app, path, Some(&cookie), &form).await.status(),
                403,
                "{path} {token:?}"
            );
        }
        let signed_out = post(&app, path, None, &form).await;
        assert_eq!(signed_out.status(), StatusCode::SEE_OTHER, "{path}");
        assert!(location(&signed_out).starts_with("/sign-in?next="));
    }
    assert_eq!(
        token_status(&app, &client.id, &client.secret).await,
        200,
        "nothing changed"
    );
    assert!(!audit_trail(&app.store, "default")
        .iter()
        .any(|e| e.contains("user:") && e.starts_with("client.")));
}

#[actix_rt::test]
async fn developers_and_viewers_read_the_list_and_their_crafted_posts_are_refused() {
    let app = TestApp::spawn().await;
    let client = app.client_with_scope("read");
    for (email, role) in [
        ("dev@example.com", Role::Developer),
        ("view@example.com", Role::Viewer),
    ] {
        let (_, cookie) = member(&app, email, "default", role).await;
        let (status, list) = page(&app, "/dashboard/apps", &cookie).await;
        assert_eq!(status, 200);
        assert!(
            list.contains(&client.id) && !list.contains("Register an application"),
            "{role}"
        );
        let (status, detail) = page(&app, &format!("/dashboard/apps/{}", client.id), &cookie).await;
        assert_eq!(status, 200);
        assert!(!detail.contains("Rotate secret") && !detail.contains("Disable application"));
        let csrf = csrf_of(&app, &cookie).await;
        let form = [&[("csrf", csrf.as_str()), ("confirm", "yes")], &BILLING[..]].concat();
        for path in [
            "/dashboard/apps".to_owned(),
            format!("/dashboard/apps/{}", client.id),
            format!("/dashboard/apps/{}/rotate", client.id),
            format!("/dashboard/apps/{}/disable", client.id),
        ] {
            let refused = post(&app, &path, Some(&cookie), &form).await;
            assert_eq!(refused.status(), 403, "{role} {path}");
            assert!(refused.text().await.unwrap().contains("owner or an admin"));
        }
    }
    assert_eq!(token_status(&app, &client.id, &client.secret).await, 200);
    let view = app
        .get_json(&format!("/v1/clients/{}", client.id), &app.admin_key)
        .await;
    assert_eq!(view["name"], "test client");
}

#[actix_rt::test]
async fn malformed_missing_oversize_and_hostile_input_is_refused_or_escaped() {
    let app = TestApp::spawn_with(|s| {
        s.scopes = keygate::scope::ScopeSet::parse("read write admin webhook billing").unwrap();
    })
    .await;
    let (_, cookie) = member(&app, "ada@example.com", "default", Role::Owner).await;
    let long = "n".repeat(201);
    let many: String = (0..17)
        .map(|i| format!("https://a{i}.example.com\n"))
        .collect();
    let cases: Vec<(Form, u16, &str)> = vec![
        (vec![("scope", "read")], 400, "name must be"),
        (vec![("name", "  "), ("scope", "read")], 400, "name must be"),
        (
            vec![("name", &long), ("scope", "read")],
            400,
            "name must be",
        ),
        (
            vec![("name", "a\u{7}b"), ("scope", "read")],
            400,
            "name must be",
        ),
        (vec![("name", "x")], 400, "at least one scope"),
        (
            vec![("name", "x"), ("scope", "root")],
            400,
            "not one of the configured",
        ),
        (vec![("name", "x"), ("scope", "read write\"")], 400, "scope"),
        // Configured, but beyond what an owner's role holds.
        (
            vec![("name", "x"), ("scope", "billing")],
            403,
            "beyond the caller",
        ),
        (
            vec![("name", "x"), ("scope", "read"), ("grant_type", "password")],
            400,
            "unknown grant type",
        ),
        (
            vec![
                ("name", "x"),
                ("scope", "read"),
                ("grant_type", "refresh_token"),
            ],
            400,
            "needs client_credentials",
        ),
        (
            vec![("name", "x"), ("scope", "read"), ("audiences", "not a uri")],
            400,
            "absolute URI",
        ),
        (
            vec![
                ("name", "x"),
                ("scope", "read"),
                ("audiences", "https://a.example/#frag"),
            ],
            400,
            "absolute URI",
        ),
        (
            vec![("name", "x"), ("scope", "read"), ("audiences", &many)],
            400,
            "at most 16",
        ),
        (
            vec![("name", "x"), ("scope", "read"), ("lifetime", "forever")],
            400,
            "duration",
        ),
        (
            vec![("name", "x"), ("scope", "read"), ("lifetime", "10s")],
            400,
            "lifetime must be between",
        ),
        (
            vec![("name", "x"), ("scope", "read"), ("lifetime", "100d")],
            400,
            "lifetime must be between",
        ),
    ];
    for (form, status, says) in cases {
        let (got, html) = register(&app, &cookie, &form).await;
        assert_eq!(got.as_u16(), status, "{form:?}: {html}");
        assert!(html.contains(says), "{form:?} should say {says}: {html}");
        assert!(!html.contains("new-secret"));
    }
    assert!(
        !page(&app, "/dashboard/apps", &cookie)
            .await
            .1
            .contains(">billing<"),
        "not offered"
    );

    // Oversize: the body limit, before any work.
    let csrf = csrf_of(&app, &cookie).await;
    let huge = "x".repeat(300 * 1024);
    let oversize = post(
        &app,
        "/dashboard/apps",
        Some(&cookie),
        &[("csrf", &csrf), ("name", &huge)],
    )
    .await;
    assert!(oversize.status().is_client_error(), "{}", oversize.status());

    // Hostile but valid: registered, and shown escaped.
    let hostile = "<script>alert(1)</script>\"'&";
    let (status, html) = register(
        &app,
        &cookie,
        &[
            ("name", hostile),
            ("scope", "read"),
            ("grant_type", "client_credentials"),
        ],
    )
    .await;
    assert_eq!(status, 200);
    let (id, _) = shown(&html);
    for path in [
        "/dashboard/apps".to_owned(),
        format!("/dashboard/apps/{id}"),
    ] {
        let (_, html) = page(&app, &path, &cookie).await;
        assert!(
            !html.contains("<script>alert")
                && html.contains("&#60;script&#62;alert(1)&#60;/script&#62;"),
            "{path}"
        );
    }

    // The rotate and edit forms' own fields.
    let path = format!("/dashboard/apps/{id}");
    for overlap in ["31d", "abc", "-1h", "99999999999999d"] {
        let refused = post(
            &app,
            &format!("{path}/rotate"),
            Some(&cookie),
            &[("csrf", &csrf), ("overlap", overlap)],
        )
        .await;
        assert_eq!(refused.status(), 400, "{overlap}");
        assert!(!refused.text().await.unwrap().contains("new-secret"));
    }
    for (field, value, says) in [
        ("lifetime", "soon", "duration"),
        ("scope", "root", "not one of"),
        ("name", "", "name must be"),
    ] {
        let mut form = vec![("csrf", csrf.as_str()), ("name", "ok"), ("scope", "read")];
        form.retain(|(k, _)| *k != field);
        form.push((field, value));
        let refused = post(&app, &path, Some(&cookie), &form).await;
        assert_eq!(refused.status(), 400, "{field}={value}");
        assert!(refused.text().await.unwrap().contains(says), "{field}");
    }
    // Ids that are none: a 404, never an error page of another kind.
    for bad in [
        "nope",
        "kgc_",
        "kgc_00000000000000000000000000000000",
        "%3Cscript%3E",
        "..%2F..%2Fsign-in",
    ] {
        assert_eq!(
            page(&app, &format!("/dashboard/apps/{bad}"), &cookie)
                .await
                .0,
            404,
            "{bad}"
        );
        let posted = post(
            &app,
            &format!("/dashboard/apps/{bad}/disable"),
            Some(&cookie),
            &[("csrf", &csrf), ("confirm", "yes")],
        )
        .await;
        assert_eq!(posted.status(), 404, "{bad}");
    }
    assert_eq!(
        page(&app, "/dashboard/apps?after=%27%20OR%201%3D1", &cookie)
            .await
            .0,
        200
    );
}

#[actix_rt::test]
async fn an_app_one_holds_less_than_cannot_be_edited_or_rotated() {
    let app = TestApp::spawn_with(|s| {
        s.scopes = keygate::scope::ScopeSet::parse("read write admin webhook billing").unwrap();
    })
    .await;
    let (_, cookie) = member(&app, "ada@example.com", "default", Role::Owner).await;
    let client = app.client(ClientRegistration {
        name: "ledger".into(),
        scope: "read billing".into(),
        ..Default::default()
    });
    let csrf = csrf_of(&app, &cookie).await;
    let path = format!("/dashboard/apps/{}", client.id);
    let edit = post(
        &app,
        &path,
        Some(&cookie),
        &[
            ("csrf", &csrf),
            ("name", "renamed"),
            ("scope", "read"),
            ("scope", "billing"),
        ],
    )
    .await;
    assert_eq!(edit.status(), 403);
    assert!(edit.text().await.unwrap().contains("beyond the caller"));
    let rotate = post(
        &app,
        &format!("{path}/rotate"),
        Some(&cookie),
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!(rotate.status(), 403);
    assert!(!rotate.text().await.unwrap().contains("new-secret"));
    assert_eq!(token_status(&app, &client.id, &client.secret).await, 200);
}

#[actix_rt::test]
async fn another_organizations_app_is_a_404_on_every_page_and_form() {
    let app = TestApp::spawn().await;
    app.organization("other", "Other");
    let theirs = app.client_in(
        "other",
        ClientRegistration {
            name: "theirs".into(),
            scope: "read".into(),
            ..Default::default()
        },
    );
    let (_, cookie) = member(&app, "ada@example.com", "default", Role::Owner).await;
    let csrf = csrf_of(&app, &cookie).await;
    let path = format!("/dashboard/apps/{}", theirs.id);
    let (status, html) = page(&app, &path, &cookie).await;
    assert_eq!(status, 404);
    assert!(!html.contains("theirs"));
    assert!(!page(&app, "/dashboard/apps", &cookie)
        .await
        .1
        .contains(&theirs.id));
    let form = [
        ("csrf", csrf.as_str()),
        ("name", "mine now"),
        ("scope", "read"),
        ("confirm", "yes"),
        ("overlap", "1h"),
    ];
    for action in ["", "/rotate", "/disable"] {
        let response = post(&app, &format!("{path}{action}"), Some(&cookie), &form).await;
        assert_eq!(response.status(), 404, "{action}");
        assert!(!response.text().await.unwrap().contains("new-secret"));
    }
    assert_eq!(token_status(&app, &theirs.id, &theirs.secret).await, 200);
    assert!(audit_trail(&app.store, "other")
        .iter()
        .all(|e| !e.contains("user:")));
}

#[actix_rt::test]
async fn the_list_is_paged_in_id_order() {
    let app = TestApp::spawn().await;
    let (_, cookie) = member(&app, "ada@example.com", "default", Role::Viewer).await;
    let mut ids: Vec<String> = (0..51).map(|_| app.client_with_scope("read").id).collect();
    ids.sort();
    let (_, first) = page(&app, "/dashboard/apps", &cookie).await;
    assert!(first.contains(&ids[49]) && !first.contains(&ids[50]));
    let next = value_after(&first, "<a href=\"");
    let next = first
        .split("href=\"")
        .map(|s| s.split('"').next().unwrap())
        .find(|href| href.starts_with("/dashboard/apps?after="))
        .unwrap_or(&next)
        .to_owned();
    assert_eq!(next, format!("/dashboard/apps?after={}", ids[49]));
    let (_, second) = page(&app, &next, &cookie).await;
    assert!(second.contains(&ids[50]) && !second.contains(&ids[0]));
    assert!(!second.contains("rel=\"next\""));
}

#[actix_rt::test]
async fn an_apps_page_charts_its_tokens_issued_and_refused() {
    let app = TestApp::spawn_with(|s| s.usage_flush_interval = Duration::from_secs(1)).await;
    let (_, cookie) = member(&app, "ada@example.com", "default", Role::Admin).await;
    let client = app.client_with_scope("read");
    assert_eq!(token_status(&app, &client.id, &client.secret).await, 200);
    assert_eq!(token_status(&app, &client.id, &client.secret).await, 200);
    assert_eq!(token_status(&app, &client.id, "wrong").await, 401);
    let path = format!("/dashboard/apps/{}", client.id);
    let html = eventually("the counts flushed", || async {
        let (_, html) = page(&app, &path, &cookie).await;
        html.contains("Tokens, last 24 hours: 3 in all")
            .then_some(html)
    })
    .await;
    assert!(html.contains("Tokens, last 7 days: 3 in all"), "{html}");
    // Each chart's table: 2 issued and 1 refused in the period they fell in.
    assert_eq!(html.matches("<td>2</td><td>1</td>").count(), 2, "{html}");
    assert!(
        html.contains("<svg") && html.contains("role=\"img\"") && html.contains("class=\"ok\"")
    );
    assert!(
        !html.contains("<script>") && !html.contains("style=\""),
        "no inline script or style"
    );
}

/// In a real Chromium, driven by playwright-core (`tests/browser/apps.cjs`): register
/// an application on the page, read its secret once, get a `client_credentials` token
/// with it from outside the browser (node's `fetch`), rotate the secret, disable the
/// application and see the token endpoint refuse it; then open the audit log and
/// filter it. Screenshots land in `KEYGATE_TEST_SCREENSHOTS`.
#[actix_rt::test]
#[ignore = "needs Chromium and playwright-core: .ci/run installs both (KEYGATE_TEST_PLAYWRIGHT names the module)"]
async fn an_owner_manages_an_application_in_a_browser() {
    let Some(playwright) = crate::helpers::process::browser_tools() else {
        return;
    };
    // Its own origin as the issuer (the forms are checked against it), and counts
    // flushed every second, so the chart shows the tokens the script asks for.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let app = TestApp::spawn_with(|s| {
        s.bind = format!("127.0.0.1:{port}");
        s.issuer = format!("http://127.0.0.1:{port}").parse().unwrap();
        s.usage_flush_interval = Duration::from_secs(1);
    })
    .await;
    let now = Utc::now().naive_utc();
    let (user_id, token) = app.store.with_conn(|c| {
        let org = keygate::orgs::repo::find_by_slug(c, "default")
            .unwrap()
            .unwrap();
        let actor = Actor::operator("test");
        let (user, token) = service::create_user(
            c,
            &actor,
            "owner@example.com",
            None,
            &org.id,
            Role::Owner,
            now,
        )
        .unwrap();
        (user.id, token.expose().to_owned())
    });
    let stdout = crate::helpers::process::run_browser_script(
        playwright,
        "apps.cjs",
        &[
            ("KEYGATE_URL", app.address.clone()),
            ("OWNER_EMAIL", "owner@example.com".into()),
            ("OWNER_ID", user_id.to_string()),
            ("OWNER_SETUP_URL", format!("{}/setup#{token}", app.address)),
        ],
    )
    .await;
    assert!(
        stdout.contains("ok - the audit log filters by actor"),
        "the script ran to its end"
    );
}

/// The real binary at debug level: registering an application and rotating its secret
/// in the dashboard leaves neither secret, nor the session's cookie or CSRF token, in
/// the server's log.
#[test]
fn the_log_carries_no_secret_the_pages_showed() {
    use crate::helpers::process::{free_port, run, Installation};
    let kg = Installation::new();
    let issuer = format!("http://127.0.0.1:{}", free_port());
    let bind = issuer.trim_start_matches("http://").to_owned();
    let env = [
        ("KEYGATE_LOG", "debug"),
        ("KEYGATE_ISSUER", issuer.as_str()),
        ("KEYGATE_BIND", bind.as_str()),
    ];
    let server = kg.serve(&env);
    let created = run(kg.keygate().envs(env).args([
        "user",
        "create",
        "--email",
        "o@example.com",
        "--org",
        "default",
        "--role",
        "owner",
    ]));
    assert!(created.ok, "{}", created.stderr);
    let setup_url = created.json["setup_url"].as_str().unwrap();
    let token = setup_url.split('#').nth(1).unwrap();
    let http = reqwest::blocking::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let post = |path: &str, cookie: Option<&str>, form: &[(&str, &str)]| {
        let mut request = http
            .post(format!("{issuer}{path}"))
            .header(ORIGIN, issuer.as_str())
            .form(form);
        if let Some(cookie) = cookie {
            request = request.header(COOKIE, cookie);
        }
        request.send().unwrap()
    };
    let set = post(
        "/setup",
        None,
        &[
            ("token", token),
            ("password", PASSWORD),
            ("confirm", PASSWORD),
        ],
    );
    assert_eq!(set.status(), StatusCode::SEE_OTHER);
    let signed_in = post(
        "/sign-in",
        None,
        &[("email", "o@example.com"), ("password", PASSWORD)],
    );
    assert_eq!(signed_in.status(), StatusCode::SEE_OTHER);
    let cookie = signed_in.headers()[SET_COOKIE]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let list = http
        .get(format!("{issuer}/dashboard/apps"))
        .header(COOKIE, &cookie)
        .send()
        .unwrap()
        .text()
        .unwrap();
    let csrf = value_after(&list, "name=\"csrf\" value=\"");
    let form = [&[("csrf", csrf.as_str())], &BILLING[..]].concat();
    let registered = post("/dashboard/apps", Some(&cookie), &form);
    assert_eq!(registered.status(), 200);
    let (id, first) = shown(&registered.text().unwrap());
    let rotated = post(
        &format!("/dashboard/apps/{id}/rotate"),
        Some(&cookie),
        &[("csrf", &csrf), ("overlap", "1h")],
    );
    assert_eq!(rotated.status(), 200);
    let (_, second) = shown(&rotated.text().unwrap());
    let (log, _) = server.stop();
    assert!(
        log.contains("client registered") && log.contains(&id),
        "{log}"
    );
    let session_token = cookie.split('=').nth(1).unwrap();
    for secret in [
        first.as_str(),
        second.as_str(),
        session_token,
        csrf.as_str(),
        token,
    ] {
        assert!(!log.contains(secret), "a secret in the log:\n{log}");
    }
}

#[actix_rt::test]
async fn an_admin_registers_a_public_app_with_redirect_uris() {
    let app = TestApp::spawn().await;
    let (_, cookie) = member(&app, "pat@example.com", "default", Role::Admin).await;
    let form = [
        ("name", "Acme CLI"),
        ("grant_type", "authorization_code"),
        ("grant_type", "refresh_token"),
        ("scope", "read"),
        (
            "redirect_uris",
            "http://127.0.0.1/callback\r\ncom.example.app:/cb",
        ),
        ("public", "yes"),
    ];
    let (status, html) = register(&app, &cookie, &form).await;
    assert_eq!(status, 200, "{html}");
    assert!(
        html.contains("A public client has no secret") && !html.contains("new-secret"),
        "{html}"
    );
    let id = value_after(&html, "id=\"client-id\" readonly value=\"");
    let (_, detail) = page(&app, &format!("/dashboard/apps/{id}"), &cookie).await;
    assert!(
        detail.contains("http://127.0.0.1/callback com.example.app:/cb"),
        "{detail}"
    );
    assert!(detail.contains("a public client") && !detail.contains("Rotate the secret"));
    // A redirect URI keygate refuses is said on the form, and nothing is registered.
    let bad = [
        ("name", "Bad"),
        ("grant_type", "authorization_code"),
        ("scope", "read"),
        ("redirect_uris", "http://app.example/cb"),
    ];
    let (status, html) = register(&app, &cookie, &bad).await;
    assert_eq!(status, 400, "{html}");
    assert!(html.contains("loopback"), "{html}");
    // And a public client cannot have client_credentials.
    let confused = [
        ("name", "Confused"),
        ("grant_type", "client_credentials"),
        ("scope", "read"),
        ("public", "yes"),
    ];
    let (status, _) = register(&app, &cookie, &confused).await;
    assert_eq!(status, 400);
}
