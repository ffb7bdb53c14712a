//! Access tokens revoked before their `exp` (RFC 7009): their `jti`s, kept until the
//! token has expired anyway — with a margin of the verifier's clock-skew leeway, so an
//! instance whose clock runs behind the one that purges still finds the record — then
//! purged.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error};

use crate::ids::ClientId;
use crate::store::schema::revoked_access_tokens;
use crate::store::DbConn;

#[derive(Insertable)]
#[diesel(table_name = revoked_access_tokens)]
struct NewRevoked<'a> {
    jti: &'a str,
    client_id: &'a ClientId,
    expires_at: NaiveDateTime,
}

/// Records the revocation (idempotent) and purges entries whose tokens have expired.
pub fn revoke(
    conn: &mut DbConn,
    jti: &str,
    client_id: &ClientId,
    expires_at: NaiveDateTime,
    now: NaiveDateTime,
) -> QueryResult<()> {
    let verifiable_until = now - chrono::Duration::seconds(super::verify::LEEWAY_SECS);
    diesel::delete(
        revoked_access_tokens::table.filter(revoked_access_tokens::expires_at.lt(verifiable_until)),
    )
    .execute(conn)?;
    let inserted = diesel::insert_into(revoked_access_tokens::table)
        .values(NewRevoked {
            jti,
            client_id,
            expires_at,
        })
        .execute(conn);
    match inserted {
        Ok(_) | Err(Error::DatabaseError(DatabaseErrorKind::UniqueViolation, _)) => Ok(()),
        Err(other) => Err(other),
    }
}

pub fn is_revoked(conn: &mut DbConn, jti: &str) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        revoked_access_tokens::table.filter(revoked_access_tokens::jti.eq(jti)),
    ))
    .get_result(conn)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::test_support::memory_conn;

    #[test]
    fn revocations_are_idempotent_and_purged_after_expiry() {
        let mut conn = memory_conn();
        let now = chrono::Utc::now().naive_utc();
        let exp = now + chrono::Duration::minutes(5);
        revoke(&mut conn, "j1", &ClientId::from("kgc_1"), exp, now).unwrap();
        revoke(&mut conn, "j1", &ClientId::from("kgc_1"), exp, now).unwrap();
        assert!(is_revoked(&mut conn, "j1").unwrap());
        assert!(!is_revoked(&mut conn, "j2").unwrap());
        let leeway = chrono::Duration::seconds(crate::tokens::verify::LEEWAY_SECS);
        let minutes = chrono::Duration::minutes(5);
        // Still verifiable within the leeway after its exp: the record must stay.
        let within = exp + leeway - chrono::Duration::seconds(1);
        revoke(
            &mut conn,
            "j2",
            &ClientId::from("kgc_1"),
            within + minutes,
            within,
        )
        .unwrap();
        assert!(
            is_revoked(&mut conn, "j1").unwrap(),
            "kept through the leeway"
        );
        let later = exp + leeway + chrono::Duration::seconds(1);
        revoke(
            &mut conn,
            "j3",
            &ClientId::from("kgc_1"),
            later + minutes,
            later,
        )
        .unwrap();
        assert!(
            !is_revoked(&mut conn, "j1").unwrap(),
            "purged once unverifiable"
        );
    }
}
