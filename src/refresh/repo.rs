use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::model::{
    digest, new_id, Family, Lifetimes, NewFamily, NewToken, Owner, Refused, Rotated, TokenRow,
};
use crate::audit::{By, Change, Source, Target};
use crate::secret::Secret;
use crate::store::schema::{refresh_families, refresh_tokens};
use crate::store::{DbConn, StoreError};
use crate::tokens::TokenKind;

/// Starts a family for `owner` with `scope`, bound to `resource` when the grant named
/// one, with `token` (`generate_token`) as its first token, returned to be shown once.
pub fn create_family(
    conn: &mut DbConn,
    owner: Owner<'_>,
    scope: &str,
    resource: Option<&str>,
    now: NaiveDateTime,
    lifetimes: Lifetimes,
    token: Secret,
) -> Result<Secret, StoreError> {
    let family_id = new_id(TokenKind::RefreshFamilyId);
    let expires_at = now + lifetimes.absolute;
    conn.transaction(|c| {
        diesel::insert_into(refresh_families::table)
            .values(NewFamily {
                id: &family_id,
                client_id: owner.client_id,
                org_id: owner.org_id,
                scope,
                resource,
                created_at: now,
                expires_at,
            })
            .execute(c)?;
        insert_token(
            c,
            &new_id(TokenKind::RefreshTokenId),
            &family_id,
            &token,
            now,
            expires_at,
            lifetimes,
        )
    })?;
    Ok(token)
}

fn insert_token(
    conn: &mut DbConn,
    id: &str,
    family_id: &str,
    token: &Secret,
    now: NaiveDateTime,
    family_expires_at: NaiveDateTime,
    lifetimes: Lifetimes,
) -> QueryResult<()> {
    diesel::insert_into(refresh_tokens::table)
        .values(NewToken {
            id,
            family_id,
            token_hash: &digest(token.expose()),
            created_at: now,
            idle_expires_at: (now + lifetimes.idle).min(family_expires_at),
        })
        .execute(conn)
        .map(|_| ())
}

/// Spends `presented` and issues its successor, in one transaction after reading the
/// token's family (`find`).
///
/// The transaction's first statement is the conditional update `… SET spent_at = now
/// WHERE token_hash = ? AND spent_at IS NULL AND <family live and the client's>`: of any
/// number of concurrent calls with the same token exactly one sees an affected-row
/// count of 1, on SQLite (one writer) and PostgreSQL (row lock, then re-check) alike.
/// Starting with the write also means a SQLite transaction never has to upgrade a
/// read lock, which could fail with SQLITE_BUSY instead of waiting.
///
/// A spent token presented again revokes its family — unless `grace` is positive, the
/// token was spent less than `grace` ago and its successor was never used: then the
/// unused successor is spent in its place and a new one issued, so the family still
/// has exactly one live token (a retry after a lost response cannot fork it).
pub fn rotate(
    conn: &mut DbConn,
    presented: &str,
    client_id: &str,
    now: NaiveDateTime,
    lifetimes: Lifetimes,
    grace: chrono::Duration,
    successor: Secret,
) -> Result<Result<Rotated, Refused>, StoreError> {
    let Some((_, family)) = find(conn, presented)? else {
        return Ok(Err(Refused::Unknown));
    };
    let source = Source::default();
    let rotation = Rotation {
        now,
        lifetimes,
        grace,
        source: &source,
        successor,
    };
    rotate_in(conn, presented, &family, client_id, rotation)
}

/// `rotate` for a caller that has just read the token's family (`find`), as the token
/// endpoint has (to screen for reuse first): no second read.
pub fn rotate_known(
    conn: &mut DbConn,
    presented: &str,
    family: &Family,
    rotation: Rotation<'_>,
) -> Result<Result<Rotated, Refused>, StoreError> {
    rotate_in(conn, presented, family, &family.client_id, rotation)
}

/// The settings of one rotation.
pub struct Rotation<'s> {
    pub now: NaiveDateTime,
    pub lifetimes: Lifetimes,
    /// How long a just-spent token may come back as a retry (see `rotate`).
    pub grace: chrono::Duration,
    /// Where the request came from, for the audit event of a detected reuse.
    pub source: &'s Source,
    /// The token issued in the presented one's place (`generate_token`).
    pub successor: Secret,
}

fn rotate_in(
    conn: &mut DbConn,
    presented: &str,
    family: &Family,
    client_id: &str,
    rotation: Rotation<'_>,
) -> Result<Result<Rotated, Refused>, StoreError> {
    let (now, lifetimes) = (rotation.now, rotation.lifetimes);
    let hash = digest(presented);
    let successor_id = new_id(TokenKind::RefreshTokenId);
    let outcome = conn.transaction(|c| -> QueryResult<Result<Family, Refused>> {
        let decided = spend(c, &hash, family, client_id, &successor_id, &rotation)?;
        // Whichever way the presented token was spent, its successor is issued here.
        if let Ok(family) = &decided {
            insert_token(
                c,
                &successor_id,
                &family.id,
                &rotation.successor,
                now,
                family.expires_at,
                lifetimes,
            )?;
        }
        Ok(decided)
    })?;
    Ok(outcome.map(|family| Rotated {
        family,
        token: rotation.successor,
    }))
}

/// Spends the presented token in favour of `successor_id`, or says why not: the
/// decision half of `rotate_in`, inside its transaction.
fn spend(
    c: &mut DbConn,
    hash: &str,
    known_family: &Family,
    client_id: &str,
    successor_id: &str,
    rotation: &Rotation<'_>,
) -> QueryResult<Result<Family, Refused>> {
    let (now, grace) = (rotation.now, rotation.grace);
    // The affected-row count decides the winner: READ COMMITTED on PostgreSQL
    // (set per connection by the store), one writer at a time on SQLite.
    // By the family's id: SQLite materialises this subquery once per statement, and by
    // client alone it listed every live family of the client — one more with each
    // client_credentials call — so refreshes slowed down as they piled up (a
    // 10-minute soak showed it). By id it is one primary-key lookup.
    let live_families = refresh_families::table
        .select(refresh_families::id)
        .filter(refresh_families::id.eq(&known_family.id))
        .filter(refresh_families::client_id.eq(client_id))
        .filter(refresh_families::revoked_at.is_null())
        .filter(refresh_families::expires_at.gt(now));
    let spent = diesel::update(
        refresh_tokens::table
            .filter(refresh_tokens::token_hash.eq(hash))
            .filter(refresh_tokens::spent_at.is_null())
            .filter(refresh_tokens::idle_expires_at.gt(now))
            .filter(refresh_tokens::family_id.eq_any(live_families)),
    )
    .set((
        refresh_tokens::spent_at.eq(now),
        refresh_tokens::successor_id.eq(successor_id),
    ))
    .execute(c)?;
    if spent == 1 {
        // The update's filter re-checked that this family is live and the client's.
        return Ok(Ok(known_family.clone()));
    }
    let Some((token, family)) = find_by_hash(c, hash)? else {
        return Ok(Err(Refused::Unknown));
    };
    if family.client_id != client_id {
        return Ok(Err(Refused::OtherClient));
    }
    if family.revoked_at.is_some() {
        return Ok(Err(Refused::Revoked));
    }
    // Unspent, yet the update missed it: it has expired.
    let Some(spent_at) = token.spent_at else {
        return Ok(Err(Refused::Expired));
    };
    // Spent, expired or not: a retry within the grace interval, or reuse.
    if grace > chrono::Duration::zero() && now < spent_at + grace && family.expires_at > now {
        // Lock the presented token's row before its successor's: the conditional update
        // above may already hold it (PostgreSQL keeps the lock on a row it re-checked
        // after a concurrent update, even when the row no longer matched), and taking
        // the successor first deadlocked against another retry holding it. Then read
        // the successor again: a concurrent retry may have replaced it meanwhile.
        diesel::update(refresh_tokens::table.find(&token.id))
            .set(refresh_tokens::successor_id.eq(refresh_tokens::successor_id))
            .execute(c)?;
        let previous_successor: Option<String> = refresh_tokens::table
            .find(&token.id)
            .select(refresh_tokens::successor_id)
            .get_result(c)?;
        if let Some(previous_successor) = &previous_successor {
            let replaced = diesel::update(
                refresh_tokens::table
                    .filter(refresh_tokens::id.eq(previous_successor))
                    .filter(refresh_tokens::spent_at.is_null()),
            )
            // The superseded token gets no successor: it was never used, so a later
            // presentation of it has no grace and counts as reuse.
            .set((
                refresh_tokens::spent_at.eq(now),
                refresh_tokens::successor_id.eq(None::<String>),
            ))
            .execute(c)?;
            if replaced == 1 {
                diesel::update(refresh_tokens::table.find(&token.id))
                    .set(refresh_tokens::successor_id.eq(successor_id))
                    .execute(c)?;
                return Ok(Ok(family));
            }
        }
    }
    revoke_family(c, &family.id, now, REUSE_DETECTED, rotation.source)?;
    Ok(Err(Refused::ReuseDetected))
}

/// What `screen` found.
#[derive(Debug, PartialEq, Eq)]
pub enum Screening {
    /// Go on to the rotation, which decides atomically.
    Pass,
    Refuse(Refused),
    /// A spent token presented again: revoke this family (a write, so the caller
    /// does it in its writer turn) and refuse.
    Reused {
        family_id: String,
    },
}

/// Checks a presented token before oxide-auth validates the request's scope, so that a
/// spent token is detected as reuse whatever else the request asks for. Reads only.
/// A token of another client passes: the grant then refuses it without touching that
/// client's family.
/// `found` is the token's row and family as `find` returned them.
pub fn screen(
    conn: &mut DbConn,
    found: (&TokenRow, &Family),
    client_id: &str,
    now: NaiveDateTime,
    grace: chrono::Duration,
) -> Result<Screening, StoreError> {
    let (token, family) = found;
    if family.client_id != client_id {
        return Ok(Screening::Pass);
    }
    if family.revoked_at.is_some() {
        return Ok(Screening::Refuse(Refused::Revoked));
    }
    if let Some(spent_at) = token.spent_at {
        let retry_possible = grace > chrono::Duration::zero()
            && now < spent_at + grace
            && family.expires_at > now
            && match &token.successor_id {
                Some(successor) => refresh_tokens::table
                    .find(successor)
                    .select(refresh_tokens::spent_at)
                    .get_result::<Option<NaiveDateTime>>(conn)
                    .optional()?
                    .is_some_and(|spent| spent.is_none()),
                None => false,
            };
        if retry_possible {
            return Ok(Screening::Pass);
        }
        return Ok(Screening::Reused {
            family_id: family.id.clone(),
        });
    }
    if !token.is_live(family, now) {
        return Ok(Screening::Refuse(Refused::Expired));
    }
    Ok(Screening::Pass)
}

fn find_by_hash(conn: &mut DbConn, hash: &str) -> QueryResult<Option<(TokenRow, Family)>> {
    refresh_tokens::table
        .inner_join(refresh_families::table)
        .filter(refresh_tokens::token_hash.eq(hash))
        .select((TokenRow::as_select(), Family::as_select()))
        .get_result(conn)
        .optional()
}

/// The stored token and its family, live or not.
pub fn find(conn: &mut DbConn, presented: &str) -> QueryResult<Option<(TokenRow, Family)>> {
    find_by_hash(conn, &digest(presented))
}

/// Revokes the family (once; the first reason stays), and records a reuse in the
/// audit log in the same transaction (a savepoint when the caller has one open).
pub fn revoke_family(
    conn: &mut DbConn,
    family_id: &str,
    now: NaiveDateTime,
    reason: &str,
    source: &Source,
) -> QueryResult<bool> {
    conn.transaction(|conn| {
        let updated = diesel::update(
            refresh_families::table
                .filter(refresh_families::id.eq(family_id))
                .filter(refresh_families::revoked_at.is_null()),
        )
        .set((
            refresh_families::revoked_at.eq(now),
            refresh_families::revoked_reason.eq(reason),
        ))
        .execute(conn)?;
        if updated == 1 && reason == REUSE_DETECTED {
            record_reuse(conn, family_id, now, source)?;
        }
        Ok(updated == 1)
    })
}

/// `revoked_reason` of a family revoked because a spent token came back.
pub const REUSE_DETECTED: &str = "reuse_detected";

/// The audit event for a reuse: on the connection (and in the transaction) of the
/// revocation. The actor is the client that presented the spent token.
fn record_reuse(
    conn: &mut DbConn,
    family_id: &str,
    now: NaiveDateTime,
    source: &Source,
) -> QueryResult<()> {
    let family: Family = refresh_families::table
        .find(family_id)
        .select(Family::as_select())
        .get_result(conn)?;
    let actor = format!("client:{}", family.client_id);
    let target = Target {
        org_id: &family.org_id,
        id: &family.id,
    };
    let change = Change::RefreshTokenReuseDetected {
        client_id: &family.client_id,
    };
    crate::audit::repo::record(conn, target, By::new(&actor, source), change, now)
}

/// Every live family of the client, e.g. when it is disabled.
pub fn revoke_client_families(
    conn: &mut DbConn,
    client_id: &str,
    now: NaiveDateTime,
    reason: &str,
) -> QueryResult<usize> {
    diesel::update(
        refresh_families::table
            .filter(refresh_families::client_id.eq(client_id))
            .filter(refresh_families::revoked_at.is_null()),
    )
    .set((
        refresh_families::revoked_at.eq(now),
        refresh_families::revoked_reason.eq(reason),
    ))
    .execute(conn)
}

/// Live tokens of a family (for tests and consistency checks: never more than one).
pub fn live_tokens(conn: &mut DbConn, family_id: &str, now: NaiveDateTime) -> QueryResult<i64> {
    refresh_tokens::table
        .filter(refresh_tokens::family_id.eq(family_id))
        .filter(refresh_tokens::spent_at.is_null())
        .filter(refresh_tokens::idle_expires_at.gt(now))
        .count()
        .get_result(conn)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clients::model::{ClientId, ClientRegistration};
    use crate::clients::Client;
    use crate::refresh::generate_token;
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
        .validate(org.id(), &known, std::time::Duration::from_secs(3600))
        .unwrap()
        .into_new_client(ClientId::generate(), "h".into(), now);
        crate::clients::repo::create(conn, &new).unwrap()
    }

    fn owner(client: &Client) -> Owner<'_> {
        Owner {
            client_id: &client.id,
            org_id: &client.org_id,
        }
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
        let first = create_family(&mut conn, owner(&c), "read", None, now, lifetimes(), fresh()).unwrap();
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
                "kgc_other",
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

        let third = create_family(&mut conn, owner(&c), "read", None, now, lifetimes(), fresh()).unwrap();
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
            let mut conn = DbConn::Sqlite(
                diesel::SqliteConnection::establish(path.to_str().unwrap()).unwrap(),
            );
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
            let token =
                create_family(&mut setup, owner(&c), "read", None, now, lifetimes(), fresh()).unwrap();
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
        let first = create_family(&mut conn, owner(&c), "read", None, now, lifetimes(), fresh()).unwrap();
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
                let first = create_family(&mut conn, owner(&c), "read", None, now, lifetimes, fresh()).unwrap();
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
}
