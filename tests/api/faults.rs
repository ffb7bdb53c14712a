//! The database going away under load: keygate answers 503 with a JSON body while
//! PostgreSQL refuses it, within a bounded time, and recovers by itself — with no
//! refresh family left half-rotated. (Process crashes and an unwritable SQLite file are
//! in binary.rs: they need the real binary.)

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use diesel::RunQueryDsl;
use futures_util::future::{join, join_all};

use crate::helpers::{basic_auth, DatabaseSwitch, TestApp, TestClient};

/// Families that are neither revoked nor expired but do not have exactly one live
/// token (unspent, within its idle lifetime): two would be a fork, none a
/// half-rotated family (a token spent without its successor). Always zero.
pub fn families_without_exactly_one_live_token(store: &keygate::store::Store) -> i64 {
    #[derive(diesel::QueryableByName)]
    struct Count {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let now = chrono::Utc::now().naive_utc();
    store
        .with_conn(|c| {
            diesel::sql_query(
                "SELECT COUNT(*) AS n FROM refresh_families f \
                 WHERE f.revoked_at IS NULL AND f.expires_at > $1 \
                   AND (SELECT COUNT(*) FROM refresh_tokens t \
                        WHERE t.family_id = f.id AND t.spent_at IS NULL \
                          AND t.idle_expires_at > $1) <> 1",
            )
            .bind::<diesel::sql_types::Timestamp, _>(now)
            .get_result::<Count>(c)
            .map_err(keygate::store::StoreError::from)
        })
        .unwrap()
        .n
}

#[derive(Default)]
struct Tally {
    ok: usize,
    unavailable: usize,
    ok_after_recovery: usize,
    slowest: Duration,
    /// Slowest answer once a checkout had failed (a 503 after the connection
    /// timeout), while the database stayed down.
    slowest_once_down: Duration,
    answers_once_down: usize,
}

/// One refresh chain, kept going until `stop`: a 503 retries the same token (the
/// client's grace interval makes a retry safe when the commit's answer was lost).
async fn chain(
    app: &TestApp,
    client: &TestClient,
    recovered: &AtomicBool,
    stop: &AtomicBool,
) -> Tally {
    let mut tally = Tally::default();
    let mut token: Option<String> = None;
    let mut known_down = false;
    while !stop.load(Ordering::SeqCst) {
        let form: Vec<(&str, &str)> = match &token {
            Some(t) => vec![("grant_type", "refresh_token"), ("refresh_token", t)],
            None => vec![("grant_type", "client_credentials")],
        };
        let after_recovery = recovered.load(Ordering::SeqCst);
        let started = Instant::now();
        let response = app
            .http
            .post(app.url("/oauth/token"))
            .header("Authorization", basic_auth(&client.id, &client.secret))
            .form(&form)
            .send()
            .await
            .unwrap();
        let elapsed = started.elapsed();
        tally.slowest = tally.slowest.max(elapsed);
        if known_down && !after_recovery {
            tally.slowest_once_down = tally.slowest_once_down.max(elapsed);
            tally.answers_once_down += 1;
        }
        let status = response.status().as_u16();
        let body: serde_json::Value = response.json().await.expect("a JSON body, always");
        match (status, body["error"].as_str()) {
            (200, None) => {
                token = Some(body["refresh_token"].as_str().unwrap().to_owned());
                tally.ok += 1;
                tally.ok_after_recovery += usize::from(after_recovery);
            }
            (503, Some("temporarily_unavailable")) => {
                tally.unavailable += 1;
                // A checkout that waited out the connection timeout: from now on
                // keygate knows the database is down.
                known_down |= elapsed > Duration::from_secs(2);
                actix_rt::time::sleep(Duration::from_millis(50)).await;
            }
            other => panic!("unexpected answer while the database came and went: {other:?}"),
        }
    }
    tally
}

/// PostgreSQL only: a SQLite file cannot go away under a running process. The
/// database is made to refuse keygate (every connection killed, new ones refused) —
/// what a stopped server looks like to keygate — rather than the shared server being
/// stopped, which would fail every other test running beside this one.
#[actix_rt::test]
async fn postgres_going_away_under_load_gives_503_and_recovers_by_itself() {
    let Ok(admin_url) = std::env::var("KEYGATE_TEST_DATABASE_URL") else {
        eprintln!("PostgreSQL only: an embedded SQLite database cannot go away");
        return;
    };
    let app = TestApp::spawn_with(|s| s.rate_limits = false).await;
    let client = app.refresh_client("read", Some(Duration::from_secs(30)));
    let mut database = DatabaseSwitch::new(&admin_url, &app);
    let (recovered, stop) = (AtomicBool::new(false), AtomicBool::new(false));

    let load = join_all((0..6).map(|_| chain(&app, &client, &recovered, &stop)));
    let outage = async {
        actix_rt::time::sleep(Duration::from_millis(800)).await;
        database.refuse();
        // Longer than the 5 s connection timeout, so that answers come both while
        // keygate is finding out and once it knows.
        actix_rt::time::sleep(Duration::from_secs(8)).await;
        database.accept();
        recovered.store(true, Ordering::SeqCst);
        // Long enough for the pool to reconnect and every chain to go on.
        actix_rt::time::sleep(Duration::from_secs(4)).await;
        stop.store(true, Ordering::SeqCst);
    };
    let (tallies, ()) = join(load, outage).await;

    let unavailable: usize = tallies.iter().map(|t| t.unavailable).sum();
    assert!(unavailable > 0, "the outage was never noticed");
    let answers_once_down: usize = tallies.iter().map(|t| t.answers_once_down).sum();
    assert!(
        answers_once_down > 0,
        "no request came once the outage was known"
    );
    for tally in &tallies {
        assert!(tally.ok_after_recovery > 0, "a chain did not recover");
        // Bounded by the pool's connection timeout (5 s), not a hang...
        assert!(
            tally.slowest < Duration::from_secs(7),
            "{:?}",
            tally.slowest
        );
        // ...and once a checkout has failed, 503s come at once (250 ms), not after
        // another 5 s each.
        assert!(
            tally.slowest_once_down < Duration::from_secs(1),
            "{:?}",
            tally.slowest_once_down
        );
    }
    assert_eq!(families_without_exactly_one_live_token(&app.store), 0);
}
