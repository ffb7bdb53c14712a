//! The repo's tests on SQLite: rotation, reuse and revocation, racing connections,
//! grace retries, and a model of one family checked against the real rotation
//! (`state_machine`, its shrunk failures kept in `proptest-regressions/`).

use super::*;
use crate::clients::model::ClientRegistration;
use crate::clients::Client;
use crate::ids::ClientId;
use crate::refresh::{generate_token, FirstToken, Refused};
use crate::store::test_support::memory_conn;
use diesel::connection::SimpleConnection;

fn lifetimes() -> Lifetimes {
    Lifetimes {
        absolute: chrono::Duration::days(30),
        idle: chrono::Duration::days(7),
    }
}

fn client(conn: &mut DbConn) -> Client {
    let now = chrono::Utc::now().naive_utc();
    let (org, _) = crate::orgs::repo::ensure_default(conn, now).unwrap();
    let known = crate::scope::ScopeSet::parse("read").unwrap();
    let new = ClientRegistration {
        name: "c".into(),
        scope: "read".into(),
        grant_types: vec!["client_credentials".into(), "refresh_token".into()],
        ..Default::default()
    }
    .validate(org.id.clone(), &known, std::time::Duration::from_secs(3600))
    .unwrap()
    .into_new_client(ClientId::generate(), "h".into(), now);
    crate::clients::repo::create(conn, &new).unwrap()
}

fn owner(client: &Client) -> Owner<'_> {
    Owner {
        client_id: &client.id,
        org_id: &client.org_id,
        user_id: None,
    }
}

/// A new family's id and first token (in production the grant generates them).
fn first_token() -> FirstToken {
    FirstToken::generate().unwrap()
}

/// A new token to issue (in production the grant generates it).
fn fresh() -> Secret {
    generate_token().unwrap()
}

#[test]
fn rotation_reuse_and_revocation() {
    let mut conn = memory_conn();
    let c = client(&mut conn);
    let now = chrono::Utc::now().naive_utc();
    let first = create_family(
        &mut conn,
        owner(&c),
        "read",
        None,
        now,
        lifetimes(),
        first_token(),
    )
    .unwrap()
    .1;
    let zero = chrono::Duration::zero();
    let second = rotate(
        &mut conn,
        first.expose(),
        &c.id,
        now,
        lifetimes(),
        zero,
        fresh(),
    )
    .unwrap()
    .unwrap()
    .token;
    assert_eq!(
        rotate(
            &mut conn,
            first.expose(),
            &ClientId::from("kgc_other"),
            now,
            lifetimes(),
            zero,
            fresh(),
        )
        .unwrap()
        .unwrap_err(),
        Refused::OtherClient
    );
    assert_eq!(
        rotate(
            &mut conn,
            first.expose(),
            &c.id,
            now,
            lifetimes(),
            zero,
            fresh()
        )
        .unwrap()
        .unwrap_err(),
        Refused::ReuseDetected
    );
    assert_eq!(
        rotate(
            &mut conn,
            second.expose(),
            &c.id,
            now,
            lifetimes(),
            zero,
            fresh()
        )
        .unwrap()
        .unwrap_err(),
        Refused::Revoked
    );
    assert_eq!(
        rotate(
            &mut conn,
            "kgr_nope",
            &c.id,
            now,
            lifetimes(),
            zero,
            fresh()
        )
        .unwrap()
        .unwrap_err(),
        Refused::Unknown
    );

    let third = create_family(
        &mut conn,
        owner(&c),
        "read",
        None,
        now,
        lifetimes(),
        first_token(),
    )
    .unwrap()
    .1;
    revoke_client_families(&mut conn, &c.id, now, "client_disabled").unwrap();
    assert_eq!(
        rotate(
            &mut conn,
            third.expose(),
            &c.id,
            now,
            lifetimes(),
            zero,
            fresh()
        )
        .unwrap()
        .unwrap_err(),
        Refused::Revoked
    );
}

/// Without keygate's in-process writer lock, separate connections racing on one
/// token still produce exactly one winner: the database decides.
#[test]
fn separate_connections_racing_on_one_token_have_one_winner() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("race.db");
    let open = || {
        let mut conn =
            DbConn::Sqlite(diesel::SqliteConnection::establish(path.to_str().unwrap()).unwrap());
        conn.batch_execute(
            "PRAGMA journal_mode = WAL; PRAGMA busy_timeout = 10000; PRAGMA foreign_keys = ON;",
        )
        .unwrap();
        conn
    };
    let mut setup = open();
    crate::store::run_migrations(&mut setup).unwrap();
    let c = client(&mut setup);
    let now = chrono::Utc::now().naive_utc();
    for _round in 0..5 {
        let token = create_family(
            &mut setup,
            owner(&c),
            "read",
            None,
            now,
            lifetimes(),
            first_token(),
        )
        .unwrap()
        .1;
        let presented = token.expose().to_owned();
        let winners: usize = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..6)
                .map(|_| {
                    let (presented, client_id) = (presented.clone(), c.id.clone());
                    scope.spawn(move || {
                        let mut conn = open();
                        rotate(
                            &mut conn,
                            &presented,
                            &client_id,
                            now,
                            lifetimes(),
                            chrono::Duration::zero(),
                            fresh(),
                        )
                        .unwrap()
                        .is_ok() as usize
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).sum()
        });
        assert_eq!(winners, 1);
    }
}

#[test]
fn a_grace_retry_replaces_the_unused_successor_once() {
    let mut conn = memory_conn();
    let c = client(&mut conn);
    let now = chrono::Utc::now().naive_utc();
    let grace = chrono::Duration::seconds(30);
    let first = create_family(
        &mut conn,
        owner(&c),
        "read",
        None,
        now,
        lifetimes(),
        first_token(),
    )
    .unwrap()
    .1;
    let lost = rotate(
        &mut conn,
        first.expose(),
        &c.id,
        now,
        lifetimes(),
        grace,
        fresh(),
    )
    .unwrap()
    .unwrap();
    let retried = rotate(
        &mut conn,
        first.expose(),
        &c.id,
        now,
        lifetimes(),
        grace,
        fresh(),
    )
    .unwrap()
    .unwrap();
    assert_eq!(live_tokens(&mut conn, &lost.family.id, now).unwrap(), 1);
    // The superseded successor is dead and counts as reuse.
    assert_eq!(
        rotate(
            &mut conn,
            lost.token.expose(),
            &c.id,
            now,
            lifetimes(),
            grace,
            fresh(),
        )
        .unwrap()
        .unwrap_err(),
        Refused::ReuseDetected
    );
    assert_eq!(
        rotate(
            &mut conn,
            retried.token.expose(),
            &c.id,
            now,
            lifetimes(),
            grace,
            fresh(),
        )
        .unwrap()
        .unwrap_err(),
        Refused::Revoked
    );
}

/// A model of one family, checked against the real rotation on SQLite over
/// generated sequences of presentations (of the live token, of spent ones, of
/// retries inside and outside the grace interval), revocations and clock moves.
mod state_machine {
    use super::*;
    use proptest::collection::vec;
    use proptest::prelude::*;

    #[derive(Clone, Debug)]
    enum Step {
        /// Present the token issued `back` issues before the newest one.
        Present {
            back: usize,
        },
        Revoke,
        Advance {
            seconds: i64,
        },
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            6 => (0usize..4).prop_map(|back| Step::Present { back }),
            1 => Just(Step::Revoke),
            3 => (0i64..90).prop_map(|seconds| Step::Advance { seconds }),
        ]
    }

    struct ModelToken {
        secret: Secret,
        idle_expires_at: NaiveDateTime,
        spent_at: Option<NaiveDateTime>,
        /// Index of the token issued when this one was spent.
        successor: Option<usize>,
    }

    fn short_lifetimes() -> Lifetimes {
        Lifetimes {
            absolute: chrono::Duration::seconds(600),
            idle: chrono::Duration::seconds(120),
        }
    }

    /// What `rotate` must answer, by the rules its documentation states.
    fn expected(
        tokens: &[ModelToken],
        index: usize,
        revoked: bool,
        family_expires_at: NaiveDateTime,
        now: NaiveDateTime,
        grace: chrono::Duration,
    ) -> Result<(), Refused> {
        let token = &tokens[index];
        if revoked {
            return Err(Refused::Revoked);
        }
        match token.spent_at {
            None if token.idle_expires_at > now && family_expires_at > now => Ok(()),
            None => Err(Refused::Expired),
            Some(spent_at) => {
                let retry = grace > chrono::Duration::zero()
                    && now < spent_at + grace
                    && family_expires_at > now
                    && token
                        .successor
                        .is_some_and(|s| tokens[s].spent_at.is_none());
                if retry {
                    Ok(())
                } else {
                    Err(Refused::ReuseDetected)
                }
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(96))]

        #[test]
        fn the_family_follows_its_model(
            steps in vec(step(), 1..40),
            grace_seconds in prop_oneof![Just(0i64), Just(20i64)],
        ) {
            let mut conn = memory_conn();
            let c = client(&mut conn);
            let grace = chrono::Duration::seconds(grace_seconds);
            let lifetimes = short_lifetimes();
            let start = chrono::DateTime::from_timestamp(1_800_000_000, 0)
                .unwrap()
                .naive_utc();
            let mut now = start;
            let first = create_family(&mut conn, owner(&c), "read", None, now, lifetimes, first_token()).unwrap().1;
            let family_expires_at = start + lifetimes.absolute;
            let mut tokens = vec![ModelToken {
                secret: first,
                idle_expires_at: now + lifetimes.idle,
                spent_at: None,
                successor: None,
            }];
            let mut revoked = false;
            let family_id = find(&mut conn, tokens[0].secret.expose())
                .unwrap()
                .unwrap()
                .1
                .id;

            for step in steps {
                match step {
                    Step::Advance { seconds } => now += chrono::Duration::seconds(seconds),
                    Step::Revoke => {
                        revoke_family(&mut conn, &family_id, now, "revoked_by_client", &Source::default()).unwrap();
                        revoked = true;
                    }
                    Step::Present { back } => {
                        let index = tokens.len() - 1 - back.min(tokens.len() - 1);
                        let want = expected(&tokens, index, revoked, family_expires_at, now, grace);
                        // The token endpoint screens a token before rotating it
                        // (`screen`, read-only): it must foresee the same answer.
                        let (row, family) = find(&mut conn, tokens[index].secret.expose())
                            .unwrap()
                            .unwrap();
                        let screened = match screen(&mut conn, (&row, &family), &c.id, now, grace)
                            .unwrap()
                        {
                            Screening::Pass => Ok(()),
                            Screening::Refuse(refused) => Err(refused),
                            Screening::Reused { .. } => Err(Refused::ReuseDetected),
                        };
                        prop_assert_eq!(screened, want);
                        let got = rotate(
                            &mut conn,
                            tokens[index].secret.expose(),
                            &c.id,
                            now,
                            lifetimes,
                            grace,
                            fresh(),
                        )
                        .unwrap();
                        prop_assert_eq!(got.as_ref().map(|_| ()).map_err(|r| *r), want);
                        match got {
                            Ok(rotated) => {
                                // A grace retry spends the unused successor instead.
                                if let Some(previous) = tokens[index].successor {
                                    tokens[previous].spent_at = Some(now);
                                    tokens[previous].successor = None;
                                }
                                // A grace retry keeps the first spend's time: the
                                // interval counts from it, however often it is retried.
                                tokens[index].spent_at.get_or_insert(now);
                                tokens[index].successor = Some(tokens.len());
                                tokens.push(ModelToken {
                                    secret: rotated.token,
                                    idle_expires_at: (now + lifetimes.idle).min(family_expires_at),
                                    spent_at: None,
                                    successor: None,
                                });
                            }
                            Err(Refused::ReuseDetected) => revoked = true,
                            Err(_) => {}
                        }
                    }
                }
                // Never two live tokens; none at all once the family is revoked.
                let live = live_tokens(&mut conn, &family_id, now).unwrap();
                prop_assert!(live <= 1, "{live} live tokens");
                let usable = tokens
                    .iter()
                    .filter_map(|t| find(&mut conn, t.secret.expose()).unwrap())
                    .filter(|(row, family)| row.is_live(family, now))
                    .count();
                prop_assert!(usable <= 1);
                if revoked {
                    prop_assert_eq!(usable, 0);
                }
            }
        }
    }
}
