//! Races, many rounds each, on whichever backend the run uses: storms of parallel
//! refreshes of one token, refreshes racing a revocation, and API keys used while they
//! are rotated or revoked. What must never happen: two live tokens in a family, a
//! revoked family with a usable token, a key that works after its revocation returned,
//! or an answer other than the documented ones (no 500 under contention).

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures_util::future::{join, join_all};
use reqwest::Method;

use crate::helpers::{db, TestApp, TestKey};

const ROUNDS: usize = 15;
const PARALLEL: usize = 12;

async fn storm_app() -> TestApp {
    // Limits off: the storms are about consistency, not about being throttled.
    TestApp::spawn_with(|s| {
        s.rate_limits = false;
        s.database_max_connections = 8;
    })
    .await
}

/// How many of `tokens` the database would accept now (live token, live family).
fn usable(app: &TestApp, tokens: &[String]) -> usize {
    db::live_refresh_tokens(&app.store, tokens, chrono::Utc::now().naive_utc())
}

/// Splits storm answers into the refresh tokens of the 200s; anything but 200 or
/// invalid_grant fails the test.
fn successors(answers: Vec<(u16, serde_json::Value)>) -> Vec<String> {
    answers
        .into_iter()
        .filter_map(|(status, body)| match (status, body["error"].as_str()) {
            (200, None) => Some(body["refresh_token"].as_str().unwrap().to_owned()),
            (400, Some("invalid_grant")) => None,
            other => panic!("unexpected answer under contention: {other:?} {body}"),
        })
        .collect()
}

async fn refresh_storm(with_grace: bool) {
    let app = storm_app().await;
    let grace = with_grace.then(|| Duration::from_secs(30));
    let client = app.refresh_client("read", grace);
    let (_, mut token) = app.first_tokens(&client).await;
    let mut forks_seen = 0;
    for _round in 0..ROUNDS {
        let answers = join_all((0..PARALLEL).map(|_| app.refreshed(&client, &token))).await;
        let mut presented = successors(answers);
        presented.push(token.clone());
        // Whatever the interleaving: at most one token of the family is usable.
        let live = usable(&app, &presented);
        assert!(live <= 1, "{live} usable tokens after one storm");
        forks_seen += usize::from(presented.len() > 2);
        // Carry on with the survivor, or start a new family if reuse ended this one.
        token = match presented
            .iter()
            .find(|t| usable(&app, &[(*t).clone()]) == 1)
        {
            Some(survivor) => survivor.clone(),
            None => app.first_tokens(&client).await.1,
        };
    }
    if !with_grace {
        // Without grace every parallel presentation after the first is reuse.
        assert_eq!(forks_seen, 0, "more than one 200 for one token");
    }
}

#[actix_rt::test]
async fn refresh_storms_never_leave_two_live_tokens() {
    refresh_storm(false).await;
}

#[actix_rt::test]
async fn refresh_storms_with_a_grace_interval_never_leave_two_live_tokens() {
    refresh_storm(true).await;
}

#[actix_rt::test]
async fn a_revocation_racing_refreshes_leaves_no_usable_token() {
    let app = storm_app().await;
    let client = app.refresh_client("read", Some(Duration::from_secs(30)));
    for _round in 0..ROUNDS {
        let (_, token) = app.first_tokens(&client).await;
        let revoke = app.revoke(&client, &token, None);
        let refreshes = join_all((0..PARALLEL / 2).map(|_| app.refreshed(&client, &token)));
        let ((), answers) = join(revoke, refreshes).await;
        let mut tokens = successors(answers);
        tokens.push(token.clone());
        // The revocation returned: nothing of the family works, whoever won.
        assert_eq!(
            usable(&app, &tokens),
            0,
            "a revoked family kept a live token"
        );
        for successor in &tokens {
            let (status, body) = app.refreshed(&client, successor).await;
            assert_eq!(
                (status, body["error"].as_str()),
                (400, Some("invalid_grant"))
            );
        }
    }
}

/// Hammers GET /v1/me with `key` until `stop`; every request sent after `ended` was
/// set must be refused. Returns (accepted, refused).
async fn use_key_until(
    app: &TestApp,
    key: &str,
    ended: &AtomicBool,
    stop: &AtomicBool,
) -> (usize, usize) {
    let (mut accepted, mut refused) = (0, 0);
    while !stop.load(Ordering::SeqCst) {
        let sent_after_end = ended.load(Ordering::SeqCst);
        let status = app.me(&[("X-API-Key", key)]).await.status().as_u16();
        match status {
            200 => {
                assert!(!sent_after_end, "the key worked after its end returned");
                accepted += 1;
            }
            401 => refused += 1,
            other => panic!("unexpected status {other} while the key changed"),
        }
    }
    (accepted, refused)
}

/// Runs users of `key` while `end` (a revocation or rotation) happens, then checks
/// that none succeeded once the key had ended. `end` gets the flag to raise the
/// moment an answer says the key has ended (a rotation raises it at its 201, before
/// the other parallel rotations return).
async fn end_while_in_use<F, Fut>(app: &TestApp, key: &str, end: F)
where
    F: FnOnce(&'static AtomicBool) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    // Leaked so that `end`'s future may borrow it for as long as it likes; one small
    // allocation per round of a test.
    let ended: &'static AtomicBool = Box::leak(Box::new(AtomicBool::new(false)));
    let stop = AtomicBool::new(false);
    let users = join_all((0..4).map(|_| use_key_until(app, key, ended, &stop)));
    let control = async {
        actix_rt::time::sleep(Duration::from_millis(30)).await;
        end(ended).await;
        ended.store(true, Ordering::SeqCst);
        actix_rt::time::sleep(Duration::from_millis(60)).await;
        stop.store(true, Ordering::SeqCst);
    };
    let (outcomes, ()) = join(users, control).await;
    let refused: usize = outcomes.iter().map(|(_, r)| r).sum();
    assert!(refused > 0, "no request ran after the key ended");
}

#[actix_rt::test]
async fn a_key_never_works_after_its_revocation_returned() {
    let app = storm_app().await;
    for _round in 0..ROUNDS {
        let TestKey { id, key } = app.api_key("read").await;
        end_while_in_use(&app, &key, |_| async {
            let response = app
                .send(
                    Method::DELETE,
                    &format!("/v1/api-keys/{id}"),
                    &app.admin_key,
                )
                .await;
            assert!(response.status().is_success(), "{}", response.status());
        })
        .await;
    }
}

#[actix_rt::test]
async fn parallel_rotations_make_one_successor_and_end_the_old_key() {
    let app = storm_app().await;
    for _round in 0..ROUNDS {
        let TestKey { id, key } = app.api_key("read").await;
        let (app, id) = (&app, &id);
        let rotate = move |ended: &'static AtomicBool| async move {
            let response = app
                .send(
                    Method::POST,
                    &format!("/v1/api-keys/{id}/rotate"),
                    &app.admin_key,
                )
                .await;
            let status = response.status().as_u16();
            if status == 201 {
                // Rotation without overlap: the old key has ended as of this answer.
                ended.store(true, Ordering::SeqCst);
            }
            (status, response.json::<serde_json::Value>().await.unwrap())
        };
        let mut successor = None;
        let found = &mut successor;
        end_while_in_use(app, &key, |ended| async move {
            let answers = join_all((0..PARALLEL / 2).map(|_| rotate(ended))).await;
            let mut created = answers
                .into_iter()
                .filter_map(|(status, body)| match status {
                    201 => Some(body["key"].as_str().unwrap().to_owned()),
                    409 => None,
                    other => panic!("unexpected rotate answer {other}: {body}"),
                });
            *found = created.next();
            assert!(found.is_some(), "no rotation succeeded");
            assert_eq!(created.count(), 0, "two successors for one key");
        })
        .await;
        let successor = successor.unwrap();
        assert_eq!(app.me(&[("X-API-Key", &successor)]).await.status(), 200);
    }
}
