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
}
