use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::upsert::excluded;

use std::collections::HashMap;

use super::counts::{minute_start, CounterKey, TokenCounterKey};
use crate::ids::{ClientId, OrgId};
use crate::store::schema::{clients, token_counters, usage_counters};
use crate::store::DbConn;

#[derive(Insertable)]
#[diesel(table_name = usage_counters)]
struct NewCounter<'a> {
    subject_id: &'a str,
    minute: NaiveDateTime,
    status_class: &'a str,
    org_id: &'a str,
    requests: i64,
}

#[derive(Insertable)]
#[diesel(table_name = token_counters)]
struct NewTokenCounter<'a> {
    client_id: &'a str,
    minute: NaiveDateTime,
    outcome: &'a str,
    org_id: &'a str,
    requests: i64,
}

/// Adds `counts` and the token-endpoint `tokens` to the stored counters, in one
/// transaction. A token count is stored under its client's organization; one for a
/// client id that names no client is dropped. An upsert is written per backend:
/// `MultiConnection` does not carry `ON CONFLICT` across both.
pub fn add(
    conn: &mut DbConn,
    counts: &[(CounterKey, i64)],
    tokens: &[(TokenCounterKey, i64)],
) -> QueryResult<()> {
    conn.transaction(|conn| {
        add_tokens(conn, tokens)?;
        for (key, n) in counts {
            let row = NewCounter {
                subject_id: &key.subject_id,
                minute: minute_start(key.minute),
                status_class: key.status_class,
                org_id: &key.org_id,
                requests: *n,
            };
            let upsert = diesel::insert_into(usage_counters::table)
                .values(&row)
                .on_conflict((
                    usage_counters::subject_id,
                    usage_counters::minute,
                    usage_counters::status_class,
                ))
                .do_update()
                .set(
                    usage_counters::requests
                        .eq(usage_counters::requests + excluded(usage_counters::requests)),
                );
            match conn {
                DbConn::Postgres(c) => upsert.execute(c)?,
                DbConn::Sqlite(c) => upsert.execute(c)?,
            };
        }
        Ok(())
    })
}

fn add_tokens(conn: &mut DbConn, tokens: &[(TokenCounterKey, i64)]) -> QueryResult<()> {
    if tokens.is_empty() {
        return Ok(());
    }
    let mut ids: Vec<&str> = tokens.iter().map(|(key, _)| &*key.client_id).collect();
    ids.sort_unstable();
    ids.dedup();
    let orgs: HashMap<String, String> = clients::table
        .filter(clients::id.eq_any(&ids))
        .select((clients::id, clients::org_id))
        .load::<(String, String)>(conn)?
        .into_iter()
        .collect();
    for (key, n) in tokens {
        let Some(org_id) = orgs.get(&*key.client_id) else {
            continue;
        };
        let row = NewTokenCounter {
            client_id: &key.client_id,
            minute: minute_start(key.minute),
            outcome: key.outcome,
            org_id,
            requests: *n,
        };
        let upsert = diesel::insert_into(token_counters::table)
            .values(&row)
            .on_conflict((
                token_counters::client_id,
                token_counters::minute,
                token_counters::outcome,
            ))
            .do_update()
            .set(
                token_counters::requests
                    .eq(token_counters::requests + excluded(token_counters::requests)),
            );
        match conn {
            DbConn::Postgres(c) => upsert.execute(c)?,
            DbConn::Sqlite(c) => upsert.execute(c)?,
        };
    }
    Ok(())
}

/// A client's token-endpoint counters in `[from, to)`, per minute and outcome.
pub fn token_minutes(
    conn: &mut DbConn,
    org_id: &OrgId,
    client_id: &ClientId,
    from: NaiveDateTime,
    to: NaiveDateTime,
) -> QueryResult<Vec<(NaiveDateTime, String, i64)>> {
    token_counters::table
        .filter(token_counters::org_id.eq(org_id))
        .filter(token_counters::client_id.eq(client_id))
        .filter(token_counters::minute.ge(from))
        .filter(token_counters::minute.lt(to))
        .order(token_counters::minute.asc())
        .select((
            token_counters::minute,
            token_counters::outcome,
            token_counters::requests,
        ))
        .load(conn)
}

/// The organization's token-endpoint counters in `[from, to)`, summed over its
/// clients, per minute and outcome.
pub fn org_token_minutes(
    conn: &mut DbConn,
    org_id: &OrgId,
    from: NaiveDateTime,
    to: NaiveDateTime,
) -> QueryResult<Vec<(NaiveDateTime, String, i64)>> {
    token_counters::table
        .filter(token_counters::org_id.eq(org_id))
        .filter(token_counters::minute.ge(from))
        .filter(token_counters::minute.lt(to))
        .group_by((token_counters::minute, token_counters::outcome))
        .order(token_counters::minute.asc())
        .select((token_counters::minute, token_counters::outcome, summed()))
        .load(conn)
}

/// A subject's counters in `[from, to)`, per minute and status class.
pub fn minutes(
    conn: &mut DbConn,
    org_id: &OrgId,
    subject_id: &str,
    from: NaiveDateTime,
    to: NaiveDateTime,
) -> QueryResult<Vec<(NaiveDateTime, String, i64)>> {
    usage_counters::table
        .filter(usage_counters::org_id.eq(org_id))
        .filter(usage_counters::subject_id.eq(subject_id))
        .filter(usage_counters::minute.ge(from))
        .filter(usage_counters::minute.lt(to))
        .order(usage_counters::minute.asc())
        .select((
            usage_counters::minute,
            usage_counters::status_class,
            usage_counters::requests,
        ))
        .load(conn)
}

/// `SUM(requests)` as a BIGINT on both backends (PostgreSQL's `SUM` of a BIGINT is a
/// NUMERIC).
fn summed() -> diesel::expression::SqlLiteral<diesel::sql_types::BigInt> {
    diesel::dsl::sql::<diesel::sql_types::BigInt>("CAST(SUM(requests) AS BIGINT)")
}

/// The organization's counters in `[from, to)`, summed over its keys and clients, per
/// minute and status class.
pub fn org_minutes(
    conn: &mut DbConn,
    org_id: &OrgId,
    from: NaiveDateTime,
    to: NaiveDateTime,
) -> QueryResult<Vec<(NaiveDateTime, String, i64)>> {
    usage_counters::table
        .filter(usage_counters::org_id.eq(org_id))
        .filter(usage_counters::minute.ge(from))
        .filter(usage_counters::minute.lt(to))
        .group_by((usage_counters::minute, usage_counters::status_class))
        .order(usage_counters::minute.asc())
        .select((
            usage_counters::minute,
            usage_counters::status_class,
            summed(),
        ))
        .load(conn)
}

/// One of the organization's busiest keys and clients over a range.
#[derive(Debug, PartialEq, Eq)]
pub struct Busy {
    pub subject_id: String,
    /// Its requests by status class.
    pub by_status: Vec<(String, i64)>,
    /// Its token-endpoint requests by outcome (a client's; none for a key).
    pub token_outcomes: Vec<(String, i64)>,
}

/// The organization's busiest keys and clients in `[from, to)`: the `limit` subjects
/// with the most requests — to keygate's API and to the token endpoint together —
/// busiest first.
pub fn top_subjects(
    conn: &mut DbConn,
    org_id: &OrgId,
    from: NaiveDateTime,
    to: NaiveDateTime,
    limit: usize,
) -> QueryResult<Vec<Busy>> {
    let requests = usage_counters::table
        .filter(usage_counters::org_id.eq(org_id))
        .filter(usage_counters::minute.ge(from))
        .filter(usage_counters::minute.lt(to));
    let tokens = token_counters::table
        .filter(token_counters::org_id.eq(org_id))
        .filter(token_counters::minute.ge(from))
        .filter(token_counters::minute.lt(to));
    // Every subject's total: an organization has as many as it has keys and clients.
    let mut totals: HashMap<String, i64> = HashMap::new();
    let request_totals: Vec<(String, i64)> = requests
        .group_by(usage_counters::subject_id)
        .select((usage_counters::subject_id, summed()))
        .load(conn)?;
    let token_totals: Vec<(String, i64)> = tokens
        .group_by(token_counters::client_id)
        .select((token_counters::client_id, summed()))
        .load(conn)?;
    for (subject, n) in request_totals.into_iter().chain(token_totals) {
        *totals.entry(subject).or_default() += n;
    }
    let mut busiest: Vec<(String, i64)> = totals.into_iter().collect();
    busiest.sort_by(|(a, m), (b, n)| n.cmp(m).then_with(|| a.cmp(b)));
    busiest.truncate(limit);
    let subjects: Vec<String> = busiest.into_iter().map(|(subject, _)| subject).collect();
    let by_status: Vec<(String, String, i64)> = requests
        .filter(usage_counters::subject_id.eq_any(&subjects))
        .group_by((usage_counters::subject_id, usage_counters::status_class))
        .select((
            usage_counters::subject_id,
            usage_counters::status_class,
            summed(),
        ))
        .order((usage_counters::subject_id, usage_counters::status_class))
        .load(conn)?;
    let by_outcome: Vec<(String, String, i64)> = tokens
        .filter(token_counters::client_id.eq_any(&subjects))
        .group_by((token_counters::client_id, token_counters::outcome))
        .select((token_counters::client_id, token_counters::outcome, summed()))
        .order((token_counters::client_id, token_counters::outcome))
        .load(conn)?;
    let of = |rows: &[(String, String, i64)], subject: &str| -> Vec<(String, i64)> {
        rows.iter()
            .filter(|(s, _, _)| s == subject)
            .map(|(_, class, n)| (class.clone(), *n))
            .collect()
    };
    Ok(subjects
        .iter()
        .map(|subject| Busy {
            subject_id: subject.clone(),
            by_status: of(&by_status, subject),
            token_outcomes: of(&by_outcome, subject),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::test_support::memory_conn;
    use diesel::connection::SimpleConnection;

    #[test]
    fn flushes_add_to_what_is_stored() {
        let mut conn = memory_conn();
        let now = chrono::Utc::now().timestamp().div_euclid(60);
        let minute = super::minute_start(now);
        let key = CounterKey {
            subject_id: "key_a".into(),
            org_id: "org_1".into(),
            minute: now,
            status_class: "2xx",
        };
        add(&mut conn, &[(key.clone(), 3)], &[]).unwrap();
        add(&mut conn, &[(key, 2)], &[]).unwrap();
        let day = chrono::Duration::days(1);
        let rows = minutes(
            &mut conn,
            &OrgId::from("org_1"),
            "key_a",
            minute - day,
            minute + day,
        )
        .unwrap();
        assert_eq!(rows, vec![(minute, "2xx".to_owned(), 5)]);
        assert!(minutes(
            &mut conn,
            &OrgId::from("org_2"),
            "key_a",
            minute - day,
            minute + day
        )
        .unwrap()
        .is_empty());
    }

    #[test]
    fn organization_totals_and_the_busiest_subjects() {
        let mut conn = memory_conn();
        let now = chrono::Utc::now().timestamp().div_euclid(60);
        let minute = super::minute_start(now);
        let counter = |subject: &str, org: &str, class: &'static str| CounterKey {
            subject_id: subject.into(),
            org_id: org.into(),
            minute: now,
            status_class: class,
        };
        let token = |client: &str, outcome: &'static str| TokenCounterKey {
            client_id: client.into(),
            minute: now,
            outcome,
        };
        conn.batch_execute(
            "INSERT INTO organizations (id, slug, name, created_at) VALUES ('org_1', 'one', 'One', '2026-01-01 00:00:00');
             INSERT INTO clients (id, org_id, name, secret_hash, grant_types, allowed_scopes, default_scopes, created_at, updated_at)
             VALUES ('kgc_t', 'org_1', 't', 'x', 'client_credentials', 'read', 'read', '2026-01-01 00:00:00', '2026-01-01 00:00:00');",
        )
        .unwrap();
        add(
            &mut conn,
            &[
                (counter("key_a", "org_1", "2xx"), 3),
                (counter("key_a", "org_1", "4xx"), 1),
                (counter("kgc_b", "org_1", "2xx"), 7),
                (counter("key_c", "org_1", "2xx"), 1),
                (counter("key_z", "org_2", "2xx"), 100),
            ],
            &[
                (token("kgc_t", "invalid_scope"), 1),
                (token("kgc_t", "issued"), 5),
                // A client id that names no client counts nowhere.
                (token("kgc_unknown", "invalid_client"), 50),
            ],
        )
        .unwrap();
        let day = chrono::Duration::days(1);
        let totals =
            org_minutes(&mut conn, &OrgId::from("org_1"), minute - day, minute + day).unwrap();
        assert_eq!(
            totals,
            vec![
                (minute, "2xx".to_owned(), 11),
                (minute, "4xx".to_owned(), 1)
            ]
        );
        let tokens =
            org_token_minutes(&mut conn, &OrgId::from("org_1"), minute - day, minute + day)
                .unwrap();
        assert_eq!(
            tokens,
            vec![
                (minute, "invalid_scope".to_owned(), 1),
                (minute, "issued".to_owned(), 5)
            ]
        );
        let pair = |class: &str, n: i64| (class.to_owned(), n);
        let top = top_subjects(
            &mut conn,
            &OrgId::from("org_1"),
            minute - day,
            minute + day,
            3,
        )
        .unwrap();
        assert_eq!(
            top,
            vec![
                Busy {
                    subject_id: "kgc_b".to_owned(),
                    by_status: vec![pair("2xx", 7)],
                    token_outcomes: vec![],
                },
                Busy {
                    subject_id: "kgc_t".to_owned(),
                    by_status: vec![],
                    token_outcomes: vec![pair("invalid_scope", 1), pair("issued", 5)],
                },
                Busy {
                    subject_id: "key_a".to_owned(),
                    by_status: vec![pair("2xx", 3), pair("4xx", 1)],
                    token_outcomes: vec![],
                },
            ]
        );
    }
}
