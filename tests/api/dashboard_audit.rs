//! The dashboard's audit log over HTTP — newest first, filtered by type, actor and
//! dates, paged with an "older" link that keeps the filter; refused to developers
//! and viewers; malformed and hostile filters refused; only the organization's own
//! events — and the `actor` filter of `GET /v1/audit-events` and `keygate audit`.

use keygate::clients::model::ClientRegistration;
use keygate::users::Role;
use reqwest::StatusCode;

use crate::helpers::process::Installation;
use crate::helpers::web::{member, page};
use crate::helpers::{assert_api_error, TestApp};

/// The `href` of the page's "Older events" link, unescaped.
fn older_link(html: &str) -> Option<String> {
    let end = html.find("\" rel=\"next\">Older events")?;
    let start = html[..end].rfind("href=\"")? + 6;
    Some(html[start..end].replace("&#38;", "&"))
}

/// How many event rows a page shows.
fn rows(html: &str) -> usize {
    html.matches("<td class=\"when\">").count()
}

#[actix_rt::test]
async fn an_owner_reads_the_log_newest_first_and_filters_it() {
    let app = TestApp::spawn().await;
    let (user_id, cookie) = member(&app, "ada@example.com", "default", Role::Owner).await;
    let client = app.client_with_scope("read");
    let rotated = app
        .post_json(
            &format!("/v1/clients/{}/rotate-secret", client.id),
            &app.admin_key,
            &serde_json::json!({}),
        )
        .await;
    assert_eq!(rotated.status(), 200);

    let (status, html) = page(&app, "/dashboard/audit", &cookie).await;
    assert_eq!(status, 200);
    assert!(html.contains("aria-current=\"page\">Audit log"));
    for label in [
        "for=\"type\"",
        "for=\"actor\"",
        "for=\"from\"",
        "for=\"to\"",
    ] {
        assert!(html.contains(label), "{label}");
    }
    // Newest first: the rotation (by the bootstrap key) before the sign-in.
    let rotation = html.find("client.secret_rotated</code>").unwrap();
    let signed_in = html.find("user.signed_in</code>").unwrap();
    assert!(rotation < signed_in, "newest first");
    assert!(html.contains(&format!("user:{user_id}")) && html.contains("name: test client"));
    // A member is named by their email beside the label the filter takes.
    assert!(html.contains(&format!("ada@example.com<br><code>user:{user_id}</code>")));

    let by_type = page(&app, "/dashboard/audit?type=client.registered", &cookie)
        .await
        .1;
    assert_eq!(rows(&by_type), 1);
    assert!(by_type.contains("value=\"client.registered\" selected"));
    let by_me = page(
        &app,
        &format!("/dashboard/audit?actor=user:{user_id}"),
        &cookie,
    )
    .await
    .1;
    assert!(rows(&by_me) >= 1 && !by_me.contains("client.secret_rotated</code>"));
    let today = chrono::Utc::now().date_naive();
    let (yesterday, tomorrow) = (today.pred_opt().unwrap(), today.succ_opt().unwrap());
    let within = page(
        &app,
        &format!("/dashboard/audit?from={today}&to={today}"),
        &cookie,
    )
    .await
    .1;
    assert_eq!(rows(&within), rows(&html), "the whole of today");
    let before = page(&app, &format!("/dashboard/audit?to={yesterday}"), &cookie)
        .await
        .1;
    assert_eq!(rows(&before), 0);
    assert!(before.contains("No events match"));
    let after = page(&app, &format!("/dashboard/audit?from={tomorrow}"), &cookie)
        .await
        .1;
    assert_eq!(rows(&after), 0);
    // An empty field filters nothing.
    let empty = page(&app, "/dashboard/audit?type=&actor=&from=&to=", &cookie).await;
    assert_eq!((empty.0, rows(&empty.1)), (StatusCode::OK, rows(&html)));
}

#[actix_rt::test]
async fn the_log_is_paged_with_an_older_link_that_keeps_the_filter() {
    let app = TestApp::spawn().await;
    let (_, cookie) = member(&app, "ada@example.com", "default", Role::Admin).await;
    for i in 0..60 {
        let body = serde_json::json!({"name": format!("k{i}"), "scopes": ["read"]});
        let created = app.post_json("/v1/api-keys", &app.admin_key, &body).await;
        assert_eq!(created.status(), 201);
    }
    let first = page(&app, "/dashboard/audit?type=api_key.created", &cookie)
        .await
        .1;
    assert_eq!(rows(&first), 50);
    assert!(first.contains("name: k59") && !first.contains("name: k9;"));
    let older = older_link(&first).expect("an older link");
    assert!(
        older.starts_with("/dashboard/audit?type=api_key.created&after=evt_"),
        "{older}"
    );
    let second = page(&app, &older, &cookie).await.1;
    assert_eq!(rows(&second), 10);
    assert!(
        second.contains("name: k9;")
            && second.contains("name: k0;")
            && !second.contains("name: k59")
    );
    assert!(older_link(&second).is_none());
    // Another actor's filter with the same cursor: nothing of the bootstrap key's.
    let cursor = older.rsplit("after=").next().unwrap();
    let none = page(
        &app,
        &format!("/dashboard/audit?actor=cli&after={cursor}"),
        &cookie,
    )
    .await
    .1;
    assert_eq!(rows(&none), 0);
}

#[actix_rt::test]
async fn developers_and_viewers_do_not_read_the_log() {
    let app = TestApp::spawn().await;
    for (email, role) in [
        ("dev@example.com", Role::Developer),
        ("view@example.com", Role::Viewer),
    ] {
        let (_, cookie) = member(&app, email, "default", role).await;
        let (status, html) = page(&app, "/dashboard/audit", &cookie).await;
        assert_eq!(status, 403, "{role}");
        assert!(!html.contains("user.signed_in"), "{role}");
        let filtered = page(
            &app,
            "/dashboard/audit?type=user.signed_in&actor=cli",
            &cookie,
        )
        .await
        .0;
        assert_eq!(filtered, 403);
    }
    let signed_out = crate::helpers::web::browser()
        .get(app.url("/dashboard/audit"))
        .send()
        .await
        .unwrap();
    assert_eq!(signed_out.status(), StatusCode::SEE_OTHER);
}

#[actix_rt::test]
async fn malformed_and_hostile_filters_are_refused_and_never_echoed_raw() {
    let app = TestApp::spawn().await;
    let (_, cookie) = member(&app, "ada@example.com", "default", Role::Owner).await;
    let long = "a".repeat(101);
    for (query, says) in [
        ("type=nope".to_owned(), "event type"),
        ("type=%3Cscript%3E".to_owned(), "event type"),
        (
            "actor=%3Cscript%3Ealert(1)%3C%2Fscript%3E".to_owned(),
            "The actor",
        ),
        ("actor=a%20b".to_owned(), "The actor"),
        ("actor=%27%20OR%201%3D1--".to_owned(), "The actor"),
        (format!("actor={long}"), "The actor"),
        ("from=yesterday".to_owned(), "date such as"),
        ("to=2026-13-01".to_owned(), "date such as"),
        ("from=2026-12-02&to=2026-12-01".to_owned(), "not be after"),
        ("after=evt_nope".to_owned(), "page link"),
        (
            "after=%27%3B%20DROP%20TABLE%20audit_events".to_owned(),
            "page link",
        ),
    ] {
        let (status, html) = page(&app, &format!("/dashboard/audit?{query}"), &cookie).await;
        assert_eq!(status, 400, "{query}");
        assert!(html.contains(says), "{query}: {html}");
        assert!(!html.contains("<script>alert"), "{query}");
        assert_eq!(rows(&html), 0, "{query}");
    }
    let (status, html) = page(&app, "/dashboard/audit?actor=%3Cscript%3E", &cookie).await;
    assert_eq!(status, 400);
    assert!(
        html.contains("value=\"&#60;script&#62;\""),
        "echoed escaped into the field"
    );
    let unknown_param = page(&app, "/dashboard/audit?zzz=1", &cookie).await.0;
    assert_eq!(unknown_param, 200);
}

#[actix_rt::test]
async fn only_the_organizations_own_events_are_shown() {
    let app = TestApp::spawn().await;
    app.organization("other", "Other");
    let theirs = app.client_in(
        "other",
        ClientRegistration {
            name: "their secret project".into(),
            scope: "read".into(),
            ..Default::default()
        },
    );
    let (_, cookie) = member(&app, "ada@example.com", "default", Role::Owner).await;
    let html = page(&app, "/dashboard/audit", &cookie).await.1;
    assert!(!html.contains(&theirs.id) && !html.contains("their secret project"));
    let by_test = page(&app, "/dashboard/audit?actor=test", &cookie).await.1;
    assert!(
        by_test.contains("user.created</code>"),
        "ada's, made by the operator"
    );
    assert!(
        !by_test.contains("client.registered</code>"),
        "not the operator's event in the other organization"
    );
}

#[actix_rt::test]
async fn the_api_filters_audit_events_by_actor() {
    let app = TestApp::spawn().await;
    let (user_id, _) = member(&app, "ada@example.com", "default", Role::Owner).await;
    let key = app.api_key("read write admin").await;
    let by_key = |actor: String| format!("/v1/audit-events?actor={actor}");
    let mine = app
        .get_json(&by_key(format!("user:{user_id}")), &app.admin_key)
        .await;
    let events = mine["data"].as_array().unwrap();
    assert!(!events.is_empty());
    assert!(events
        .iter()
        .all(|e| e["actor"] == format!("user:{user_id}")));
    assert!(events.iter().any(|e| e["event_type"] == "user.signed_in"));
    let none = app
        .get_json(&by_key(format!("key:{}", key.id)), &app.admin_key)
        .await;
    assert_eq!(none["data"], serde_json::json!([]));
    let typed = app
        .get_json(
            &format!("/v1/audit-events?actor=user:{user_id}&type=user.password_set"),
            &app.admin_key,
        )
        .await;
    assert_eq!(typed["data"].as_array().unwrap().len(), 1);
    let long = "a".repeat(101);
    for bad in [
        "",
        "a%20b",
        "%3Cscript%3E",
        "%27%20OR%201%3D1",
        "%C3%BC",
        long.as_str(),
    ] {
        let response = app.get(&by_key(bad.to_owned()), &app.admin_key).await;
        let body = assert_api_error(response, 400, "invalid_request").await;
        assert_eq!(body["error"]["details"]["field"], "actor", "{bad}");
    }
}

#[test]
fn the_cli_filters_audit_events_by_actor() {
    let kg = Installation::new();
    let key = kg.run(&["api-key", "create", "--name", "ci", "--scope", "read"]);
    assert!(key.ok, "{}", key.stderr);
    let by_cli = kg.run(&["audit", "--actor", "cli"]);
    assert!(by_cli.ok, "{}", by_cli.stderr);
    let events = by_cli.json.as_array().unwrap();
    assert!(events.iter().any(|e| e["event_type"] == "api_key.created"));
    assert!(events.iter().all(|e| e["actor"] == "cli"));
    let nobody = kg.run(&["audit", "--actor", "user:usr_nobody"]);
    assert!(nobody.ok, "{}", nobody.stderr);
    assert_eq!(nobody.json, serde_json::json!([]));
    let long = "a".repeat(101);
    for bad in ["", "a b", "<script>", "x'y", long.as_str()] {
        let refused = kg.run(&["audit", "--actor", bad]);
        assert!(!refused.ok, "{bad}");
        assert!(
            refused.stderr.contains("actor must be"),
            "{bad}: {}",
            refused.stderr
        );
    }
}
