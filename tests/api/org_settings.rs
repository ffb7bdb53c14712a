//! An organization's settings through every door — `/v1/organization`, the
//! dashboard's Settings page and `keygate org` — one set of use cases: rename it,
//! require a second factor of its members, set its API-key policy (the page), each
//! change in the audit log once; and what each door refuses: malformed, oversize and
//! hostile input, a reader's key, a viewer's crafted post, cross-site posts and a
//! wrong CSRF token, another organization.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::db::{audit_trail, TestConnection};
use crate::helpers::process::Installation;
use crate::helpers::web::{browser, csrf_of, member, page, post};
use crate::helpers::{assert_api_error, TestApp};
use keygate::users::Role;

const PATH: &str = "/v1/organization";

/// Gives `email` a second factor as enrolment would leave it (enrolment itself is
/// the account page's, and tested there): only whether one is set matters here.
fn with_second_factor(app: &TestApp, email: &str) {
    use diesel::prelude::*;
    use keygate::store::schema::users;
    let now = chrono::Utc::now().naive_utc();
    app.store.with_conn(|c| {
        diesel::update(users::table.filter(users::email.eq(email)))
            .set(users::totp_enabled_at.eq(Some(now)))
            .execute(c)
            .unwrap()
    });
}

async fn patch(app: &TestApp, key: &str, body: Value) -> reqwest::Response {
    app.patch_json(PATH, key, &body).await
}

/// How many `event` the organization `slug`'s audit log holds.
fn count(app: &TestApp, slug: &str, event: &str) -> usize {
    audit_trail(&app.store, slug)
        .iter()
        .filter(|e| e.starts_with(&format!("{event} ")))
        .count()
}

#[actix_rt::test]
async fn the_api_shows_renames_and_requires_a_second_factor() {
    let app = TestApp::spawn().await;
    let reader = app.api_key("read").await;
    let shown = app.get_json(PATH, &reader.key).await;
    assert_eq!(shown["slug"], "default");
    assert_eq!(shown["name"], "Default");
    assert_eq!(shown["tier"], "free");
    assert_eq!(shown["second_factor_required"], false);
    assert!(shown["id"].as_str().unwrap().starts_with("org_"), "{shown}");
    assert!(
        chrono::DateTime::parse_from_rfc3339(shown["created_at"].as_str().unwrap()).is_ok(),
        "{shown}"
    );

    let renamed = patch(&app, &app.admin_key, json!({"name": "  Acme Ltd "})).await;
    assert_eq!(renamed.status(), StatusCode::OK);
    let renamed: Value = renamed.json().await.unwrap();
    assert_eq!(renamed["name"], "Acme Ltd");
    assert_eq!(renamed["id"], shown["id"]);

    let both = patch(
        &app,
        &app.admin_key,
        json!({"name": "Acme", "second_factor_required": true}),
    )
    .await;
    assert_eq!(both.status(), StatusCode::OK);
    let both: Value = both.json().await.unwrap();
    assert_eq!(
        (&both["name"], &both["second_factor_required"]),
        (&json!("Acme"), &json!(true))
    );
    assert_eq!(app.get_json(PATH, &reader.key).await, both);

    // The same again changes nothing and records nothing.
    let same = patch(
        &app,
        &app.admin_key,
        json!({"name": "Acme", "second_factor_required": true}),
    )
    .await;
    assert_eq!(same.status(), StatusCode::OK);
    assert_eq!(count(&app, "default", "organization.renamed"), 2);
    assert_eq!(
        count(
            &app,
            "default",
            "organization.second_factor_requirement_changed"
        ),
        1
    );
    let trail = audit_trail(&app.store, "default");
    assert!(
        trail
            .iter()
            .filter(|e| e.starts_with("organization.renamed "))
            .all(|e| e.contains(" key:key_")),
        "{trail:?}"
    );
    let events = app
        .get_json("/v1/audit-events?type=organization.renamed", &app.admin_key)
        .await;
    let changes: Vec<_> = events["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["details"]["name"].clone())
        .collect();
    assert_eq!(
        changes,
        [
            json!({"from": "Default", "to": "Acme Ltd"}),
            json!({"from": "Acme Ltd", "to": "Acme"})
        ]
    );

    let off = patch(
        &app,
        &app.admin_key,
        json!({"second_factor_required": false}),
    )
    .await;
    let off: Value = off.json().await.unwrap();
    assert_eq!(off["second_factor_required"], false);
    assert_eq!(
        count(
            &app,
            "default",
            "organization.second_factor_requirement_changed"
        ),
        2
    );
}

#[actix_rt::test]
async fn the_api_refuses_malformed_oversize_hostile_and_foreign_requests() {
    let app = TestApp::spawn_with(|s| s.max_body_bytes = 4096).await;
    let admin = app.admin_key.clone();
    let long = "n".repeat(201);
    for (body, field) in [
        (json!({}), None),
        (json!({"name": ""}), Some("name")),
        (json!({"name": "   "}), Some("name")),
        (json!({"name": "Acme\u{0}"}), Some("name")),
        (json!({"name": "Acme\r\nX-Injected: 1"}), Some("name")),
        (json!({"name": "\u{1b}[2J"}), Some("name")),
        (json!({"name": long}), Some("name")),
        (json!({"name": 7}), Some("name")),
        (json!({"name": null}), Some("name")),
        (json!({"name": ["Acme"]}), Some("name")),
        (
            json!({"second_factor_required": "yes"}),
            Some("second_factor_required"),
        ),
        (
            json!({"second_factor_required": 1}),
            Some("second_factor_required"),
        ),
        (json!({"name": "Acme", "tier": "enterprise"}), None),
        (json!({"slug": "mine"}), None),
        (json!(["name", "Acme"]), None),
        (json!("Acme"), None),
        (json!(null), None),
    ] {
        let response = patch(&app, &admin, body.clone()).await;
        let refused = assert_api_error(response, 400, "invalid_request").await;
        match field {
            Some(field) => assert_eq!(refused["error"]["details"]["field"], field, "{body}"),
            None => assert!(refused["error"]["message"].as_str().is_some(), "{body}"),
        }
    }
    // A 200-character name is the longest allowed.
    let longest = "n".repeat(200);
    let fits = patch(&app, &admin, json!({"name": longest})).await;
    assert_eq!(fits.status(), StatusCode::OK);
    let huge = json!({"name": "x".repeat(5000)});
    assert_api_error(patch(&app, &admin, huge).await, 413, "payload_too_large").await;
    for (content_type, body) in [
        ("application/json", "{\"name\": "),
        ("application/json", ""),
        ("text/plain", "{\"name\": \"Acme\"}"),
    ] {
        let response = app
            .with_key(Method::PATCH, PATH, &admin)
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let code = if status == 415 {
            "unsupported_media_type"
        } else {
            "invalid_request"
        };
        assert!(
            [400, 415].contains(&status),
            "{content_type} {body:?}: {status}"
        );
        assert_api_error(response, status, code).await;
    }
    // Nothing was changed by any of it but the one fitting name.
    let shown = app.get_json(PATH, &admin).await;
    assert_eq!(shown["name"], "n".repeat(200));
    assert_eq!(shown["tier"], "free");
    assert_eq!(count(&app, "default", "organization.renamed"), 1);

    let missing = app.http.get(app.url(PATH)).send().await.unwrap();
    assert_api_error(missing, 401, "missing_credentials").await;
    let reader = app.api_key("read").await;
    let by_reader = patch(&app, &reader.key, json!({"name": "Mine"})).await;
    let refused = assert_api_error(by_reader, 403, "insufficient_scope").await;
    assert_eq!(refused["error"]["details"]["required_scope"], "admin");
    let writer = app.api_key("read write").await;
    let by_writer = patch(&app, &writer.key, json!({"second_factor_required": true})).await;
    assert_api_error(by_writer, 403, "insufficient_scope").await;
    let webhook = app.operator_key("default", "webhook", None);
    let no_read = app.get(PATH, &webhook.key).await;
    assert_api_error(no_read, 403, "insufficient_scope").await;

    // Another organization's admin sees and changes only its own.
    let other = app.other_org_admin();
    let theirs = app.get_json(PATH, &other.key).await;
    assert_eq!(
        (&theirs["slug"], &theirs["name"]),
        (&json!("other"), &json!("Other"))
    );
    let changed = patch(
        &app,
        &other.key,
        json!({"name": "Other Inc", "second_factor_required": true}),
    )
    .await;
    assert_eq!(changed.status(), StatusCode::OK);
    let ours = app.get_json(PATH, &admin).await;
    assert_eq!(ours["name"], "n".repeat(200));
    assert_eq!(ours["second_factor_required"], false);
    assert_eq!(count(&app, "other", "organization.renamed"), 1);
    assert_eq!(count(&app, "default", "organization.renamed"), 1);
}

#[actix_rt::test]
async fn an_owner_changes_the_settings_through_the_page() {
    let app = TestApp::spawn().await;
    let (_, owner) = member(&app, "ada@example.com", "default", Role::Owner).await;
    let (_, developer) = member(&app, "dev@example.com", "default", Role::Developer).await;
    let csrf = csrf_of(&app, &owner).await;
    let (status, html) = page(&app, "/dashboard/settings", &owner).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains("aria-current=\"page\">Settings"),
        "the nav marks the page"
    );
    assert!(
        html.contains("changed by the operator") && html.contains(">free "),
        "{html}"
    );
    for form in [
        "/dashboard/settings/name",
        "/dashboard/settings/key-policy",
        "/dashboard/settings/second-factor",
    ] {
        assert!(html.contains(&format!("action=\"{form}\"")), "{form}");
    }
    for id in [
        "org-name-input",
        "max-lifetime",
        "expiry-required",
        "second-factor-required",
    ] {
        assert!(html.contains(&format!("for=\"{id}\"")), "a label for {id}");
    }
    assert!(!html.contains("<script>"), "no inline script");

    let renamed = post(
        &app,
        "/dashboard/settings/name",
        Some(&owner),
        &[("csrf", &csrf), ("name", "Acme <Ltd>")],
    )
    .await;
    assert_eq!(renamed.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        renamed.headers()["location"],
        "/dashboard/settings?notice=renamed"
    );
    let (_, html) = page(&app, "/dashboard/settings?notice=renamed", &owner).await;
    assert!(html.contains("The organization is renamed."));
    assert!(
        html.contains("Acme &") && !html.contains("Acme <Ltd>"),
        "escaped: {html}"
    );

    let policy = post(
        &app,
        "/dashboard/settings/key-policy",
        Some(&owner),
        &[
            ("csrf", &csrf),
            ("max_lifetime", "90d"),
            ("expiry_required", "yes"),
        ],
    )
    .await;
    assert_eq!(policy.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        policy.headers()["location"],
        "/dashboard/settings?notice=key-policy"
    );
    // Only someone with a second factor of their own requires one of everybody.
    let without = post(
        &app,
        "/dashboard/settings/second-factor",
        Some(&owner),
        &[("csrf", &csrf), ("required", "yes")],
    )
    .await;
    assert_eq!(without.status(), StatusCode::CONFLICT);
    assert!(without
        .text()
        .await
        .unwrap()
        .contains("your account page first"));
    with_second_factor(&app, "ada@example.com");
    let required = post(
        &app,
        "/dashboard/settings/second-factor",
        Some(&owner),
        &[("csrf", &csrf), ("required", "yes")],
    )
    .await;
    assert_eq!(required.status(), StatusCode::SEE_OTHER);
    // A member without one is sent to enrol (the sign-in's rule, not this page's).
    let enrol = crate::helpers::web::get(&app, "/dashboard/settings", &developer).await;
    assert_eq!(enrol.status(), StatusCode::SEE_OTHER);
    assert!(enrol.headers()["location"]
        .to_str()
        .unwrap()
        .starts_with("/dashboard/account"));

    let shown = app.get_json(PATH, &app.admin_key).await;
    assert_eq!(shown["name"], "Acme <Ltd>");
    assert_eq!(shown["second_factor_required"], true);
    let key_policy = app.get_json("/v1/api-key-policy", &app.admin_key).await;
    assert_eq!(
        key_policy,
        json!({"max_lifetime_secs": 90 * 86_400, "expiry_required": true})
    );
    let (_, html) = page(&app, "/dashboard/settings", &owner).await;
    assert!(
        html.contains("every key must expire within 90 days"),
        "{html}"
    );
    assert!(html.contains("<option value=\"90d\" selected>"), "{html}");
    assert!(html.contains(
        "name=\"required\" value=\"yes\" aria-describedby=\"second-factor-hint\" checked"
    ));

    // Back to no maximum, no requirement: unticked boxes are absent from the form.
    let lifted = post(
        &app,
        "/dashboard/settings/key-policy",
        Some(&owner),
        &[("csrf", &csrf), ("max_lifetime", "")],
    )
    .await;
    assert_eq!(lifted.status(), StatusCode::SEE_OTHER);
    let off = post(
        &app,
        "/dashboard/settings/second-factor",
        Some(&owner),
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!(off.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        off.headers()["location"],
        "/dashboard/settings?notice=second-factor-off"
    );
    assert_eq!(
        app.get_json("/v1/api-key-policy", &app.admin_key).await,
        json!({"max_lifetime_secs": null, "expiry_required": false})
    );
    assert_eq!(
        app.get_json(PATH, &app.admin_key).await["second_factor_required"],
        false
    );

    // Refused input says why on the page, and changes nothing.
    for (path, form, says) in [
        (
            "/dashboard/settings/name",
            vec![("name", "\u{7}")],
            "control characters",
        ),
        (
            "/dashboard/settings/key-policy",
            vec![("max_lifetime", "forever")],
            "Choose a maximum",
        ),
        (
            "/dashboard/settings/key-policy",
            vec![("max_lifetime", "10m")],
            "between 1 hour",
        ),
    ] {
        let mut fields = vec![("csrf", csrf.as_str())];
        fields.extend(form);
        let refused = post(&app, path, Some(&owner), &fields).await;
        assert_eq!(refused.status(), StatusCode::BAD_REQUEST, "{path}");
        let text = refused.text().await.unwrap();
        assert!(text.contains(says), "{path}: {text}");
    }
    let trail = audit_trail(&app.store, "default");
    let by_owner = |event: &str| {
        trail
            .iter()
            .filter(|e| e.starts_with(&format!("{event} ")) && e.contains("usr_"))
            .count()
    };
    assert_eq!(by_owner("organization.renamed"), 1, "{trail:?}");
    assert_eq!(
        by_owner("organization.api_key_policy_changed"),
        2,
        "{trail:?}"
    );
    assert_eq!(
        by_owner("organization.second_factor_requirement_changed"),
        2,
        "{trail:?}"
    );
}

#[actix_rt::test]
async fn a_viewer_reads_the_settings_and_foreign_or_crafted_posts_are_refused() {
    let app = TestApp::spawn().await;
    let (_, owner) = member(&app, "ada@example.com", "default", Role::Owner).await;
    let (_, viewer) = member(&app, "vic@example.com", "default", Role::Viewer).await;
    let (_, developer) = member(&app, "dev@example.com", "default", Role::Developer).await;
    let owner_csrf = csrf_of(&app, &owner).await;

    for cookie in [&viewer, &developer] {
        let (status, html) = page(&app, "/dashboard/settings", cookie).await;
        assert_eq!(status, StatusCode::OK);
        assert!(html.contains("Default") && html.contains("changed by the operator"));
        assert!(html.contains("keys may live up to 10 years"), "{html}");
        assert!(
            !html.contains("<form method=\"post\" action=\"/dashboard/settings"),
            "{html}"
        );
        let csrf = csrf_of(&app, cookie).await;
        for (path, field) in [
            ("/dashboard/settings/name", ("name", "Mine")),
            ("/dashboard/settings/key-policy", ("max_lifetime", "7d")),
            ("/dashboard/settings/second-factor", ("required", "yes")),
        ] {
            let crafted = post(&app, path, Some(cookie), &[("csrf", &csrf), field]).await;
            assert_eq!(crafted.status(), StatusCode::FORBIDDEN, "{path}");
        }
    }

    // The owner's own session, but from another site or with a wrong token.
    let cross_site = browser()
        .post(app.url("/dashboard/settings/name"))
        .header("origin", "https://evil.example")
        .header("cookie", &owner)
        .form(&[("csrf", owner_csrf.as_str()), ("name", "Evil")])
        .send()
        .await
        .unwrap();
    assert_eq!(cross_site.status(), StatusCode::FORBIDDEN);
    for csrf in ["forged", ""] {
        let forged = post(
            &app,
            "/dashboard/settings/second-factor",
            Some(&owner),
            &[("csrf", csrf), ("required", "yes")],
        )
        .await;
        assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    }
    let signed_out = post(
        &app,
        "/dashboard/settings/name",
        None,
        &[("csrf", "x"), ("name", "Evil")],
    )
    .await;
    assert_eq!(signed_out.status(), StatusCode::SEE_OTHER);

    let shown = app.get_json(PATH, &app.admin_key).await;
    assert_eq!(shown["name"], "Default");
    assert_eq!(shown["second_factor_required"], false);
    assert_eq!(
        app.get_json("/v1/api-key-policy", &app.admin_key).await,
        json!({"max_lifetime_secs": null, "expiry_required": false})
    );
    assert!(
        audit_trail(&app.store, "default")
            .iter()
            .all(|e| !e.starts_with("organization.")),
        "nothing recorded"
    );

    // A member of another organization changes only that one.
    app.organization("beta", "Beta");
    let (_, beta_owner) = member(&app, "bo@example.com", "beta", Role::Owner).await;
    let beta_csrf = csrf_of(&app, &beta_owner).await;
    let renamed = post(
        &app,
        "/dashboard/settings/name",
        Some(&beta_owner),
        &[("csrf", &beta_csrf), ("name", "Beta Inc")],
    )
    .await;
    assert_eq!(renamed.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.get_json(PATH, &app.admin_key).await["name"], "Default");
}

#[test]
fn the_cli_renames_and_requires_a_second_factor() {
    let kg = Installation::new();
    let created = kg.run(&["org", "create", "--slug", "acme", "--name", "Acme"]);
    assert!(created.ok, "{}", created.stderr);
    assert_eq!(created.json["second_factor_required"], false);

    let renamed = kg.run(&["org", "rename", "acme", "Acme Ltd"]);
    assert!(renamed.ok, "{}", renamed.stderr);
    assert_eq!(renamed.json["name"], "Acme Ltd");
    assert_eq!(renamed.json["slug"], "acme");

    let on = kg.run(&["org", "require-second-factor", "acme"]);
    assert!(on.ok, "{}", on.stderr);
    assert_eq!(on.json["second_factor_required"], true);
    let listed = kg.run(&["org", "list"]);
    let acme = listed
        .json
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["slug"] == "acme")
        .unwrap()
        .clone();
    assert_eq!(acme, on.json);
    let off = kg.run(&["org", "require-second-factor", "acme", "--off"]);
    assert!(off.ok, "{}", off.stderr);
    assert_eq!(off.json["second_factor_required"], false);

    for (args, says) in [
        (vec!["org", "rename", "nope", "X"], "does not exist"),
        (vec!["org", "rename", "acme", " "], "organization name"),
        (
            vec!["org", "require-second-factor", "nope"],
            "does not exist",
        ),
    ] {
        let refused = kg.run(&args);
        assert!(
            !refused.ok && refused.stderr.contains(says),
            "{args:?}: {}",
            refused.stderr
        );
    }
    let trail = kg.run(&["audit", "--org", "acme"]);
    assert!(trail.ok, "{}", trail.stderr);
    let types: Vec<_> = trail
        .json
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event_type"].as_str().unwrap().to_owned())
        .collect();
    for event in [
        "organization.renamed",
        "organization.second_factor_requirement_changed",
    ] {
        assert!(types.iter().any(|t| t == event), "{event} in {types:?}");
    }
    assert!(trail
        .json
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["actor"] == "cli"));
}
