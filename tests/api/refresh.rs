//! POST /oauth/token, grant_type=refresh_token: rotation, reuse detection, grace,
//! scope, expiry (an injected clock, no sleeping) and the 50-way race.

use std::sync::Arc;
use std::time::Duration;

use keygate::clock::ManualClock;

use crate::helpers::db::{family_of, live_tokens_of_family};
use crate::helpers::{assert_oauth_error, rotated, TestApp, ISSUER};

#[actix_web::test]
async fn only_clients_that_opt_in_get_refresh_tokens() {
    let app = TestApp::spawn().await;
    let plain = app.client_with_scope("read");
    let body: serde_json::Value = app.token_json(&plain).await;
    assert!(body.get("refresh_token").is_none());
    // And such a client may not use the grant at all.
    let response = app.refresh(&plain, "kgr_whatever", &[]).await;
    assert_oauth_error(response, 400, "unauthorized_client").await;

    let opted_in = app.refresh_client("read", None);
    let (_, refresh) = app.first_tokens(&opted_in).await;
    assert!(
        refresh.starts_with("kgr_") && refresh.len() >= 4 + 43,
        "{refresh}"
    );
}

#[actix_web::test]
async fn every_use_rotates_and_reuse_revokes_the_whole_family() {
    let app = TestApp::spawn().await;
    let client = app.refresh_client("read write", None);
    let (_, first) = app.first_tokens(&client).await;

    let (body, second) = rotated(app.refresh(&client, &first, &[]).await).await;
    assert_ne!(second, first);
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["scope"], "read write");
    let claims = app
        .verify(body["access_token"].as_str().unwrap(), ISSUER)
        .await;
    assert_eq!(claims["client_id"], client.id.as_str());
    // client_secret_post works for this grant too (oxide-auth's adapter takes only Basic).
    let form = [
        ("grant_type", "refresh_token"),
        ("refresh_token", second.as_str()),
    ];
    let (_, third) = rotated(app.token_post(&client, &form).await).await;

    // `first` is spent: presenting it again is reuse.
    let reuse = app.refresh(&client, &first, &[]).await;
    assert_oauth_error(reuse, 400, "invalid_grant").await;
    // ...and the family is gone: the newest token stops working too.
    let newest = app.refresh(&client, &third, &[]).await;
    assert_oauth_error(newest, 400, "invalid_grant").await;
    let family = family_of(&app.store, &third);
    assert!(family.revoked_at.is_some());
    assert_eq!(family.revoked_reason.as_deref(), Some("reuse_detected"));
}

#[actix_web::test]
async fn scope_may_narrow_but_not_widen_and_the_family_keeps_its_scope() {
    let app = TestApp::spawn().await;
    let client = app.refresh_client("read write", None);
    let (_, first) = app.first_tokens(&client).await;
    let (body, second) = rotated(app.refresh(&client, &first, &[("scope", "read")]).await).await;
    assert_eq!(body["scope"], "read");
    let wider = app
        .refresh(&client, &second, &[("scope", "read write admin")])
        .await;
    assert_oauth_error(wider, 400, "invalid_scope").await;
    // The refused request did not spend the token, and the new refresh token carries
    // the original scope (RFC 6749 §6).
    let (body, _) = rotated(app.refresh(&client, &second, &[]).await).await;
    assert_eq!(body["scope"], "read write");
}

#[actix_web::test]
async fn tokens_of_other_clients_and_garbage_are_invalid_grant() {
    let app = TestApp::spawn().await;
    let owner = app.refresh_client("read", None);
    let thief = app.refresh_client("read", None);
    let (_, token) = app.first_tokens(&owner).await;
    assert_oauth_error(app.refresh(&thief, &token, &[]).await, 400, "invalid_grant").await;
    // The owner's token still works: another client presenting it is not reuse.
    rotated(app.refresh(&owner, &token, &[]).await).await;

    for garbage in [
        "kgr_",
        "kgr_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "not-a-token",
        &"x".repeat(4000),
    ] {
        assert_oauth_error(
            app.refresh(&owner, garbage, &[]).await,
            400,
            "invalid_grant",
        )
        .await;
    }
    let missing = app
        .token_basic(&owner, &[("grant_type", "refresh_token")])
        .await;
    assert_oauth_error(missing, 400, "invalid_request").await;
    // Client authentication still comes first.
    let wrong = owner.with_secret("kgs_wrong");
    assert_oauth_error(
        app.refresh(&wrong, &token, &[]).await,
        401,
        "invalid_client",
    )
    .await;
}

#[actix_web::test]
async fn idle_and_absolute_lifetimes_expire_tokens() {
    let clock = Arc::new(ManualClock::new(chrono::Utc::now()));
    let app = TestApp::spawn_with_clock(
        |s| {
            s.refresh_token_ttl = Duration::from_secs(10 * 24 * 3600);
            s.refresh_token_idle_ttl = Duration::from_secs(2 * 24 * 3600);
        },
        clock.clone(),
    )
    .await;
    let client = app.refresh_client("read", None);

    // Idle: unused for more than two days.
    let (_, idle) = app.first_tokens(&client).await;
    clock.advance(chrono::Duration::days(2) + chrono::Duration::seconds(1));
    assert_oauth_error(app.refresh(&client, &idle, &[]).await, 400, "invalid_grant").await;

    // Absolute: used every day, the family still ends ten days after the grant.
    let (_, mut token) = app.first_tokens(&client).await;
    for _ in 0..9 {
        clock.advance(chrono::Duration::days(1));
        token = rotated(app.refresh(&client, &token, &[]).await).await.1;
    }
    clock.advance(chrono::Duration::days(1));
    assert_oauth_error(
        app.refresh(&client, &token, &[]).await,
        400,
        "invalid_grant",
    )
    .await;
}

#[actix_web::test]
async fn a_retry_within_the_grace_interval_replaces_the_unused_successor() {
    let clock = Arc::new(ManualClock::new(chrono::Utc::now()));
    let app = TestApp::spawn_with_clock(|_| {}, clock.clone()).await;
    let client = app.refresh_client("read", Some(Duration::from_secs(30)));
    let (_, first) = app.first_tokens(&client).await;
    let (_, lost) = rotated(app.refresh(&client, &first, &[]).await).await;

    // The response carrying `lost` never arrived; the client retries with `first`.
    clock.advance(chrono::Duration::seconds(5));
    let (_, retried) = rotated(app.refresh(&client, &first, &[]).await).await;
    // No fork: the unused successor was spent in the retry's place, so the family
    // has exactly one live token, and it works.
    let family = family_of(&app.store, &retried);
    let live = live_tokens_of_family(&app.store, &family.id, clock_now(&clock));
    assert_eq!(live, 1);
    let (_, next) = rotated(app.refresh(&client, &retried, &[]).await).await;
    // The superseded token was never used; presenting it is reuse, grace or not.
    assert_oauth_error(app.refresh(&client, &lost, &[]).await, 400, "invalid_grant").await;
    assert_oauth_error(app.refresh(&client, &next, &[]).await, 400, "invalid_grant").await;
}

fn clock_now(clock: &ManualClock) -> chrono::NaiveDateTime {
    use keygate::clock::Clock;
    clock.now().naive_utc()
}

#[actix_web::test]
async fn outside_the_grace_interval_a_retry_is_reuse() {
    let clock = Arc::new(ManualClock::new(chrono::Utc::now()));
    let app = TestApp::spawn_with_clock(|_| {}, clock.clone()).await;
    let client = app.refresh_client("read", Some(Duration::from_secs(30)));
    let (_, first) = app.first_tokens(&client).await;
    let (_, second) = rotated(app.refresh(&client, &first, &[]).await).await;
    clock.advance(chrono::Duration::seconds(31));
    assert_oauth_error(
        app.refresh(&client, &first, &[]).await,
        400,
        "invalid_grant",
    )
    .await;
    assert_oauth_error(
        app.refresh(&client, &second, &[]).await,
        400,
        "invalid_grant",
    )
    .await;
    assert!(family_of(&app.store, &second).revoked_at.is_some());

    // Within the interval but after the successor was used: reuse as well.
    let (_, a) = app.first_tokens(&client).await;
    let (_, b) = rotated(app.refresh(&client, &a, &[]).await).await;
    let (_, c) = rotated(app.refresh(&client, &b, &[]).await).await;
    assert_oauth_error(app.refresh(&client, &a, &[]).await, 400, "invalid_grant").await;
    assert_oauth_error(app.refresh(&client, &c, &[]).await, 400, "invalid_grant").await;
}

#[actix_web::test]
async fn fifty_parallel_refreshes_of_one_token_have_exactly_one_winner() {
    let app = TestApp::spawn_with(|s| s.database_max_connections = 8).await;
    let client = app.refresh_client("read", None);
    let (_, token) = app.first_tokens(&client).await;
    let requests: Vec<_> = (0..50)
        .map(|_| {
            let (http, url) = (app.http.clone(), app.url("/oauth/token"));
            let auth = crate::helpers::basic_auth(&client.id, &client.secret);
            let token = token.clone();
            actix_web::rt::spawn(async move {
                let response = http
                    .post(url)
                    .header("Authorization", auth)
                    .form(&[
                        ("grant_type", "refresh_token"),
                        ("refresh_token", token.as_str()),
                    ])
                    .send()
                    .await
                    .unwrap();
                let status = response.status().as_u16();
                let body: serde_json::Value = response.json().await.unwrap();
                (status, body)
            })
        })
        .collect();
    let mut ok = 0;
    let mut invalid_grant = 0;
    for request in requests {
        let (status, body) = request.await.unwrap();
        match (status, body["error"].as_str()) {
            (200, None) => ok += 1,
            (400, Some("invalid_grant")) => invalid_grant += 1,
            other => panic!("unexpected outcome {other:?}"),
        }
    }
    assert_eq!((ok, invalid_grant), (1, 49));
    // Parallel use of one token is reuse: the family, winner's token included, is gone.
    assert!(family_of(&app.store, &token).revoked_at.is_some());
}

#[actix_web::test]
async fn a_spent_token_is_reuse_whatever_else_the_request_says() {
    let clock = Arc::new(ManualClock::new(chrono::Utc::now()));
    let app = TestApp::spawn_with_clock(
        |s| s.refresh_token_idle_ttl = Duration::from_secs(3600),
        clock.clone(),
    )
    .await;
    let client = app.refresh_client("read", None);

    // With a scope wider than the grant: still invalid_grant, and the family revoked.
    let (_, first) = app.first_tokens(&client).await;
    let (_, second) = rotated(app.refresh(&client, &first, &[]).await).await;
    let wider = app
        .refresh(&client, &first, &[("scope", "read write")])
        .await;
    assert_oauth_error(wider, 400, "invalid_grant").await;
    assert!(family_of(&app.store, &second).revoked_at.is_some());

    // Presented again after it would have expired anyway: still reuse.
    let (_, a) = app.first_tokens(&client).await;
    let (_, b) = rotated(app.refresh(&client, &a, &[]).await).await;
    clock.advance(chrono::Duration::hours(2));
    assert_oauth_error(app.refresh(&client, &a, &[]).await, 400, "invalid_grant").await;
    assert_eq!(
        family_of(&app.store, &b).revoked_reason.as_deref(),
        Some("reuse_detected")
    );
}

#[actix_web::test]
async fn disabling_a_client_revokes_its_families() {
    let app = TestApp::spawn().await;
    let client = app.refresh_client("read", None);
    let (_, token) = app.first_tokens(&client).await;
    app.disable(&client);
    let family = family_of(&app.store, &token);
    assert!(family.revoked_at.is_some());
    assert_eq!(family.revoked_reason.as_deref(), Some("client_disabled"));
    assert_oauth_error(
        app.refresh(&client, &token, &[]).await,
        401,
        "invalid_client",
    )
    .await;
}

/// PostgreSQL only (SQLite has a single writer, covered by the race tests): a rotation
/// blocked behind another transaction's spend of the same token must see that commit
/// and answer `invalid_grant` — not fail with a serialization error (500), even on a
/// server whose default isolation is SERIALIZABLE, because keygate's connections run
/// READ COMMITTED.
#[actix_web::test]
#[ignore = "needs PostgreSQL: KEYGATE_TEST_DATABASE_URL=… cargo test -- --include-ignored"]
async fn a_rotation_blocked_on_the_same_token_sees_the_commit_not_an_error() {
    use diesel::{Connection, RunQueryDsl};
    let app = TestApp::spawn_with(|settings| {
        if let keygate::store::DatabaseUrl::Postgres(url) = &settings.database_url {
            let mut conn = diesel::PgConnection::establish(url.expose()).unwrap();
            let url = url::Url::parse(url.expose()).unwrap();
            let name = url.path().trim_start_matches('/').to_owned();
            diesel::sql_query(format!(
                "ALTER DATABASE {name} SET default_transaction_isolation TO 'serializable'"
            ))
            .execute(&mut conn)
            .unwrap();
        }
    })
    .await;
    if crate::helpers::postgres_pass("SQLite has a single writer").is_none() {
        return;
    }
    let client = app.refresh_client("read", None);
    let (_, token) = app.first_tokens(&client).await;

    // Another transaction spends the token and holds its row lock for a while.
    let keygate::store::DatabaseUrl::Postgres(url) = &app.settings.database_url else {
        unreachable!("PostgreSQL only")
    };
    let url = url.expose().to_owned();
    let hash = crate::helpers::db::token_hash(&token);
    let (locked, wait_locked) = std::sync::mpsc::channel();
    let holder = std::thread::spawn(move || {
        let mut conn = diesel::PgConnection::establish(&url).unwrap();
        conn.transaction::<_, diesel::result::Error, _>(|c| {
            diesel::sql_query(format!(
                "UPDATE refresh_tokens SET spent_at = now() WHERE token_hash = '{hash}'"
            ))
            .execute(c)?;
            locked.send(()).unwrap();
            std::thread::sleep(Duration::from_millis(700));
            Ok(())
        })
        .unwrap();
    });
    wait_locked.recv().unwrap();
    let response = app.refresh(&client, &token, &[]).await;
    holder.join().unwrap();
    assert_oauth_error(response, 400, "invalid_grant").await;
}
