use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::upsert::excluded;

use super::CounterKey;
use crate::store::schema::usage_counters;
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

/// Adds `counts` to the stored counters, in one transaction. An upsert is written per
/// backend: `MultiConnection` does not carry `ON CONFLICT` across both.
pub fn add(conn: &mut DbConn, counts: &[(CounterKey, i64)]) -> QueryResult<()> {
    conn.transaction(|conn| {
        for (key, n) in counts {
            let row = NewCounter {
                subject_id: &key.subject_id,
                minute: super::minute_start(key.minute),
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

/// A subject's counters in `[from, to)`, per minute and status class.
pub fn minutes(
    conn: &mut DbConn,
    org_id: &str,
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
    org_id: &str,
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

/// The organization's busiest keys and clients in `[from, to)`: (subject, status
/// class, requests) for the `limit` subjects with the most requests, busiest first.
pub fn top_subjects(
    conn: &mut DbConn,
    org_id: &str,
    from: NaiveDateTime,
    to: NaiveDateTime,
    limit: i64,
) -> QueryResult<Vec<(String, String, i64)>> {
    let in_range = usage_counters::table
        .filter(usage_counters::org_id.eq(org_id))
        .filter(usage_counters::minute.ge(from))
        .filter(usage_counters::minute.lt(to));
    let busiest: Vec<(String, i64)> = in_range
        .group_by(usage_counters::subject_id)
        .select((usage_counters::subject_id, summed()))
        .order((
            diesel::dsl::sql::<diesel::sql_types::BigInt>("2 DESC"),
            usage_counters::subject_id.asc(),
        ))
        .limit(limit)
        .load(conn)?;
    let subjects: Vec<String> = busiest.into_iter().map(|(subject, _)| subject).collect();
    let mut rows: Vec<(String, String, i64)> = in_range
        .filter(usage_counters::subject_id.eq_any(&subjects))
        .group_by((usage_counters::subject_id, usage_counters::status_class))
        .select((
            usage_counters::subject_id,
            usage_counters::status_class,
            summed(),
        ))
        .load(conn)?;
    // Back into the busiest-first order.
    rows.sort_by_key(|(subject, class, _)| {
        (
            subjects
                .iter()
                .position(|s| s == subject)
                .unwrap_or(usize::MAX),
            class.clone(),
        )
    });
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::test_support::memory_conn;

    #[test]
    fn flushes_add_to_what_is_stored() {
        let mut conn = memory_conn();
        let now = chrono::Utc::now().timestamp().div_euclid(60);
        let minute = super::super::minute_start(now);
        let key = CounterKey {
            subject_id: "key_a".into(),
            org_id: "org_1".into(),
            minute: now,
            status_class: "2xx",
        };
        add(&mut conn, &[(key.clone(), 3)]).unwrap();
        add(&mut conn, &[(key, 2)]).unwrap();
        let day = chrono::Duration::days(1);
        let rows = minutes(&mut conn, "org_1", "key_a", minute - day, minute + day).unwrap();
        assert_eq!(rows, vec![(minute, "2xx".to_owned(), 5)]);
        assert!(
            minutes(&mut conn, "org_2", "key_a", minute - day, minute + day)
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn organization_totals_and_the_busiest_subjects() {
        let mut conn = memory_conn();
        let now = chrono::Utc::now().timestamp().div_euclid(60);
        let minute = super::super::minute_start(now);
        let counter = |subject: &str, org: &str, class: &'static str| CounterKey {
            subject_id: subject.into(),
            org_id: org.into(),
            minute: now,
            status_class: class,
        };
        add(
            &mut conn,
            &[
                (counter("key_a", "org_1", "2xx"), 3),
                (counter("key_a", "org_1", "4xx"), 1),
                (counter("kgc_b", "org_1", "2xx"), 7),
                (counter("key_c", "org_1", "2xx"), 1),
                (counter("key_z", "org_2", "2xx"), 100),
            ],
        )
        .unwrap();
        let day = chrono::Duration::days(1);
        let totals = org_minutes(&mut conn, "org_1", minute - day, minute + day).unwrap();
        assert_eq!(
            totals,
            vec![
                (minute, "2xx".to_owned(), 11),
                (minute, "4xx".to_owned(), 1)
            ]
        );
        let top = top_subjects(&mut conn, "org_1", minute - day, minute + day, 2).unwrap();
        assert_eq!(
            top,
            vec![
                ("kgc_b".to_owned(), "2xx".to_owned(), 7),
                ("key_a".to_owned(), "2xx".to_owned(), 3),
                ("key_a".to_owned(), "4xx".to_owned(), 1),
            ]
        );
    }
}
