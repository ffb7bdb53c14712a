//! An organization's API-key policy over HTTP (`/v1/api-key-policy`): set by an admin,
//! enforced on every create and rotate, recorded in the audit log, confined to its
//! organization; bad policies and callers without `admin` refused.

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{assert_api_error, db, TestApp};

const DAY: i64 = 86_400;

async fn put_policy(app: &TestApp, key: &str, body: &Value) -> reqwest::Response {
    app.send_json(Method::PUT, "/v1/api-key-policy", key, body)
        .await
}

/// Rotates the key `id` as the admin, without an overlap.
async fn rotate(app: &TestApp, id: &str) -> reqwest::Response {
    let path = format!("/v1/api-keys/{id}/rotate");
    app.post_json(&path, &app.admin_key, &json!({})).await
}

/// Seconds from now until an RFC 3339 time in a response.
fn secs_until(at: &Value) -> i64 {
    let at = chrono::DateTime::parse_from_rfc3339(at.as_str().expect("a time")).unwrap();
    (at.with_timezone(&chrono::Utc) - chrono::Utc::now()).num_seconds()
}

#[actix_rt::test]
async fn a_policy_is_enforced_on_every_create_and_rotate() {
    let app = TestApp::spawn().await;
    let none: Value = app.get_json("/v1/api-key-policy", &app.admin_key).await;
    assert_eq!(
        none,
        json!({"max_lifetime_secs": null, "expiry_required": false})
    );
    // A key made before the policy, without an expiry.
    let old = app.api_key("read").await;

    let set = put_policy(
        &app,
        &app.admin_key,
        &json!({"max_lifetime": "90d", "expiry_required": true}),
    )
    .await;
    assert_eq!(set.status(), 200);
    let set: Value = set.json().await.unwrap();
    assert_eq!(
        set,
        json!({"max_lifetime_secs": 90 * DAY, "expiry_required": true})
    );
    let read: Value = app.get_json("/v1/api-key-policy", &app.admin_key).await;
    assert_eq!(read, set);

    // No expiry, or a longer one, is refused with the field and the policy named.
    let in_a_year = (chrono::Utc::now() + chrono::Duration::days(365)).to_rfc3339();
    for body in [
        json!({"name": "forever", "scopes": ["read"]}),
        json!({"name": "long", "scopes": ["read"], "expires_in": "91d"}),
        json!({"name": "long", "scopes": ["read"], "expires_at": in_a_year}),
    ] {
        let refused = app.create_key_as(&app.admin_key, body.clone()).await;
        let error = assert_api_error(refused, 400, "invalid_request").await;
        assert_eq!(error["error"]["details"]["field"], "expires_in", "{body}");
        let message = error["error"]["message"].as_str().unwrap();
        assert!(
            message.contains("every key must expire within 90 days"),
            "{message}"
        );
    }
    let allowed = app
        .create_key_as(
            &app.admin_key,
            json!({"name": "ci", "scopes": ["read"], "expires_in": "30d"}),
        )
        .await;
    assert_eq!(allowed.status(), 201);

    // Rotating the old, unexpiring key brings its successor into line.
    let rotated = rotate(&app, &old.id).await;
    assert_eq!(rotated.status(), 201);
    let rotated: Value = rotated.json().await.unwrap();
    let left = secs_until(&rotated["expires_at"]);
    assert!((90 * DAY - 60..=90 * DAY).contains(&left), "{rotated}");

    let changes = || {
        db::audit_trail(&app.store, "default")
            .into_iter()
            .filter(|event| event.starts_with("organization.api_key_policy_changed "))
            .count()
    };
    assert_eq!(changes(), 1);
    // Setting the same policy again records nothing more.
    let again = put_policy(
        &app,
        &app.admin_key,
        &json!({"max_lifetime": 90 * DAY, "expiry_required": true}),
    )
    .await;
    assert_eq!(again.status(), 200);
    assert_eq!(changes(), 1);
}

#[actix_rt::test]
async fn expiry_required_without_a_maximum_refuses_only_unexpiring_keys() {
    let app = TestApp::spawn().await;
    let old = app.api_key("read").await;
    // An omitted max_lifetime is no maximum, as null is.
    let set = put_policy(&app, &app.admin_key, &json!({"expiry_required": true})).await;
    assert_eq!(set.status(), 200);
    let far = app
        .create_key_as(
            &app.admin_key,
            json!({"name": "long", "scopes": ["read"], "expires_in": "3650d"}),
        )
        .await;
    assert_eq!(far.status(), 201);
    let refused = app
        .create_key_as(
            &app.admin_key,
            json!({"name": "forever", "scopes": ["read"]}),
        )
        .await;
    assert_api_error(refused, 400, "invalid_request").await;
    // An unexpiring key cannot be rotated into another unexpiring one.
    let rotated = rotate(&app, &old.id).await;
    let error = assert_api_error(rotated, 400, "invalid_request").await;
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap()
            .contains("every key must have an expiry"),
        "{error}"
    );
    // Lifting the policy lets it through again.
    let lifted = put_policy(
        &app,
        &app.admin_key,
        &json!({"max_lifetime": null, "expiry_required": false}),
    )
    .await;
    assert_eq!(lifted.status(), 200);
    let forever = app
        .create_key_as(
            &app.admin_key,
            json!({"name": "forever", "scopes": ["read"]}),
        )
        .await;
    assert_eq!(forever.status(), 201);
}

#[actix_rt::test]
async fn a_policy_binds_only_its_own_organization() {
    let app = TestApp::spawn().await;
    let other_admin = app.other_org_admin();
    let set = put_policy(
        &app,
        &other_admin.key,
        &json!({"max_lifetime": "7d", "expiry_required": true}),
    )
    .await;
    assert_eq!(set.status(), 200);
    let here: Value = app.get_json("/v1/api-key-policy", &app.admin_key).await;
    assert_eq!(here["expiry_required"], false);
    let unbound = app
        .create_key_as(&app.admin_key, json!({"name": "free", "scopes": ["read"]}))
        .await;
    assert_eq!(unbound.status(), 201);
    let bound = app
        .create_key_as(
            &other_admin.key,
            json!({"name": "bound", "scopes": ["read"], "expires_in": "8d"}),
        )
        .await;
    assert_api_error(bound, 400, "invalid_request").await;
}

#[actix_rt::test]
async fn bad_policies_and_callers_without_admin_are_refused() {
    let app = TestApp::spawn().await;
    let long = "9".repeat(10_000);
    for bad in [
        json!({}),
        json!({"max_lifetime": "90d"}),
        json!({"max_lifetime": "59m", "expiry_required": false}),
        json!({"max_lifetime": 59, "expiry_required": false}),
        json!({"max_lifetime": "3651d", "expiry_required": false}),
        json!({"max_lifetime": -1, "expiry_required": false}),
        json!({"max_lifetime": "soon", "expiry_required": false}),
        json!({"max_lifetime": long, "expiry_required": false}),
        json!({"max_lifetime": "90d", "expiry_required": "yes"}),
        json!({"max_lifetime": "90d", "expiry_required": true, "colour": "red"}),
        json!("<script>alert(1)</script>"),
    ] {
        let response = put_policy(&app, &app.admin_key, &bad).await;
        assert_eq!(response.status(), 400, "{bad}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["success"], false, "{bad}");
        assert_eq!(body["error"]["code"], "invalid_request", "{bad}");
    }
    let not_json = app
        .with_key(Method::PUT, "/v1/api-key-policy", &app.admin_key)
        .header("content-type", "application/json")
        .body("{\"max_lifetime\": ")
        .send()
        .await
        .unwrap();
    assert_api_error(not_json, 400, "invalid_request").await;
    let oversize = app
        .with_key(Method::PUT, "/v1/api-key-policy", &app.admin_key)
        .header("content-type", "application/json")
        .body(format!(
            "{{\"max_lifetime\": \"{}\", \"expiry_required\": true}}",
            "9".repeat(2 * 1024 * 1024)
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(oversize.status(), 413);
    // Nothing of the refused attempts took effect.
    let unchanged: Value = app.get_json("/v1/api-key-policy", &app.admin_key).await;
    assert_eq!(
        unchanged,
        json!({"max_lifetime_secs": null, "expiry_required": false})
    );

    let reader = app.api_key("read").await;
    let body = json!({"max_lifetime": "90d", "expiry_required": true});
    assert_api_error(
        put_policy(&app, &reader.key, &body).await,
        403,
        "insufficient_scope",
    )
    .await;
    assert_api_error(
        app.get("/v1/api-key-policy", &reader.key).await,
        403,
        "insufficient_scope",
    )
    .await;
    let anonymous = app
        .http
        .put(app.url("/v1/api-key-policy"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_api_error(anonymous, 401, "missing_credentials").await;
}
