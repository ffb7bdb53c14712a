//! POST /oauth/token, client_credentials: what a client sees when things go right.

use std::collections::HashSet;
use std::time::Duration;

use keygate::clients::ClientRegistration;

use crate::helpers::{basic_auth, header, TestApp, ISSUER};

#[actix_web::test]
async fn basic_and_post_tokens_verify_against_the_published_jwks() {
    let app = TestApp::spawn().await;
    let client = app.client_with_scope("read write");
    for response in [
        app.token_basic(&client, &[("grant_type", "client_credentials")])
            .await,
        app.token_post(&client, &[("grant_type", "client_credentials")])
            .await,
    ] {
        assert_eq!(response.status(), 200);
        assert_eq!(header(&response, "cache-control"), "no-store");
        assert_eq!(header(&response, "pragma"), "no-cache");
        assert!(header(&response, "content-type").starts_with("application/json"));
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["token_type"], "Bearer");
        assert_eq!(body["expires_in"], 300);
        assert_eq!(body["scope"], "read write");
        assert!(body.get("refresh_token").is_none());

        let claims = app
            .verify(body["access_token"].as_str().unwrap(), ISSUER)
            .await;
        assert_eq!(claims["iss"], ISSUER);
        assert_eq!(claims["sub"], client.id.as_str());
        assert_eq!(claims["client_id"], client.id.as_str());
        assert_eq!(claims["aud"], ISSUER);
        assert_eq!(claims["scope"], "read write");
        assert!(claims["org"].as_str().unwrap().starts_with("org_"));
        assert!(!claims["jti"].as_str().unwrap().is_empty());
        let (iat, exp) = (
            claims["iat"].as_i64().unwrap(),
            claims["exp"].as_i64().unwrap(),
        );
        assert_eq!(exp - iat, 300);
        assert!((iat - chrono::Utc::now().timestamp()).abs() < 60);
    }
}

#[actix_web::test]
async fn percent_encoded_basic_credentials_are_decoded() {
    let app = TestApp::spawn().await;
    let client = app.client_with_scope("read");
    // RFC 6749 §2.3.1: id and secret are form-urlencoded before base64. Encoding
    // every byte (not only the reserved ones) must still decode to the same values.
    let encode_all = |s: &str| s.bytes().map(|b| format!("%{b:02X}")).collect::<String>();
    let credentials = format!("{}:{}", encode_all(&client.id), encode_all(&client.secret));
    let response = app
        .token_raw(
            &[
                (
                    "Authorization",
                    &format!("Basic {}", base64_encode(&credentials)),
                ),
                ("Content-Type", "application/x-www-form-urlencoded"),
            ],
            "grant_type=client_credentials",
        )
        .await;
    assert_eq!(response.status(), 200);
    // The usual encoding (nothing to escape in keygate's ids) works too.
    let auth = basic_auth(&client.id, &client.secret);
    let plain = app
        .token_raw(
            &[
                ("Authorization", &auth),
                (
                    "Content-Type",
                    "application/x-www-form-urlencoded;charset=UTF-8",
                ),
            ],
            "grant_type=client_credentials",
        )
        .await;
    assert_eq!(plain.status(), 200);
}

fn base64_encode(s: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(s)
}

#[actix_web::test]
async fn scope_is_default_exact_subset_or_refused() {
    let app = TestApp::spawn().await;
    let client = app.client(ClientRegistration {
        name: "scoped".into(),
        scope: "read write admin".into(),
        default_scope: Some("read".into()),
        ..Default::default()
    });
    let granted = |response: reqwest::Response| async move {
        assert_eq!(response.status(), 200);
        let body: serde_json::Value = response.json().await.unwrap();
        body["scope"].as_str().unwrap().to_owned()
    };
    let cc = ("grant_type", "client_credentials");
    assert_eq!(granted(app.token_basic(&client, &[cc]).await).await, "read");
    assert_eq!(
        granted(app.token_basic(&client, &[cc, ("scope", "")]).await).await,
        "read"
    );
    assert_eq!(
        granted(app.token_basic(&client, &[cc, ("scope", "write")]).await).await,
        "write"
    );
    assert_eq!(
        granted(
            app.token_post(&client, &[cc, ("scope", "admin  write admin")])
                .await
        )
        .await,
        "admin write"
    );
    for refused in [
        "webhook",
        "read webhook",
        "superuser",
        "\"quoted\"",
        "caf\u{e9}",
    ] {
        let response = app.token_basic(&client, &[cc, ("scope", refused)]).await;
        crate::helpers::assert_oauth_error(response, 400, "invalid_scope").await;
    }
}

#[actix_web::test]
async fn per_client_lifetime_and_audience_are_honoured() {
    let app = TestApp::spawn().await;
    let client = app.client(ClientRegistration {
        name: "billing".into(),
        scope: "read".into(),
        audience: Some("https://api.example.com".into()),
        access_token_ttl: Some(Duration::from_secs(600)),
        ..Default::default()
    });
    let response = app
        .token_basic(&client, &[("grant_type", "client_credentials")])
        .await;
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["expires_in"], 600);
    let claims = app
        .verify(
            body["access_token"].as_str().unwrap(),
            "https://api.example.com",
        )
        .await;
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        600
    );
}

#[actix_web::test]
async fn every_token_has_a_unique_jti() {
    let app = TestApp::spawn().await;
    let client = app.client_with_scope("read");
    let mut seen = HashSet::new();
    for _ in 0..20 {
        let body: serde_json::Value = app.token_json(&client).await;
        let claims = app
            .verify(body["access_token"].as_str().unwrap(), ISSUER)
            .await;
        assert!(seen.insert(claims["jti"].as_str().unwrap().to_owned()));
    }
}

#[actix_web::test]
async fn a_disabled_client_is_refused_even_after_a_cached_success() {
    let app = TestApp::spawn().await;
    let client = app.client_with_scope("read");
    let cc = [("grant_type", "client_credentials")];
    assert_eq!(app.token_basic(&client, &cc).await.status(), 200);
    assert_eq!(app.token_basic(&client, &cc).await.status(), 200); // now cached
    app.disable(&client);
    let response = app.token_basic(&client, &cc).await;
    crate::helpers::assert_oauth_error(response, 401, "invalid_client").await;
}

#[actix_web::test]
async fn tokens_are_signed_with_the_configured_algorithm() {
    for alg in [
        keygate::tokens::KeyAlg::RS256,
        keygate::tokens::KeyAlg::EdDSA,
    ] {
        let app = TestApp::spawn_with(|settings| {
            keygate::tokens::signing_keys::generate(&settings.keys_dir, alg, chrono::Utc::now())
                .unwrap();
        })
        .await;
        let client = app.client_with_scope("read");
        let body: serde_json::Value = app.token_json(&client).await;
        let token = body["access_token"].as_str().unwrap();
        assert_eq!(
            jsonwebtoken::decode_header(token).unwrap().alg,
            alg.jsonwebtoken()
        );
        app.verify(token, ISSUER).await;
    }
}

#[actix_web::test]
async fn a_cached_client_is_served_while_a_wrong_secret_flood_waits_for_argon2() {
    // The brute-force throttle and the argon2 wait bound are raised out of the way:
    // this is about queueing (on a loaded machine 40 serial argon2 runs can outlast
    // the default 2 s wait, which a test of its own covers).
    let app = TestApp::spawn_with(|settings| {
        settings.argon2_max_concurrency = 1;
        settings.argon2_max_wait = Duration::from_secs(60);
        settings.auth_failures_per_minute = 1000;
        settings.auth_failures_per_minute_per_source = 1000;
    })
    .await;
    let victim = app.client_with_scope("read");
    let cc = [("grant_type", "client_credentials")];
    assert_eq!(app.token_basic(&victim, &cc).await.status(), 200); // cached from now on
    let attacker = victim.with_secret("kgs_guess");

    let flood: Vec<_> = (0..40)
        .map(|_| {
            let (http, url, auth) = (
                app.http.clone(),
                app.url("/oauth/token"),
                basic_auth(&attacker.id, &attacker.secret),
            );
            actix_web::rt::spawn(async move {
                let response = http
                    .post(url)
                    .header("Authorization", auth)
                    .form(&cc)
                    .send()
                    .await
                    .unwrap();
                response.status().as_u16()
            })
        })
        .collect();
    actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    for _ in 0..5 {
        assert_eq!(app.token_basic(&victim, &cc).await.status(), 200);
    }
    // 40 serial ~20 ms argon2 verifications cannot all be done yet: the victim was
    // served while the flood was still queued, not after it.
    let unfinished = flood
        .iter()
        .filter(|request| !request.is_finished())
        .count();
    assert!(
        unfinished > 0,
        "the flood finished before the victim was served"
    );
    for request in flood {
        assert_eq!(request.await.unwrap(), 401);
    }
}

#[actix_web::test]
async fn a_flood_beyond_the_argon2_wait_gets_503_with_retry_after() {
    let app = TestApp::spawn_with(|settings| {
        settings.argon2_max_concurrency = 1;
        settings.argon2_max_wait = Duration::from_millis(1);
        settings.auth_failures_per_minute = 1000;
        settings.auth_failures_per_minute_per_source = 1000;
    })
    .await;
    let client = app.client_with_scope("read");
    let wrong = client.with_secret("kgs_guess");
    let flood: Vec<_> = (0..12)
        .map(|_| {
            let (http, url, auth) = (
                app.http.clone(),
                app.url("/oauth/token"),
                basic_auth(&wrong.id, &wrong.secret),
            );
            actix_web::rt::spawn(async move {
                http.post(url)
                    .header("Authorization", auth)
                    .form(&[("grant_type", "client_credentials")])
                    .send()
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut unavailable = 0;
    for request in flood {
        let response = request.await.unwrap();
        match response.status().as_u16() {
            401 => {}
            503 => {
                unavailable += 1;
                assert_eq!(header(&response, "retry-after"), "1");
                crate::helpers::assert_oauth_error(response, 503, "temporarily_unavailable").await;
            }
            other => panic!("unexpected status {other}"),
        }
    }
    assert!(unavailable > 0, "no request was shed");
}

#[actix_web::test]
async fn a_lowered_maximum_lifetime_caps_existing_clients() {
    let app =
        TestApp::spawn_with(|settings| settings.access_token_ttl_max = Duration::from_secs(600))
            .await;
    // Registered while the maximum was still an hour.
    let policy = keygate::config::CredentialPolicy {
        max_token_ttl: Duration::from_secs(3600),
        ..app.settings.credential_policy()
    };
    let registration = ClientRegistration {
        name: "long-lived".into(),
        scope: "read".into(),
        access_token_ttl: Some(Duration::from_secs(3600)),
        ..Default::default()
    };
    let client = app.client_under(&policy, "default", registration);
    let body: serde_json::Value = app.token_json(&client).await;
    assert_eq!(body["expires_in"], 600);
}
