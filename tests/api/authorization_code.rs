//! The authorization code grant with PKCE, over HTTP as a browser and an app drive
//! it: a signed-in person sees the consent page, allows or denies, and the app
//! redeems the code (once, bound to everything the request named) for tokens that
//! act for the person — live only while the person may still be acted for. Errors
//! before the redirect URI is established are pages; after it, redirects with
//! `state` and `iss`. (The whole flow under a real browser and an independent client
//! library is `tests/browser/authorize.cjs`.)

use std::sync::Arc;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use keygate::clock::ManualClock;
use keygate::users::Role;
use reqwest::StatusCode;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::helpers::db::{audit_trail, TestConnection};
use crate::helpers::web::{browser, get, location, member, post, value_after};
use crate::helpers::{assert_oauth_error, TestApp, ISSUER};

const REDIRECT: &str = "http://127.0.0.1/callback";
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

fn challenge_of(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// A public app (a CLI) registered by the default organization's admin.
async fn public_app(app: &TestApp, extra: Value) -> String {
    let mut body = json!({
        "name": "Acme CLI",
        "scopes": ["read", "write"],
        "grant_types": ["authorization_code", "refresh_token"],
        "redirect_uris": [REDIRECT, "https://cli.example/done"],
        "token_endpoint_auth_method": "none",
    });
    if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
        body.extend(extra.clone());
    }
    let response = app.post_json("/v1/clients", &app.admin_key, &body).await;
    assert_eq!(response.status(), 201);
    let created: Value = response.json().await.unwrap();
    assert!(created.get("client_secret").is_none(), "{created}");
    created["client_id"].as_str().unwrap().to_owned()
}

/// The query of an authorization request; `changes` replaces or (value "") drops
/// parameters.
fn authorize_query(client_id: &str, changes: &[(&str, &str)]) -> String {
    let challenge = challenge_of(VERIFIER);
    let mut params: Vec<(String, String)> = [
        ("response_type", "code"),
        ("client_id", client_id),
        ("redirect_uri", "http://127.0.0.1:53682/callback"),
        ("scope", "read"),
        ("state", "xyz-123"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect();
    for (name, value) in changes {
        params.retain(|(k, _)| k != name);
        if !value.is_empty() {
            params.push(((*name).to_owned(), (*value).to_owned()));
        }
    }
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    query.extend_pairs(params);
    query.finish()
}

/// The query parameters of a redirect `location`.
fn params_of(location: &str) -> Vec<(String, String)> {
    url::Url::parse(location)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect()
}

fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// The person allows the request on the consent page — or allowed it before, and
/// goes straight back: the redirect to the app.
async fn allow(app: &TestApp, cookie: &str, query: &str) -> String {
    let asked = get(app, &format!("/oauth/authorize?{query}"), cookie).await;
    if asked.status() == StatusCode::SEE_OTHER {
        return location(&asked);
    }
    decide(app, cookie, query, "allow").await
}

async fn decide(app: &TestApp, cookie: &str, query: &str, decision: &str) -> String {
    let shown = get(app, &format!("/oauth/authorize?{query}"), cookie).await;
    assert_eq!(shown.status(), StatusCode::OK, "the consent page");
    let html = shown.text().await.unwrap();
    let csrf = value_after(&html, "name=\"csrf\" value=\"");
    let mut form: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    form.push(("csrf".into(), csrf));
    form.push(("decision".into(), decision.into()));
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let decided = post(app, "/oauth/authorize", Some(cookie), &form).await;
    assert_eq!(decided.status(), StatusCode::SEE_OTHER);
    location(&decided)
}

/// The code in a redirect, after checking `state` and `iss` (RFC 9207).
fn code_in(location: &str) -> String {
    assert!(
        location.starts_with("http://127.0.0.1:53682/callback?"),
        "{location}"
    );
    let params = params_of(location);
    assert_eq!(param(&params, "state"), Some("xyz-123"));
    assert_eq!(param(&params, "iss"), Some(ISSUER));
    param(&params, "code").expect("a code").to_owned()
}

async fn exchange(app: &TestApp, form: &[(&str, &str)]) -> reqwest::Response {
    app.http
        .post(app.url("/oauth/token"))
        .form(form)
        .send()
        .await
        .unwrap()
}

async fn redeem(app: &TestApp, client_id: &str, code: &str) -> reqwest::Response {
    exchange(
        app,
        &[
            ("grant_type", "authorization_code"),
            ("client_id", client_id),
            ("code", code),
            ("redirect_uri", "http://127.0.0.1:53682/callback"),
            ("code_verifier", VERIFIER),
        ],
    )
    .await
}

/// The public app's refresh_token grant for `refresh_token`.
async fn use_refresh_token(
    app: &TestApp,
    client_id: &str,
    refresh_token: &str,
) -> reqwest::Response {
    exchange(
        app,
        &[
            ("grant_type", "refresh_token"),
            ("client_id", client_id),
            ("refresh_token", refresh_token),
        ],
    )
    .await
}

fn claims_of(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

async fn me_status(app: &TestApp, token: &str) -> u16 {
    app.me(&[("Authorization", &format!("Bearer {token}"))])
        .await
        .status()
        .as_u16()
}

#[actix_rt::test]
async fn a_person_consents_and_the_app_acts_for_them() {
    let app = TestApp::spawn().await;
    let client_id = public_app(&app, json!({})).await;
    let (user_id, cookie) = member(&app, "ada@example.com", "default", Role::Developer).await;
    let query = authorize_query(&client_id, &[("scope", "read write")]);

    let shown = get(&app, &format!("/oauth/authorize?{query}"), &cookie).await;
    assert_eq!(shown.headers()["cache-control"], "no-store");
    let csp = shown.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.contains("form-action 'self' http://127.0.0.1:53682"),
        "{csp}"
    );
    let html = shown.text().await.unwrap();
    for words in [
        "Acme CLI",
        "Default",
        "ada@example.com",
        "<code>read</code>",
        "<code>write</code>",
        "127.0.0.1",
        "Allow",
        "Deny",
    ] {
        assert!(html.contains(words), "{words} in the consent page");
    }

    let code = code_in(&allow(&app, &cookie, &query).await);
    assert!(code.starts_with("kgac_"));
    let tokens = redeem(&app, &client_id, &code).await;
    assert_eq!(tokens.headers()["cache-control"], "no-store");
    assert_eq!(tokens.status(), 200);
    let tokens: Value = tokens.json().await.unwrap();
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["scope"], "read write");
    let access = tokens["access_token"].as_str().unwrap();
    let claims = claims_of(access);
    assert_eq!(claims["sub"], user_id.as_str());
    assert_eq!(claims["client_id"], client_id.as_str());
    assert_eq!(claims["scope"], "read write");
    assert_eq!(claims["iss"], ISSUER);

    // The identity resolver knows the person behind the token.
    let me: Value = app
        .me(&[("Authorization", &format!("Bearer {access}"))])
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["subject"], user_id.as_str());
    assert_eq!(me["client_id"], client_id.as_str());

    // Refresh rotates (mandatory for a public client) and keeps acting for the person.
    let refresh = tokens["refresh_token"].as_str().unwrap();
    let refreshed = use_refresh_token(&app, &client_id, refresh).await;
    assert_eq!(refreshed.status(), 200);
    let refreshed: Value = refreshed.json().await.unwrap();
    assert_ne!(refreshed["refresh_token"], refresh);
    assert_eq!(
        claims_of(refreshed["access_token"].as_str().unwrap())["sub"],
        user_id.as_str()
    );

    // The consent is remembered: the next request goes straight back with a code.
    let again = get(&app, &format!("/oauth/authorize?{query}"), &cookie).await;
    assert_eq!(again.status(), StatusCode::SEE_OTHER);
    let second = code_in(&location(&again));
    assert_eq!(redeem(&app, &client_id, &second).await.status(), 200);
    // A narrower request is covered too; prompt=consent asks again.
    let narrower = authorize_query(&client_id, &[("scope", "read")]);
    let covered = get(&app, &format!("/oauth/authorize?{narrower}"), &cookie).await;
    assert_eq!(covered.status(), StatusCode::SEE_OTHER);
    let asked = authorize_query(&client_id, &[("prompt", "consent")]);
    assert_eq!(
        get(&app, &format!("/oauth/authorize?{asked}"), &cookie)
            .await
            .status(),
        200
    );

    let trail = audit_trail(&app.store, "default");
    assert!(
        trail
            .iter()
            .filter(|e| e.starts_with("oauth.authorized"))
            .count()
            >= 3,
        "{trail:?}"
    );
}

#[actix_rt::test]
async fn a_person_who_is_not_signed_in_signs_in_and_comes_back() {
    let app = TestApp::spawn().await;
    let client_id = public_app(&app, json!({})).await;
    let query = authorize_query(&client_id, &[]);
    let asked = format!("/oauth/authorize?{query}");
    let first = get(&app, &asked, "").await;
    assert_eq!(first.status(), StatusCode::SEE_OTHER);
    let to_sign_in = location(&first);
    assert!(to_sign_in.starts_with("/sign-in?next="), "{to_sign_in}");
    let next = url::form_urlencoded::parse(to_sign_in.split_once('?').unwrap().1.as_bytes())
        .find(|(k, _)| k == "next")
        .unwrap()
        .1
        .into_owned();
    assert_eq!(next, asked, "the whole request comes back");
    // Signing in with that `next` lands on the request again.
    let (_, token) = crate::helpers::web::person(&app, "bo@example.com", "default", Role::Viewer);
    let form = [
        ("token", token.as_str()),
        ("password", crate::helpers::web::PASSWORD),
        ("confirm", crate::helpers::web::PASSWORD),
    ];
    post(&app, "/setup", None, &form).await;
    let signed_in = post(
        &app,
        "/sign-in",
        None,
        &[
            ("email", "bo@example.com"),
            ("password", crate::helpers::web::PASSWORD),
            ("next", &next),
        ],
    )
    .await;
    assert_eq!(signed_in.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&signed_in), asked);
}

#[actix_rt::test]
async fn requests_without_an_established_redirect_uri_are_answered_on_a_page() {
    let app = TestApp::spawn().await;
    let client_id = public_app(&app, json!({})).await;
    let (_, cookie) = member(&app, "cy@example.com", "default", Role::Admin).await;
    let long = "a".repeat(9000);
    let cases: Vec<(String, &str)> = vec![
        (authorize_query("kgc_unknown", &[]), "unknown"),
        (
            authorize_query(&client_id, &[("client_id", "")]),
            "no client",
        ),
        (
            authorize_query(&client_id, &[("redirect_uri", "")]),
            "no redirect_uri",
        ),
        (
            authorize_query(
                &client_id,
                &[("redirect_uri", "https://evil.example/callback")],
            ),
            "not registered",
        ),
        (
            authorize_query(&client_id, &[("redirect_uri", "https://cli.example/done/")]),
            "not registered",
        ),
        (
            authorize_query(
                &client_id,
                &[("redirect_uri", "http://localhost:53682/callback")],
            ),
            "not registered",
        ),
        (
            authorize_query(&client_id, &[("redirect_uri", "not a uri")]),
            "no valid redirect_uri",
        ),
        (
            format!("{}&client_id={client_id}", authorize_query(&client_id, &[])),
            "more than once",
        ),
        (authorize_query(&client_id, &[("state", &long)]), "too long"),
        (
            authorize_query(&client_id, &[("state", "a\u{0}b")]),
            "control character",
        ),
    ];
    for (query, says) in cases {
        let response = get(&app, &format!("/oauth/authorize?{query}"), &cookie).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{says}");
        assert!(response.headers().get("location").is_none(), "{says}");
        let html = response.text().await.unwrap();
        assert!(html.contains(says), "{says} in {html}");
    }
    // A disabled app is unknown.
    let disabled = app
        .post_json(
            &format!("/v1/clients/{client_id}/disable"),
            &app.admin_key,
            &json!({}),
        )
        .await;
    assert!(disabled.status().is_success());
    let response = get(
        &app,
        &format!("/oauth/authorize?{}", authorize_query(&client_id, &[])),
        &cookie,
    )
    .await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
}

#[actix_rt::test]
async fn refusals_after_the_redirect_uri_go_back_to_the_app() {
    let app = TestApp::spawn().await;
    let client_id = public_app(&app, json!({"audiences": [ISSUER, "https://api.example"]})).await;
    let (_, cookie) = member(&app, "di@example.com", "default", Role::Viewer).await;
    // (what the request changes, the error, words of its description)
    type Case<'a> = (Vec<(&'a str, &'a str)>, &'a str, &'a str);
    let cases: Vec<Case> = vec![
        (
            vec![("code_challenge", "")],
            "invalid_request",
            "code_challenge is required",
        ),
        (
            vec![("code_challenge_method", "plain")],
            "invalid_request",
            "S256",
        ),
        (
            vec![("code_challenge_method", "")],
            "invalid_request",
            "S256",
        ),
        (
            vec![("code_challenge", "short")],
            "invalid_request",
            "base64url",
        ),
        (
            vec![("response_type", "token")],
            "unsupported_response_type",
            "code",
        ),
        (vec![("scope", "admin")], "invalid_scope", "exceeds"),
        // A viewer holds `read` only: `write` alone is nothing they can give.
        (vec![("scope", "write")], "invalid_scope", "role"),
        (
            vec![("resource", "https://other.example")],
            "invalid_target",
            "resource",
        ),
    ];
    for (changes, error, says) in cases {
        let query = authorize_query(&client_id, &changes);
        let response = get(&app, &format!("/oauth/authorize?{query}"), &cookie).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{error} {says}");
        let params = params_of(&location(&response));
        assert_eq!(param(&params, "error"), Some(error), "{params:?}");
        assert!(
            param(&params, "error_description").unwrap().contains(says),
            "{params:?}"
        );
        assert_eq!(param(&params, "state"), Some("xyz-123"));
        assert_eq!(param(&params, "iss"), Some(ISSUER));
        assert!(param(&params, "code").is_none());
    }
    // An over-long state is refused and not carried back.
    let long_state = "s".repeat(1100);
    let query = authorize_query(&client_id, &[("state", &long_state)]);
    let response = get(&app, &format!("/oauth/authorize?{query}"), &cookie).await;
    let params = params_of(&location(&response));
    assert_eq!(param(&params, "error"), Some("invalid_request"));
    assert!(param(&params, "state").is_none(), "{params:?}");
    // Deny: access_denied, audited.
    let denied = decide(&app, &cookie, &authorize_query(&client_id, &[]), "deny").await;
    let params = params_of(&denied);
    assert_eq!(param(&params, "error"), Some("access_denied"));
    assert_eq!(param(&params, "state"), Some("xyz-123"));
    assert!(audit_trail(&app.store, "default")
        .iter()
        .any(|e| e.starts_with("oauth.denied")));
    // A code bound to no resource is for the app's default audience only.
    let code = code_in(&allow(&app, &cookie, &authorize_query(&client_id, &[])).await);
    let other_resource = exchange(
        &app,
        &[
            ("grant_type", "authorization_code"),
            ("client_id", &client_id),
            ("code", &code),
            ("redirect_uri", "http://127.0.0.1:53682/callback"),
            ("code_verifier", VERIFIER),
            ("resource", "https://api.example"),
        ],
    )
    .await;
    assert_oauth_error(other_resource, 400, "invalid_target").await;
    // The named resource, allowed, becomes the token's aud.
    let with_resource = authorize_query(&client_id, &[("resource", "https://api.example")]);
    let code = code_in(&allow(&app, &cookie, &with_resource).await);
    let tokens: Value = redeem(&app, &client_id, &code).await.json().await.unwrap();
    assert_eq!(
        claims_of(tokens["access_token"].as_str().unwrap())["aud"],
        "https://api.example"
    );
}

#[actix_rt::test]
async fn consent_posts_from_elsewhere_or_without_a_decision_are_refused() {
    let app = TestApp::spawn().await;
    let client_id = public_app(&app, json!({})).await;
    let (_, cookie) = member(&app, "ed@example.com", "default", Role::Admin).await;
    let query = authorize_query(&client_id, &[]);
    let mut form: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    form.push(("decision".into(), "allow".into()));
    form.push(("csrf".into(), "forged".into()));
    let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let forged = post(&app, "/oauth/authorize", Some(&cookie), &pairs).await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    // From another origin, even with the token.
    let html = get(&app, &format!("/oauth/authorize?{query}"), &cookie)
        .await
        .text()
        .await
        .unwrap();
    let csrf = value_after(&html, "name=\"csrf\" value=\"");
    let cross = browser()
        .post(app.url("/oauth/authorize"))
        .header("Origin", "https://evil.example")
        .header("Cookie", &cookie)
        .form(&[("csrf", csrf.as_str()), ("decision", "allow")])
        .send()
        .await
        .unwrap();
    assert_eq!(cross.status(), StatusCode::FORBIDDEN);
    // No decision, or a strange one; an oversize body.
    for decision in ["", "maybe"] {
        let mut pairs = pairs.clone();
        pairs.retain(|(k, _)| *k != "decision" && *k != "csrf");
        pairs.push(("csrf", &csrf));
        pairs.push(("decision", decision));
        let response = post(&app, "/oauth/authorize", Some(&cookie), &pairs).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{decision:?}");
    }
    let huge = "x".repeat(20_000);
    let response = post(
        &app,
        "/oauth/authorize",
        Some(&cookie),
        &[("csrf", &csrf), ("decision", "allow"), ("state", &huge)],
    )
    .await;
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
}

#[actix_rt::test]
async fn a_code_is_single_use_and_its_reuse_revokes_what_it_issued() {
    let app = TestApp::spawn().await;
    let client_id = public_app(&app, json!({})).await;
    let (_, cookie) = member(&app, "fa@example.com", "default", Role::Developer).await;
    let code = code_in(&allow(&app, &cookie, &authorize_query(&client_id, &[])).await);
    let tokens: Value = redeem(&app, &client_id, &code).await.json().await.unwrap();
    let access = tokens["access_token"].as_str().unwrap();
    let refresh = tokens["refresh_token"].as_str().unwrap();
    assert_eq!(me_status(&app, access).await, 200);

    let again = redeem(&app, &client_id, &code).await;
    assert_oauth_error(again, 400, "invalid_grant").await;
    // What the first use issued no longer works.
    assert_eq!(me_status(&app, access).await, 401);
    let refreshed = use_refresh_token(&app, &client_id, refresh).await;
    assert_oauth_error(refreshed, 400, "invalid_grant").await;
    assert!(audit_trail(&app.store, "default")
        .iter()
        .any(|e| e.starts_with("authorization_code.reuse_detected")));
}

#[actix_rt::test]
async fn a_code_is_bound_to_its_client_redirect_uri_and_verifier() {
    let app = TestApp::spawn().await;
    let client_id = public_app(&app, json!({})).await;
    let other = public_app(&app, json!({"name": "Other"})).await;
    let (_, cookie) = member(&app, "gu@example.com", "default", Role::Developer).await;
    let base = [
        ("grant_type", "authorization_code"),
        ("redirect_uri", "http://127.0.0.1:53682/callback"),
        ("code_verifier", VERIFIER),
    ];
    let with = |changes: &[(&'static str, &str)], code: &str, client: &str| {
        let mut form: Vec<(String, String)> = base
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        form.push(("code".into(), code.to_owned()));
        form.push(("client_id".into(), client.to_owned()));
        for (name, value) in changes {
            form.retain(|(k, _)| k != name);
            form.push(((*name).to_owned(), (*value).to_owned()));
        }
        form
    };
    let send = |form: Vec<(String, String)>| {
        let app = &app;
        async move {
            let pairs: Vec<(&str, &str)> =
                form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            exchange(app, &pairs).await
        }
    };

    // Another client cannot redeem it, and that leaves it for its own client.
    let code = code_in(&allow(&app, &cookie, &authorize_query(&client_id, &[])).await);
    assert_oauth_error(send(with(&[], &code, &other)).await, 400, "invalid_grant").await;
    assert_eq!(send(with(&[], &code, &client_id)).await.status(), 200);

    // A wrong verifier, or another redirect URI (even another loopback port), burns it.
    for changes in [
        vec![(
            "code_verifier",
            "wrong-verifier-wrong-verifier-wrong-verifier-x",
        )],
        vec![("redirect_uri", "http://127.0.0.1:1/callback")],
    ] {
        let code = code_in(&allow(&app, &cookie, &authorize_query(&client_id, &[])).await);
        let refused = send(with(&changes, &code, &client_id)).await;
        let description = assert_oauth_error(refused, 400, "invalid_grant").await;
        assert!(!description.is_empty());
        assert_oauth_error(
            send(with(&[], &code, &client_id)).await,
            400,
            "invalid_grant",
        )
        .await;
    }
    // No verifier at all; a garbage code.
    let code = code_in(&allow(&app, &cookie, &authorize_query(&client_id, &[])).await);
    let mut no_verifier = with(&[], &code, &client_id);
    no_verifier.retain(|(k, _)| k != "code_verifier");
    assert_oauth_error(send(no_verifier).await, 400, "invalid_request").await;
    for garbage in ["kgac_nope", "x", &"kgac_".repeat(500)] {
        assert_oauth_error(
            send(with(&[], garbage, &client_id)).await,
            400,
            "invalid_grant",
        )
        .await;
    }
}

#[actix_rt::test]
async fn a_code_expires_after_a_minute() {
    let clock = Arc::new(ManualClock::new(chrono::Utc::now()));
    let app = TestApp::spawn_with_clock(|_| {}, clock.clone()).await;
    let client_id = public_app(&app, json!({})).await;
    let (_, cookie) = member(&app, "ha@example.com", "default", Role::Developer).await;
    let code = code_in(&allow(&app, &cookie, &authorize_query(&client_id, &[])).await);
    clock.advance(chrono::Duration::seconds(61));
    assert_oauth_error(redeem(&app, &client_id, &code).await, 400, "invalid_grant").await;
}

#[actix_rt::test]
async fn concurrent_redemptions_of_one_code_have_exactly_one_winner() {
    let app = TestApp::spawn().await;
    let client_id = public_app(&app, json!({})).await;
    let (_, cookie) = member(&app, "io@example.com", "default", Role::Developer).await;
    for _ in 0..3 {
        let code = code_in(&allow(&app, &cookie, &authorize_query(&client_id, &[])).await);
        let attempts = (0..8).map(|_| redeem(&app, &client_id, &code));
        let statuses: Vec<u16> = futures_util::future::join_all(attempts)
            .await
            .iter()
            .map(|r| r.status().as_u16())
            .collect();
        assert_eq!(
            statuses.iter().filter(|s| **s == 200).count(),
            1,
            "{statuses:?}"
        );
        assert!(
            statuses.iter().all(|s| *s == 200 || *s == 400),
            "{statuses:?}"
        );
    }
}

#[actix_rt::test]
async fn a_public_client_sends_no_secret_and_a_confidential_one_must() {
    let app = TestApp::spawn().await;
    let public = public_app(&app, json!({})).await;
    // A public client gets no client_credentials token, and a secret it sends is wrong.
    let cc = exchange(
        &app,
        &[("grant_type", "client_credentials"), ("client_id", &public)],
    )
    .await;
    assert_oauth_error(cc, 400, "unauthorized_client").await;
    let with_secret = exchange(
        &app,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", &public),
            ("client_secret", "kgs_guess"),
        ],
    )
    .await;
    assert_oauth_error(with_secret, 400, "invalid_client").await;
    // A confidential client of the grant authenticates at the token endpoint.
    let response = app
        .post_json(
            "/v1/clients",
            &app.admin_key,
            &json!({
                "name": "Web app", "scopes": ["read"],
                "grant_types": ["authorization_code"],
                "redirect_uris": ["http://127.0.0.1/callback"],
            }),
        )
        .await;
    let created: Value = response.json().await.unwrap();
    let id = created["client_id"].as_str().unwrap().to_owned();
    let secret = created["client_secret"].as_str().unwrap().to_owned();
    let (_, cookie) = member(&app, "jo@example.com", "default", Role::Viewer).await;
    let code = code_in(&allow(&app, &cookie, &authorize_query(&id, &[])).await);
    let unauthenticated = redeem(&app, &id, &code).await;
    assert_oauth_error(unauthenticated, 401, "invalid_client").await;
    let authenticated = exchange(
        &app,
        &[
            ("grant_type", "authorization_code"),
            ("client_id", &id),
            ("client_secret", &secret),
            ("code", &code),
            ("redirect_uri", "http://127.0.0.1:53682/callback"),
            ("code_verifier", VERIFIER),
        ],
    )
    .await;
    assert_eq!(authenticated.status(), 200);
    let body: Value = authenticated.json().await.unwrap();
    assert!(
        body.get("refresh_token").is_none(),
        "not registered for refresh_token"
    );
}

#[actix_rt::test]
async fn tokens_stop_when_the_person_can_no_longer_be_acted_for() {
    let app = TestApp::spawn().await;
    let client_id = public_app(&app, json!({})).await;
    let (user_id, cookie) = member(&app, "ka@example.com", "default", Role::Developer).await;
    let code = code_in(&allow(&app, &cookie, &authorize_query(&client_id, &[])).await);
    let tokens: Value = redeem(&app, &client_id, &code).await.json().await.unwrap();
    let access = tokens["access_token"].as_str().unwrap();
    assert_eq!(me_status(&app, access).await, 200);
    // Removed from the organization: at once.
    let removed = app
        .send(
            reqwest::Method::DELETE,
            &format!("/v1/members/{user_id}"),
            &app.admin_key,
        )
        .await;
    assert!(removed.status().is_success(), "{}", removed.status());
    assert_eq!(me_status(&app, access).await, 401);
    let refreshed =
        use_refresh_token(&app, &client_id, tokens["refresh_token"].as_str().unwrap()).await;
    assert_oauth_error(refreshed, 400, "invalid_grant").await;

    // Back in the organization, nothing comes back: the family stays revoked and the
    // consent is asked for again.
    let readded = app
        .post_json(
            "/v1/members",
            &app.admin_key,
            &json!({"email": "ka@example.com", "role": "developer"}),
        )
        .await;
    assert_eq!(readded.status(), 201);
    let again =
        crate::helpers::web::sign_in(&app, "ka@example.com", crate::helpers::web::PASSWORD).await;
    let cookie = crate::helpers::web::session_cookie(&again);
    let asked = get(
        &app,
        &format!("/oauth/authorize?{}", authorize_query(&client_id, &[])),
        &cookie,
    )
    .await;
    assert_eq!(asked.status(), StatusCode::OK, "the consent page again");
    let refreshed =
        use_refresh_token(&app, &client_id, tokens["refresh_token"].as_str().unwrap()).await;
    assert_oauth_error(refreshed, 400, "invalid_grant").await;

    // Disabled: at once.
    let (other_id, other_cookie) = member(&app, "lu@example.com", "default", Role::Developer).await;
    let code = code_in(&allow(&app, &other_cookie, &authorize_query(&client_id, &[])).await);
    let tokens: Value = redeem(&app, &client_id, &code).await.json().await.unwrap();
    let access = tokens["access_token"].as_str().unwrap();
    assert_eq!(me_status(&app, access).await, 200);
    app.store.with_conn(|c| {
        let actor = keygate::identity::authority::Actor::operator("test");
        keygate::users::service::disable_user(c, &actor, &other_id, chrono::Utc::now().naive_utc())
            .unwrap();
    });
    assert_eq!(me_status(&app, access).await, 401);
}

#[actix_rt::test]
async fn people_and_admins_see_and_revoke_authorizations() {
    let app = TestApp::spawn().await;
    let client_id = public_app(&app, json!({})).await;
    let (_, ada) = member(&app, "ada@example.com", "default", Role::Developer).await;
    let (_, bob) = member(&app, "bob@example.com", "default", Role::Developer).await;
    let (_, admin) = member(&app, "root@example.com", "default", Role::Admin).await;
    let mut tokens = Vec::new();
    for cookie in [&ada, &bob] {
        let code = code_in(&allow(&app, cookie, &authorize_query(&client_id, &[])).await);
        let issued: Value = redeem(&app, &client_id, &code).await.json().await.unwrap();
        tokens.push(issued);
    }
    let access = |i: usize| tokens[i]["access_token"].as_str().unwrap().to_owned();

    // Each person sees their own on the account page.
    let (_, html) = crate::helpers::web::page(&app, "/dashboard/account", &ada).await;
    assert!(
        html.contains("Acme CLI") && html.contains("Revoke Acme CLI"),
        "{html}"
    );
    let csrf = value_after(&html, "name=\"csrf\" value=\"");
    // A developer's applications page does not list other people's authorizations.
    let (_, apps) = crate::helpers::web::page(&app, "/dashboard/apps", &ada).await;
    assert!(!apps.contains("bob@example.com"));

    // Ada revokes hers: her token stops at once, Bob's goes on; the consent is gone.
    let revoked = post(
        &app,
        &format!("/dashboard/account/apps/{client_id}/revoke"),
        Some(&ada),
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!(revoked.status(), StatusCode::SEE_OTHER);
    assert_eq!(me_status(&app, &access(0)).await, 401);
    assert_eq!(me_status(&app, &access(1)).await, 200);
    let refreshed = use_refresh_token(
        &app,
        &client_id,
        tokens[0]["refresh_token"].as_str().unwrap(),
    )
    .await;
    assert_oauth_error(refreshed, 400, "invalid_grant").await;
    let asked = get(
        &app,
        &format!("/oauth/authorize?{}", authorize_query(&client_id, &[])),
        &ada,
    )
    .await;
    assert_eq!(asked.status(), StatusCode::OK, "asked again after revoking");
    // Revoking again, or one she never gave, is not found; a forged post is refused.
    let again = post(
        &app,
        &format!("/dashboard/account/apps/{client_id}/revoke"),
        Some(&ada),
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!(again.status(), StatusCode::NOT_FOUND);
    let forged = post(
        &app,
        &format!("/dashboard/account/apps/{client_id}/revoke"),
        Some(&bob),
        &[("csrf", "forged")],
    )
    .await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);

    // The admin sees Bob's and revokes it; a developer may not use that form.
    let (_, apps) = crate::helpers::web::page(&app, "/dashboard/apps", &admin).await;
    assert!(apps.contains("bob@example.com"), "{apps}");
    let bob_id = value_after(&apps, "name=\"user_id\" value=\"");
    let admin_csrf = value_after(&apps, "name=\"csrf\" value=\"");
    let bob_csrf = value_after(
        &crate::helpers::web::page(&app, "/dashboard/account", &bob)
            .await
            .1,
        "name=\"csrf\" value=\"",
    );
    let by_developer = post(
        &app,
        "/dashboard/apps/authorizations/revoke",
        Some(&bob),
        &[
            ("csrf", &bob_csrf),
            ("user_id", &bob_id),
            ("client_id", &client_id),
        ],
    )
    .await;
    assert_eq!(by_developer.status(), StatusCode::FORBIDDEN);
    for (user, client) in [
        ("usr_nope", client_id.as_str()),
        (bob_id.as_str(), "kgc_nope"),
        ("", ""),
    ] {
        let missing = post(
            &app,
            "/dashboard/apps/authorizations/revoke",
            Some(&admin),
            &[
                ("csrf", &admin_csrf),
                ("user_id", user),
                ("client_id", client),
            ],
        )
        .await;
        assert_eq!(missing.status(), StatusCode::NOT_FOUND, "{user} {client}");
    }
    let by_admin = post(
        &app,
        "/dashboard/apps/authorizations/revoke",
        Some(&admin),
        &[
            ("csrf", &admin_csrf),
            ("user_id", &bob_id),
            ("client_id", &client_id),
        ],
    )
    .await;
    assert_eq!(by_admin.status(), StatusCode::SEE_OTHER);
    assert_eq!(me_status(&app, &access(1)).await, 401);
    let trail = audit_trail(&app.store, "default");
    assert_eq!(
        trail
            .iter()
            .filter(|e| e.starts_with("oauth.consent_revoked"))
            .count(),
        2,
        "{trail:?}"
    );
}

#[actix_rt::test]
async fn an_app_of_another_organization_acts_in_the_persons_organization() {
    let app = TestApp::spawn().await;
    app.organization("partner", "Partner Inc");
    let partner_app = app.client_in(
        "partner",
        keygate::clients::ClientRegistration {
            name: "Partner integration".into(),
            scope: "read".into(),
            grant_types: vec!["authorization_code".into()],
            redirect_uris: vec![REDIRECT.into()],
            token_endpoint_auth_method: Some("none".into()),
            ..Default::default()
        },
    );
    let (user_id, cookie) = member(&app, "mo@example.com", "default", Role::Viewer).await;
    let shown = get(
        &app,
        &format!("/oauth/authorize?{}", authorize_query(&partner_app.id, &[])),
        &cookie,
    )
    .await
    .text()
    .await
    .unwrap();
    assert!(
        shown.contains("Partner integration") && shown.contains("Partner Inc"),
        "{shown}"
    );
    let code = code_in(&allow(&app, &cookie, &authorize_query(&partner_app.id, &[])).await);
    let tokens: Value = redeem(&app, &partner_app.id, &code)
        .await
        .json()
        .await
        .unwrap();
    let access = tokens["access_token"].as_str().unwrap();
    let me: Value = app
        .me(&[("Authorization", &format!("Bearer {access}"))])
        .await
        .json()
        .await
        .unwrap();
    let default_org = app.store.with_conn(|c| {
        keygate::orgs::repo::find_by_slug(c, "default")
            .unwrap()
            .unwrap()
            .id
    });
    assert_eq!(
        me["org_id"],
        default_org.as_str(),
        "the person's organization"
    );
    assert_eq!(me["subject"], user_id.as_str());
    // Introspection (by a confidential client of keygate) tells the same.
    let inspector = app.client_with_scope("read");
    let introspected = app.introspect(&inspector, access, None).await;
    assert_eq!(introspected["active"], true, "{introspected}");
    assert_eq!(introspected["sub"], user_id.as_str());
    assert_eq!(introspected["client_id"], partner_app.id.as_str());
    // The consent is recorded in the person's organization, not the app's.
    assert!(audit_trail(&app.store, "default")
        .iter()
        .any(|e| e.starts_with("oauth.authorized")));
    assert!(!audit_trail(&app.store, "partner")
        .iter()
        .any(|e| e.starts_with("oauth.authorized")));
}

#[actix_rt::test]
async fn a_code_carries_no_more_than_the_consent_covers_when_it_is_redeemed() {
    use diesel::RunQueryDsl;
    let app = TestApp::spawn().await;
    let client_id = public_app(&app, json!({})).await;
    let (_, cookie) = member(&app, "mo@example.com", "default", Role::Developer).await;
    let query = authorize_query(&client_id, &[("scope", "read write")]);
    let code = code_in(&allow(&app, &cookie, &query).await);
    // Between the authorization and the exchange the consent is withdrawn and given
    // again for less (as two quick clicks on two pages would do it).
    app.store.with_conn(|c| {
        diesel::sql_query("UPDATE oauth_consents SET scope = 'read'")
            .execute(c)
            .unwrap();
    });
    let tokens: Value = redeem(&app, &client_id, &code).await.json().await.unwrap();
    assert_eq!(tokens["scope"], "read", "{tokens}");
    let access = tokens["access_token"].as_str().unwrap();
    assert_eq!(claims_of(access)["scope"], "read");
    // And its refresh cannot widen it back.
    let refreshed =
        use_refresh_token(&app, &client_id, tokens["refresh_token"].as_str().unwrap()).await;
    let refreshed: Value = refreshed.json().await.unwrap();
    assert_eq!(refreshed["scope"], "read", "{refreshed}");

    // Withdrawn and not given again: the code of the same moment is refused.
    let code = code_in(&allow(&app, &cookie, &query).await);
    app.store.with_conn(|c| {
        diesel::sql_query("DELETE FROM oauth_consents")
            .execute(c)
            .unwrap();
    });
    assert_oauth_error(redeem(&app, &client_id, &code).await, 400, "invalid_grant").await;
}
