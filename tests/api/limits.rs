//! Rate limits over HTTP: the tier's burst trips with 429 and the documented headers,
//! recovers at the tier's rate (moved by an injected clock), binds every credential of
//! the organization, and a key's override only tightens it.

use std::sync::Arc;

use chrono::Utc;
use keygate::clock::ManualClock;
use keygate::limits::TierLimit;

use crate::helpers::{assert_api_error, header, TestApp, TestClient, TestKey};

/// `free`: 60 requests a minute, bursts of 3.
async fn tiny_app(clock: Arc<ManualClock>) -> TestApp {
    TestApp::spawn_with_clock(
        |s| {
            s.tiers.insert(
                "free".into(),
                TierLimit {
                    requests_per_minute: 60,
                    burst: 3,
                },
            );
        },
        clock,
    )
    .await
}

#[actix_rt::test]
async fn a_burst_trips_with_429_and_recovers_at_the_rate() {
    let clock = Arc::new(ManualClock::new(Utc::now()));
    let app = tiny_app(clock.clone()).await;
    let key = app.operator_key("default", "read", None).key;
    for remaining in ["2", "1", "0"] {
        let response = app.me(&[("X-API-Key", &key)]).await;
        assert_eq!(response.status(), 200);
        assert_eq!(header(&response, "ratelimit-limit"), "60");
        assert_eq!(header(&response, "ratelimit-remaining"), remaining);
        assert!(header(&response, "ratelimit-reset").parse::<u64>().unwrap() >= 1);
    }
    let response = app.me(&[("X-API-Key", &key)]).await;
    assert_eq!(header(&response, "retry-after"), "1");
    assert_eq!(header(&response, "ratelimit-remaining"), "0");
    let body = assert_api_error(response, 429, "rate_limit_exceeded").await;
    assert_eq!(body["error"]["details"]["retry_after"], 1);

    clock.advance(chrono::Duration::seconds(1));
    assert_eq!(
        app.me(&[("X-API-Key", &key)]).await.status(),
        200,
        "one more a second"
    );
    assert_eq!(app.me(&[("X-API-Key", &key)]).await.status(), 429);
    clock.advance(chrono::Duration::seconds(3));
    let response = app.me(&[("X-API-Key", &key)]).await;
    assert_eq!(header(&response, "ratelimit-remaining"), "2", "whole again");
}

#[actix_rt::test]
async fn the_organization_limit_binds_all_its_keys_and_no_other_organization() {
    let clock = Arc::new(ManualClock::new(Utc::now()));
    let app = tiny_app(clock).await;
    let keys: Vec<String> = (0..3)
        .map(|_| app.operator_key("default", "read", None).key)
        .collect();
    for key in &keys {
        assert_eq!(app.me(&[("X-API-Key", key)]).await.status(), 200);
    }
    let fourth = app.operator_key("default", "read", None).key;
    assert_eq!(app.me(&[("X-API-Key", &fourth)]).await.status(), 429);
    let other = app.other_org_admin().key;
    assert_eq!(
        app.me(&[("X-API-Key", &other)]).await.status(),
        200,
        "another org"
    );
}

#[actix_rt::test]
async fn a_keys_override_tightens_its_own_limit_only() {
    let clock = Arc::new(ManualClock::new(Utc::now()));
    let app = TestApp::spawn_with_clock(|_| {}, clock).await;
    let slow = app.operator_key("default", "read", Some(1)).key;
    let response = app.me(&[("X-API-Key", &slow)]).await;
    assert_eq!(header(&response, "ratelimit-limit"), "1");
    assert_api_error(
        app.me(&[("X-API-Key", &slow)]).await,
        429,
        "rate_limit_exceeded",
    )
    .await;
    let normal = app.operator_key("default", "read", None).key;
    let response = app.me(&[("X-API-Key", &normal)]).await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        header(&response, "ratelimit-limit"),
        "600",
        "the free tier's"
    );

    // Set through the API: validated, shown, removable.
    let created = app
        .create_key_as(
            &app.admin_key,
            serde_json::json!({"name": "limited", "scopes": ["read"], "rate_limit_per_minute": 30}),
        )
        .await;
    assert_eq!(created.status(), 201);
    let created: serde_json::Value = created.json().await.unwrap();
    assert_eq!(created["rate_limit_per_minute"], 30);
    let bad = app
        .create_key_as(
            &app.admin_key,
            serde_json::json!({"name": "x", "scopes": ["read"], "rate_limit_per_minute": 0}),
        )
        .await;
    let error = assert_api_error(bad, 400, "invalid_request").await;
    assert_eq!(error["error"]["details"]["field"], "rate_limit_per_minute");
    let id = created["id"].as_str().unwrap();
    let cleared: serde_json::Value = app
        .patch_json(
            &format!("/v1/api-keys/{id}"),
            &app.admin_key,
            &serde_json::json!({"rate_limit_per_minute": null}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert!(cleared["rate_limit_per_minute"].is_null(), "{cleared}");
}

#[actix_rt::test]
async fn with_limits_off_nothing_is_counted() {
    let app = TestApp::spawn_with(|s| {
        s.rate_limits = false;
        s.tiers.insert(
            "free".into(),
            TierLimit {
                requests_per_minute: 1,
                burst: 1,
            },
        );
    })
    .await;
    let key = app.operator_key("default", "read", None).key;
    for _ in 0..3 {
        let response = app.me(&[("X-API-Key", &key)]).await;
        assert_eq!(response.status(), 200);
        assert!(header(&response, "ratelimit-limit").is_empty());
    }
}

#[actix_rt::test]
async fn guessing_a_secret_is_throttled_without_locking_out_the_client() {
    let clock = Arc::new(ManualClock::new(Utc::now()));
    let app = TestApp::spawn_with_clock(
        |s| {
            s.auth_failures_per_minute = 3;
            s.auth_failures_per_minute_per_source = 100;
        },
        clock.clone(),
    )
    .await;
    let victim = app.client_with_scope("read");
    // The real client has authenticated before: its secret is in the verified cache.
    assert_eq!(app.token_json(&victim).await["token_type"], "Bearer");
    let guess = victim.with_secret(&format!("{}x", victim.secret));
    let grant = [("grant_type", "client_credentials")];
    // Exactly the allowance of guesses reaches argon2.
    for _ in 0..3 {
        let response = app.token_basic(&guess, &grant).await;
        crate::helpers::assert_oauth_error(response, 401, "invalid_client").await;
    }
    let response = app.token_basic(&guess, &grant).await;
    assert_eq!(header(&response, "retry-after"), "20");
    crate::helpers::assert_oauth_error(response, 429, "rate_limit_exceeded").await;
    // The right secret still works (cached), and so do other clients.
    assert_eq!(app.token_basic(&victim, &grant).await.status(), 200);
    let other = app.client_with_scope("read");
    assert_eq!(app.token_basic(&other, &grant).await.status(), 200);
    // Once refilled, a guess is a plain 401 again.
    clock.advance(chrono::Duration::seconds(21));
    let response = app.token_basic(&guess, &grant).await;
    crate::helpers::assert_oauth_error(response, 401, "invalid_client").await;

    // The burst is in the client's organization's audit log, without the guesses.
    let events: serde_json::Value = app
        .get_json(
            "/v1/audit-events?type=authentication.failures",
            &app.admin_key,
        )
        .await;
    assert_eq!(events["data"][0]["target_id"], victim.id.as_str());
    assert_eq!(events["data"][0]["source_ip"], "127.0.0.1");
    assert!(!events.to_string().contains(&guess.secret));
}

#[actix_rt::test]
async fn one_source_guessing_many_clients_is_throttled_too() {
    let app = TestApp::spawn_with(|s| {
        s.auth_failures_per_minute = 100;
        s.auth_failures_per_minute_per_source = 3;
    })
    .await;
    let grant = [("grant_type", "client_credentials")];
    for i in 0..3 {
        let stranger = crate::helpers::TestClient {
            id: format!("kgc_unknown{i}"),
            secret: "kgs_guess".into(),
        };
        assert_eq!(app.token_basic(&stranger, &grant).await.status(), 401);
    }
    // From the same address even a real, uncached client must wait; the introspection
    // and revocation endpoints are throttled alike.
    let client = app.client_with_scope("read");
    let response = app.token_basic(&client, &grant).await;
    crate::helpers::assert_oauth_error(response, 429, "rate_limit_exceeded").await;
    let response = app
        .http
        .post(app.url("/oauth/introspect"))
        .header(
            "Authorization",
            crate::helpers::basic_auth(&client.id, &client.secret),
        )
        .form(&[("token", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 429);
}

/// The Redis the shared-limit tests use (`.ci/run` sets it; they are skipped, saying
/// so, without it).
fn test_redis() -> Option<String> {
    match std::env::var("KEYGATE_TEST_REDIS_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            crate::helpers::available("Redis (KEYGATE_TEST_REDIS_URL)", false);
            None
        }
    }
}

#[actix_rt::test]
#[ignore = "needs Redis: KEYGATE_TEST_REDIS_URL=redis://… cargo test -- --include-ignored"]
async fn two_instances_sharing_redis_enforce_one_combined_limit() {
    let Some(redis) = test_redis() else { return };
    let clock = Arc::new(ManualClock::new(Utc::now()));
    let prefix = format!("kg-test:{}", uuid::Uuid::new_v4().simple());
    let app = TestApp::spawn_with_clock(
        |s| {
            s.redis_url = Some(redis.into());
            s.redis_key_prefix = prefix;
            s.tiers.insert(
                "free".into(),
                TierLimit {
                    requests_per_minute: 60,
                    burst: 3,
                },
            );
        },
        clock.clone(),
    )
    .await;
    let sibling = app.spawn_sibling(clock.clone()).await;
    let key = app.operator_key("default", "read", None).key;
    let on = |base: &str| {
        app.http
            .get(format!("{base}/v1/me"))
            .header("X-API-Key", key.as_str())
            .send()
    };
    assert_eq!(on(&app.address).await.unwrap().status(), 200);
    assert_eq!(on(&app.address).await.unwrap().status(), 200);
    let third = on(&sibling).await.unwrap();
    assert_eq!(third.status(), 200);
    assert_eq!(
        header(&third, "ratelimit-remaining"),
        "0",
        "counted across instances"
    );
    let fourth = on(&sibling).await.unwrap();
    assert_eq!(header(&fourth, "retry-after"), "1");
    assert_api_error(fourth, 429, "rate_limit_exceeded").await;
    assert_eq!(on(&app.address).await.unwrap().status(), 429);
    clock.advance(chrono::Duration::seconds(1));
    assert_eq!(
        on(&sibling).await.unwrap().status(),
        200,
        "recovers at the rate"
    );
}

#[actix_rt::test]
async fn an_unreachable_redis_falls_back_to_each_instances_own_limits() {
    let clock = Arc::new(ManualClock::new(Utc::now()));
    let app = TestApp::spawn_with_clock(
        |s| {
            // Nothing listens on port 1.
            s.redis_url = Some("redis://127.0.0.1:1".into());
            s.tiers.insert(
                "free".into(),
                TierLimit {
                    requests_per_minute: 60,
                    burst: 2,
                },
            );
        },
        clock,
    )
    .await;
    let key = app.operator_key("default", "read", None).key;
    for remaining in ["1", "0"] {
        let response = app.me(&[("X-API-Key", &key)]).await;
        assert_eq!(response.status(), 200, "served: the limiter fails open");
        assert_eq!(header(&response, "ratelimit-remaining"), remaining);
    }
    assert_eq!(
        app.me(&[("X-API-Key", &key)]).await.status(),
        429,
        "still limited"
    );
}

#[actix_rt::test]
async fn a_clients_override_limits_the_tokens_it_gets() {
    let app = TestApp::spawn().await;
    let created: serde_json::Value = app
        .post_json(
            "/v1/clients",
            &app.admin_key,
            &serde_json::json!({
                "name": "automation",
                "scopes": ["read"],
                "audience": format!("{}/v1", crate::helpers::ISSUER),
                "rate_limit_per_minute": 1,
            }),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(created["rate_limit_per_minute"], 1);
    let client = TestClient::from_created(&created);
    let token = app.access_token(&client).await;
    let bearer = format!("Bearer {token}");
    let first = app.me(&[("Authorization", &bearer)]).await;
    assert_eq!(header(&first, "ratelimit-limit"), "1");
    assert_api_error(
        app.me(&[("Authorization", &bearer)]).await,
        429,
        "rate_limit_exceeded",
    )
    .await;

    let path = format!("/v1/clients/{}", client.id);
    for (body, status) in [
        (serde_json::json!({"rate_limit_per_minute": 0}), 400),
        (serde_json::json!({"rate_limit_per_minute": null}), 200),
    ] {
        let response = app.patch_json(&path, &app.admin_key, &body).await;
        assert_eq!(response.status().as_u16(), status, "{body}");
        if status == 200 {
            let updated: serde_json::Value = response.json().await.unwrap();
            assert!(updated["rate_limit_per_minute"].is_null());
        }
    }
}

#[actix_rt::test]
async fn a_limited_key_cannot_make_or_become_a_looser_one() {
    let app = TestApp::spawn().await;
    let TestKey {
        id: own_id,
        key: limited_admin,
    } = app.operator_key("default", "read admin", Some(50));
    let created: serde_json::Value = app
        .create_key_as(
            &limited_admin,
            serde_json::json!({"name": "child", "scopes": ["read"]}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        created["rate_limit_per_minute"], 50,
        "inherits the creator's limit"
    );
    let looser = app
        .create_key_as(
            &limited_admin,
            serde_json::json!({"name": "x", "scopes": ["read"], "rate_limit_per_minute": 500}),
        )
        .await;
    assert_api_error(looser, 400, "invalid_request").await;
    let freed = app
        .patch_json(
            &format!("/v1/api-keys/{own_id}"),
            &limited_admin,
            &serde_json::json!({"rate_limit_per_minute": null}),
        )
        .await;
    let shown: serde_json::Value = freed.json().await.unwrap();
    assert_eq!(
        shown["rate_limit_per_minute"], 50,
        "cannot lift its own limit"
    );
}

#[actix_rt::test]
async fn registration_counts_against_the_admin_credentials_limit() {
    let app = TestApp::spawn().await;
    let slow_admin = app.operator_key("default", "read admin", Some(1)).key;
    let register = || {
        app.http
            .post(app.url("/oauth/register"))
            .header("Authorization", format!("Bearer {slow_admin}"))
            .json(&serde_json::json!({"client_name": "x", "scope": "read"}))
            .send()
    };
    assert_eq!(register().await.unwrap().status(), 201);
    let response = register().await.unwrap();
    assert!(!header(&response, "retry-after").is_empty());
    crate::helpers::assert_oauth_error(response, 429, "rate_limit_exceeded").await;
}

#[actix_rt::test]
async fn parallel_guesses_reach_argon2_at_most_the_allowance() {
    let app = TestApp::spawn_with(|s| {
        s.auth_failures_per_minute = 5;
        s.auth_failures_per_minute_per_source = 1000;
    })
    .await;
    let victim = app.client_with_scope("read");
    let grant = [("grant_type", "client_credentials")];
    // A working client of the same organization, in the verified cache.
    let neighbour = app.client_with_scope("read");
    assert_eq!(app.token_basic(&neighbour, &grant).await.status(), 200);
    let guesses: Vec<_> = (0..64)
        .map(|n| {
            let (http, url) = (app.http.clone(), app.url("/oauth/token"));
            let auth = crate::helpers::basic_auth(&victim.id, &format!("kgs_guess{n}"));
            actix_web::rt::spawn(async move {
                let response = http
                    .post(url)
                    .header("Authorization", auth)
                    .form(&[("grant_type", "client_credentials")])
                    .send()
                    .await
                    .unwrap();
                let retry_after = header(&response, "retry-after");
                (response.status().as_u16(), retry_after)
            })
        })
        .collect();
    // Meanwhile the neighbour keeps working.
    for _ in 0..5 {
        assert_eq!(app.token_basic(&neighbour, &grant).await.status(), 200);
    }
    let (mut refused, mut throttled) = (0, 0);
    for guess in guesses {
        match guess.await.unwrap() {
            (401, _) => refused += 1,
            (429, retry_after) => {
                throttled += 1;
                assert!(retry_after.parse::<u64>().unwrap() >= 1, "{retry_after}");
            }
            other => panic!("unexpected answer {other:?}"),
        }
    }
    assert!(
        refused <= 5,
        "{refused} guesses reached argon2, allowance 5"
    );
    assert_eq!(refused + throttled, 64);
    // The real secret of the guessed client, never verified before, must wait too:
    // from this address the client id has used up its allowance.
    let response = app.token_basic(&victim, &grant).await;
    crate::helpers::assert_oauth_error(response, 429, "rate_limit_exceeded").await;
}

#[actix_rt::test]
async fn a_registration_update_guessing_the_secret_is_throttled() {
    let app = TestApp::spawn_with(|s| {
        s.auth_failures_per_minute = 3;
        s.auth_failures_per_minute_per_source = 1000;
    })
    .await;
    let response = app
        .register_as(
            Some(&app.admin_key),
            &serde_json::json!({"client_name": "guessed", "scope": "read"}),
        )
        .await;
    assert_eq!(response.status(), 201);
    let body: serde_json::Value = response.json().await.unwrap();
    let client_id = body["client_id"].as_str().unwrap().to_owned();
    let uri = app.url(&format!("/oauth/register/{client_id}"));
    let token = body["registration_access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut statuses = Vec::new();
    for n in 0..6 {
        let response = app
            .http
            .put(&uri)
            .header("Authorization", format!("Bearer {token}"))
            .json(&serde_json::json!({
                "client_id": client_id,
                "client_name": "guessed",
                "scope": "read",
                "client_secret": format!("kgs_guess{n}"),
            }))
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        if status == 429 {
            assert!(!header(&response, "retry-after").is_empty());
        }
        // A refused update leaves the registration token as it was.
        statuses.push(status);
    }
    assert_eq!(statuses, [400, 400, 400, 429, 429, 429], "{statuses:?}");
}
