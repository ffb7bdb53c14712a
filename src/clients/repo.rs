use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::model::{Client, NewClient};
use crate::store::schema::clients;
use crate::store::DbConn;

/// `get_result`, not `first`: `first` binds `LIMIT ?`, and SQLite (built with STAT4)
/// re-prepares a statement whose LIMIT is a bound parameter on every execution, which
/// cost the token endpoint a full SQL parse per request.
pub fn find(conn: &mut DbConn, id: &str) -> QueryResult<Option<Client>> {
    clients::table
        .find(id)
        .select(Client::as_select())
        .get_result(conn)
        .optional()
}

pub fn create(conn: &mut DbConn, new: &NewClient) -> QueryResult<Client> {
    diesel::insert_into(clients::table)
        .values(new)
        .execute(conn)?;
    clients::table
        .find(&new.id)
        .select(Client::as_select())
        .first(conn)
}

pub fn list(conn: &mut DbConn, org_id: Option<&str>) -> QueryResult<Vec<Client>> {
    let mut query = clients::table
        .select(Client::as_select())
        .order(clients::created_at.asc())
        .into_boxed();
    if let Some(org_id) = org_id {
        query = query.filter(clients::org_id.eq(org_id.to_owned()));
    }
    query.load(conn)
}

/// Disables the client and revokes its refresh-token families, in one transaction;
/// returns whether a live client was disabled by this call.
pub fn disable(conn: &mut DbConn, id: &str, now: NaiveDateTime) -> QueryResult<bool> {
    conn.transaction(|c| {
        let updated = diesel::update(
            clients::table
                .filter(clients::id.eq(id))
                .filter(clients::disabled_at.is_null()),
        )
        .set((
            clients::disabled_at.eq(Some(now)),
            clients::updated_at.eq(now),
        ))
        .execute(c)?;
        crate::refresh::repo::revoke_client_families(c, id, now, "client_disabled")?;
        Ok(updated == 1)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clients::model::{ClientId, ClientRegistration};
    use crate::orgs;
    use crate::store::test_support::memory_conn;
    use std::time::Duration;

    fn known() -> crate::scope::ScopeSet {
        crate::scope::ScopeSet::parse("read write").unwrap()
    }

    #[test]
    fn create_find_list_disable() {
        let mut conn = memory_conn();
        let now = chrono::Utc::now().naive_utc();
        let (org, _) = orgs::repo::ensure_default(&mut conn, now).unwrap();
        let new = ClientRegistration {
            name: "svc".into(),
            scope: "read".into(),
            ..Default::default()
        }
        .validate(org.id(), &known(), Duration::from_secs(3600))
        .unwrap()
        .into_new_client(ClientId::generate(), "$argon2id$x".into(), now);
        let created = create(&mut conn, &new).unwrap();
        assert_eq!(find(&mut conn, &created.id).unwrap().unwrap().name, "svc");
        assert!(find(&mut conn, "kgc_missing").unwrap().is_none());
        assert_eq!(list(&mut conn, Some(&org.id)).unwrap().len(), 1);
        assert_eq!(list(&mut conn, Some("org_other")).unwrap().len(), 0);
        assert!(disable(&mut conn, &created.id, now).unwrap());
        assert!(
            !disable(&mut conn, &created.id, now).unwrap(),
            "already disabled"
        );
        assert!(find(&mut conn, &created.id).unwrap().unwrap().is_disabled());
    }

    #[test]
    fn client_needs_an_existing_org() {
        let mut conn = memory_conn();
        let now = chrono::Utc::now().naive_utc();
        let new = ClientRegistration {
            name: "svc".into(),
            scope: "read".into(),
            ..Default::default()
        }
        .validate(
            crate::orgs::OrgId("org_nope".into()),
            &known(),
            Duration::from_secs(3600),
        )
        .unwrap()
        .into_new_client(ClientId::generate(), "h".into(), now);
        assert!(create(&mut conn, &new).is_err());
    }
}
