//! Typed ids: one newtype per kind of row id (`OrgId`, `ApiKeyId`, `ClientId`, …),
//! stored as text on both backends. Rows, repos and the actor carry these rather than
//! `String`, so an API key's id cannot be passed where an organization's is expected —
//! in a multi-tenant server, the mix-up that becomes a cross-organization read.
//!
//! Each domain declares its own with `typed_id!` (beside its model) and gives it its
//! constructor from the `TokenKind` table; from text (a path segment, a CLI argument)
//! an id is made with `From`, unchecked: an id of the wrong form is simply not found.

/// Declares `pub struct $name(String)` with what a row id needs: diesel's text mapping
/// (so it is a column's field and a query's bind), serde as a plain string, `Display`,
/// and `From<String>` / `From<&str>`.
macro_rules! typed_id {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(
            Clone,
            Debug,
            PartialEq,
            Eq,
            Hash,
            PartialOrd,
            Ord,
            diesel::expression::AsExpression,
            diesel::deserialize::FromSqlRow,
            serde::Serialize,
            serde::Deserialize,
        )]
        #[diesel(sql_type = diesel::sql_types::Text)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }

            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl From<String> for $name {
            fn from(id: String) -> Self {
                Self(id)
            }
        }

        impl From<&str> for $name {
            fn from(id: &str) -> Self {
                Self(id.to_owned())
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        // A typed id against presented text (a path segment, a request field).
        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }

        impl<DB> diesel::serialize::ToSql<diesel::sql_types::Text, DB> for $name
        where
            DB: diesel::backend::Backend,
            str: diesel::serialize::ToSql<diesel::sql_types::Text, DB>,
        {
            fn to_sql<'b>(
                &'b self,
                out: &mut diesel::serialize::Output<'b, '_, DB>,
            ) -> diesel::serialize::Result {
                <str as diesel::serialize::ToSql<diesel::sql_types::Text, DB>>::to_sql(
                    self.0.as_str(),
                    out,
                )
            }
        }

        impl<DB> diesel::deserialize::FromSql<diesel::sql_types::Text, DB> for $name
        where
            DB: diesel::backend::Backend,
            String: diesel::deserialize::FromSql<diesel::sql_types::Text, DB>,
        {
            fn from_sql(bytes: DB::RawValue<'_>) -> diesel::deserialize::Result<Self> {
                <String as diesel::deserialize::FromSql<diesel::sql_types::Text, DB>>::from_sql(
                    bytes,
                )
                .map(Self)
            }
        }
    };
}

pub(crate) use typed_id;

#[cfg(test)]
mod tests {
    use diesel::prelude::*;

    use crate::ids::OrgId;
    use crate::store::schema::organizations;
    use crate::store::test_support::memory_conn;

    #[test]
    fn a_typed_id_is_a_bind_and_a_column() {
        let mut conn = memory_conn();
        let id = OrgId::generate();
        diesel::insert_into(organizations::table)
            .values((
                organizations::id.eq(&id),
                organizations::slug.eq("acme"),
                organizations::name.eq("Acme"),
                organizations::tier.eq("free"),
                organizations::created_at.eq(chrono::NaiveDateTime::default()),
            ))
            .execute(&mut conn)
            .unwrap_or_else(|e| unreachable!("{e}"));
        let found: OrgId = organizations::table
            .filter(organizations::id.eq(&id))
            .select(organizations::id)
            .first(&mut conn)
            .unwrap_or_else(|e| unreachable!("{e}"));
        assert_eq!(found, id);
        assert_eq!(
            serde_json::to_string(&id).unwrap_or_default(),
            format!("\"{id}\"")
        );
    }
}
