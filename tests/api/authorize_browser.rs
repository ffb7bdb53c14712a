//! The authorization code grant as a real app and a real person go through it: Debian's
//! Chromium, driven by playwright-core, and a client library nobody here wrote —
//! oauth4webapi, which discovers keygate, makes the PKCE pair and `state`, checks the
//! answer's `iss` (RFC 9207) and redeems and refreshes the code
//! (`tests/browser/authorize.cjs`). The HTTP-level tests of the same flow are
//! `authorization_code.rs`.

use keygate::users::Role;
use serde_json::{json, Value};

use crate::helpers::web::person;
use crate::helpers::TestApp;

/// Sign-in, consent (shown once, then remembered), the callback, the code's
/// exchange, the tokens at `/v1/forward-auth` and `/v1/me`, a refresh, and a Deny.
#[actix_rt::test]
#[ignore = "needs Chromium and playwright-core: .ci/run installs both (KEYGATE_TEST_PLAYWRIGHT names the module)"]
async fn an_app_signs_a_person_in_through_a_browser_with_oauth4webapi() {
    let Some(playwright) = crate::helpers::process::browser_tools() else {
        return;
    };
    let app = TestApp::spawn_on_own_origin().await;
    // keygate's default audience is its issuer, here its own address.
    let registered = app
        .post_json(
            "/v1/clients",
            &app.admin_key,
            &json!({
                "name": "Acme CLI",
                "scopes": ["read", "write"],
                "grant_types": ["authorization_code", "refresh_token"],
                "redirect_uris": ["http://127.0.0.1/callback"],
                "token_endpoint_auth_method": "none",
                "audiences": [app.address, "https://api.example"],
            }),
        )
        .await;
    assert_eq!(registered.status(), 201);
    let registered: Value = registered.json().await.unwrap();
    assert!(registered.get("client_secret").is_none(), "{registered}");
    let client_id = registered["client_id"].as_str().unwrap().to_owned();
    let (user_id, setup) = person(&app, "ada@example.com", "default", Role::Developer);

    let stdout = crate::helpers::process::run_browser_script(
        playwright,
        "authorize.cjs",
        &[
            ("KEYGATE_URL", app.address.clone()),
            ("CLIENT_ID", client_id),
            ("USER_ID", user_id.as_str().to_owned()),
            ("EMAIL", "ada@example.com".into()),
            ("SETUP_URL", format!("{}/setup#{setup}", app.address)),
        ],
    )
    .await;
    for step in [
        "ok - the consent page names the app, the person and the scopes",
        "ok - oauth4webapi accepts the callback (state and iss)",
        "ok - /v1/forward-auth lets the access token through as the person",
        "ok - a second authorization comes back without the consent page",
        "ok - Deny reaches the app as access_denied",
        "ok - the account page lists the authorized app with its scopes",
        "ok - the revoked app's access token is refused at once",
    ] {
        assert!(stdout.contains(step), "{step}");
    }
}
