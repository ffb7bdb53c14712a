//! POST /oauth/revoke (RFC 7009) and POST /oauth/introspect (RFC 7662).

use std::sync::Arc;

use keygate::clients::ClientRegistration;
use keygate::clock::ManualClock;

use crate::helpers::jwt::{encode_segment, segment, with_claims};
use crate::helpers::{assert_oauth_error, basic_auth, TestApp, TestClient};

/// A client in a new organization.
fn client_in_new_org(app: &TestApp, slug: &str) -> TestClient {
    app.organization(slug, slug);
    app.client_in(
        slug,
        ClientRegistration {
            name: "other org".into(),
            scope: "read".into(),
            ..Default::default()
        },
    )
}

fn inactive() -> serde_json::Value {
    serde_json::json!({ "active": false })
}

#[actix_web::test]
async fn a_live_access_token_is_described_until_it_is_revoked() {
    let app = TestApp::spawn().await;
    let client = app.client_with_scope("read write");
    let resource_server = app.client_with_scope("read");
    let body: serde_json::Value = app.token_json(&client).await;
    let token = body["access_token"].as_str().unwrap();

    let described = app.introspect(&resource_server, token, None).await;
    assert_eq!(described["active"], true);
    assert_eq!(described["token_type"], "Bearer");
    assert_eq!(described["scope"], "read write");
    assert_eq!(described["client_id"], client.id.as_str());
    assert_eq!(described["sub"], client.id.as_str());
    assert_eq!(described["iss"], crate::helpers::ISSUER);
    assert_eq!(described["aud"], crate::helpers::ISSUER);
    for claim in ["exp", "iat", "jti"] {
        assert!(!described[claim].is_null(), "{claim} missing: {described}");
    }

    // Another client cannot revoke it (200, but nothing happens)...
    app.revoke(&resource_server, token, None).await;
    assert_eq!(
        app.introspect(&resource_server, token, None).await["active"],
        true
    );
    // ...its own client can, whatever the hint says.
    app.revoke(&client, token, Some("refresh_token")).await;
    assert_eq!(
        app.introspect(&resource_server, token, None).await,
        inactive()
    );
    // Revoking again, or revoking garbage, is still 200.
    app.revoke(&client, token, None).await;
    app.revoke(&client, "garbage", Some("access_token")).await;
}

#[actix_web::test]
async fn refresh_tokens_are_described_to_their_client_only_and_revoke_their_family() {
    let app = TestApp::spawn().await;
    let client = app.refresh_client("read", None);
    let other = app.refresh_client("read", None);
    let (_, first) = app.first_tokens(&client).await;

    let described = app.introspect(&client, &first, Some("refresh_token")).await;
    assert_eq!(described["active"], true);
    assert!(
        described.get("token_type").is_none(),
        "not an RFC 6749 §7.1 type"
    );
    assert_eq!(described["credential_kind"], "refresh_token");
    assert_eq!(described["scope"], "read");
    assert_eq!(described["client_id"], client.id.as_str());
    assert!(described["exp"].as_i64().unwrap() > chrono::Utc::now().timestamp());
    assert_eq!(app.introspect(&other, &first, None).await, inactive());

    // Spent by rotation: inactive; the successor is active.
    let response = app.refresh(&client, &first, &[]).await;
    let body: serde_json::Value = response.json().await.unwrap();
    let second = body["refresh_token"].as_str().unwrap().to_owned();
    assert_eq!(app.introspect(&client, &first, None).await, inactive());
    assert_eq!(app.introspect(&client, &second, None).await["active"], true);

    // Another client's revocation does nothing; the owner's revokes the family.
    app.revoke(&other, &second, None).await;
    assert_eq!(app.introspect(&client, &second, None).await["active"], true);
    app.revoke(&client, &second, None).await;
    assert_eq!(app.introspect(&client, &second, None).await, inactive());
    assert_oauth_error(
        app.refresh(&client, &second, &[]).await,
        400,
        "invalid_grant",
    )
    .await;
}

#[actix_web::test]
async fn expired_tampered_foreign_and_garbage_tokens_are_just_inactive() {
    let clock = Arc::new(ManualClock::new(chrono::Utc::now()));
    let app = TestApp::spawn_with_clock(|_| {}, clock.clone()).await;
    let client = app.client_with_scope("read");
    let body: serde_json::Value = app.token_json(&client).await;
    let token = body["access_token"].as_str().unwrap().to_owned();

    // Tampered: the payload widened, the signature kept.
    let mut claims = segment(&token, 1);
    claims["scope"] = "admin".into();
    let tampered = with_claims(&token, &claims);
    // Signed by a key this server does not publish (another keygate's).
    let foreign_dir = tempfile::tempdir().unwrap();
    keygate::tokens::signing_keys::generate(
        foreign_dir.path(),
        keygate::tokens::KeyAlg::ES256,
        chrono::Utc::now(),
    )
    .unwrap();
    let foreign_ring = keygate::tokens::KeyRing::load(foreign_dir.path()).unwrap();
    let foreign = keygate::tokens::jwt::encode(foreign_ring.active(), &claims).unwrap();
    // alg none.
    let none = format!(
        "{}.{}.",
        encode_segment(&serde_json::json!({"alg": "none", "typ": "at+jwt"})),
        encode_segment(&claims)
    );

    for bad in [
        tampered.as_str(),
        &foreign,
        &none,
        "garbage",
        "kgr_unknown",
        &"a.".repeat(3000),
    ] {
        assert_eq!(
            app.introspect(&client, bad, None).await,
            inactive(),
            "{bad:.40}"
        );
    }
    let other_org = client_in_new_org(&app, "acme");
    assert_eq!(
        app.introspect(&other_org, &token, None).await,
        inactive(),
        "other organization"
    );

    assert_eq!(app.introspect(&client, &token, None).await["active"], true);
    clock.advance(chrono::Duration::minutes(6));
    assert_eq!(
        app.introspect(&client, &token, None).await,
        inactive(),
        "expired"
    );
}

#[actix_web::test]
async fn both_endpoints_require_client_authentication_and_well_formed_requests() {
    let app = TestApp::spawn().await;
    let client = app.client_with_scope("read");
    for path in ["/oauth/revoke", "/oauth/introspect"] {
        let wrong = client.with_secret("kgs_wrong");
        assert_oauth_error(
            app.token_action(path, &wrong, "x", None).await,
            401,
            "invalid_client",
        )
        .await;
        let anonymous = app
            .http
            .post(app.url(path))
            .form(&[("token", "x")])
            .send()
            .await
            .unwrap();
        assert_oauth_error(anonymous, 401, "invalid_client").await;
        // A wrong secret in the body: 400 without a challenge (RFC 6749 §5.2).
        let wrong_post = app
            .http
            .post(app.url(path))
            .form(&[
                ("token", "x"),
                ("client_id", &client.id),
                ("client_secret", "kgs_wrong"),
            ])
            .send()
            .await
            .unwrap();
        assert_oauth_error(wrong_post, 400, "invalid_client").await;
        // client_secret_post works too.
        let post = app
            .http
            .post(app.url(path))
            .form(&[
                ("token", "x"),
                ("client_id", &client.id),
                ("client_secret", &client.secret),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(post.status(), 200);

        let auth = basic_auth(&client.id, &client.secret);
        let form = ("Content-Type", "application/x-www-form-urlencoded");
        let send = |path: &'static str, headers: Vec<(&'static str, String)>, body: String| {
            let mut request = app.http.post(app.url(path)).body(body);
            for (name, value) in headers {
                request = request.header(name, value);
            }
            request.send()
        };
        let missing = send(
            path,
            vec![(form.0, form.1.into()), ("Authorization", auth.clone())],
            "token_type_hint=x".into(),
        )
        .await
        .unwrap();
        assert_oauth_error(missing, 400, "invalid_request").await;
        let twice = send(
            path,
            vec![(form.0, form.1.into()), ("Authorization", auth.clone())],
            "token=a&token=b".into(),
        )
        .await
        .unwrap();
        assert_oauth_error(twice, 400, "invalid_request").await;
        let json = send(
            path,
            vec![
                ("Content-Type", "application/json".into()),
                ("Authorization", auth.clone()),
            ],
            r#"{"token":"x"}"#.into(),
        )
        .await
        .unwrap();
        // keygate's JSON extension (see json_requests).
        assert_eq!(json.status(), 200);
        let oversize = send(
            path,
            vec![(form.0, form.1.into()), ("Authorization", auth.clone())],
            format!("token={}", "a".repeat(20_000)),
        )
        .await
        .unwrap();
        assert_oauth_error(oversize, 413, "invalid_request").await;
        let in_url = app
            .http
            .post(app.url(&format!("{path}?token=x")))
            .header("Authorization", auth.clone())
            .form(&[("token", "x")])
            .send()
            .await
            .unwrap();
        assert_oauth_error(in_url, 400, "invalid_request").await;
        let get = app.http.get(app.url(path)).send().await.unwrap();
        assert_eq!(get.status(), 405);
    }
}

#[actix_web::test]
async fn metadata_lists_revocation_and_introspection() {
    let app = TestApp::spawn().await;
    let doc: serde_json::Value = app
        .public_json("/.well-known/oauth-authorization-server")
        .await;
    let methods = serde_json::json!(["client_secret_basic", "client_secret_post"]);
    assert_eq!(
        doc["revocation_endpoint"],
        format!("{}/oauth/revoke", crate::helpers::ISSUER)
    );
    assert_eq!(
        doc["introspection_endpoint"],
        format!("{}/oauth/introspect", crate::helpers::ISSUER)
    );
    assert_eq!(doc["revocation_endpoint_auth_methods_supported"], methods);
    assert_eq!(
        doc["introspection_endpoint_auth_methods_supported"],
        methods
    );
}

#[actix_rt::test]
async fn a_disabled_clients_access_tokens_are_inactive_at_once() {
    let app = TestApp::spawn().await;
    let resource_server = app.client_with_scope("read");
    let disabled = app.client_with_scope("read");
    let token = app.access_token(&disabled).await;
    assert_eq!(
        app.introspect(&resource_server, &token, None).await["active"],
        true
    );
    app.disable(&disabled);
    assert_eq!(
        app.introspect(&resource_server, &token, None).await,
        inactive()
    );
}

/// One answer per token at one instant: the resolver, forward-auth and introspection
/// draw the same `exp` line (no leeway on `exp`), and a revoked token stays refused on
/// every one of them until then.
#[actix_rt::test]
async fn a_token_is_live_everywhere_until_its_exp_and_nowhere_after() {
    let clock = Arc::new(ManualClock::new(chrono::Utc::now()));
    let app = TestApp::spawn_with_clock(|_| {}, clock.clone()).await;
    let client = app.client_with_scope("read");
    let token_json = app.token_json(&client).await;
    let token = token_json["access_token"].as_str().unwrap().to_owned();
    let ttl = token_json["expires_in"].as_i64().unwrap();
    let bearer = format!("Bearer {token}");
    let forward = || {
        app.http
            .get(app.url("/v1/forward-auth"))
            .header("Authorization", &bearer)
            .send()
    };
    clock.advance(chrono::Duration::seconds(ttl - 1));
    assert_eq!(app.me(&[("Authorization", &bearer)]).await.status(), 200);
    assert_eq!(forward().await.unwrap().status(), 200);
    assert_eq!(app.introspect(&client, &token, None).await["active"], true);
    clock.advance(chrono::Duration::seconds(1));
    let response = app.me(&[("Authorization", &bearer)]).await;
    crate::helpers::assert_api_error(response, 401, "expired_token").await;
    assert_eq!(forward().await.unwrap().status(), 401);
    assert_eq!(app.introspect(&client, &token, None).await["active"], false);

    // Revoked: refused at once, everywhere, while it would otherwise be live.
    let live = app.access_token(&client).await;
    app.revoke(&client, &live, None).await;
    let response = app
        .me(&[("Authorization", &format!("Bearer {live}"))])
        .await;
    let body = crate::helpers::assert_api_error(response, 401, "invalid_token").await;
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("revoked"));
    assert_eq!(app.introspect(&client, &live, None).await["active"], false);
}
