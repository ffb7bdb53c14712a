//! An organization's API-key policy: the longest a key may live, and whether every
//! key must expire. Set by the organization's admins (`service::set_policy`, through
//! `/v1/api-key-policy`, the dashboard's settings and `keygate api-key policy`),
//! enforced on every create and rotate whatever the door (`service::create`,
//! `service::rotate`). An organization without a row has no policy.

use std::time::Duration;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;

use super::model::{KeyRequestError, MAX_EXPIRES_IN};
use crate::ids::OrgId;
use crate::store::schema::api_key_policies;
use crate::store::DbConn;

/// The shortest maximum lifetime a policy may set: below an hour, keys would expire
/// before anyone could roll them out.
pub const MIN_MAX_LIFETIME: Duration = Duration::from_secs(3600);

/// What an organization asks of its API keys.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct KeyPolicy {
    /// The longest a key may live, in seconds (`None`: up to the 10 years any key may).
    #[serde(rename = "max_lifetime_secs", with = "optional_secs")]
    #[schema(value_type = Option<u64>)]
    pub max_lifetime: Option<Duration>,
    /// Whether a key must have an expiry (`expires_in` or `expires_at`).
    pub expiry_required: bool,
}

/// Why a policy cannot be set.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PolicyError {
    #[error("max_lifetime must be between 1 hour and 10 years")]
    MaxLifetime,
}

impl KeyPolicy {
    /// `self` if it is one keygate can enforce.
    pub fn validated(self) -> Result<Self, PolicyError> {
        match self.max_lifetime {
            Some(max) if !(MIN_MAX_LIFETIME..=MAX_EXPIRES_IN).contains(&max) => {
                Err(PolicyError::MaxLifetime)
            }
            _ => Ok(self),
        }
    }

    /// Whether a new key expiring at `expires_at` (`None`: never) is allowed.
    pub fn admits(
        &self,
        expires_at: Option<NaiveDateTime>,
        now: NaiveDateTime,
    ) -> Result<(), KeyRequestError> {
        // A maximum implies an expiry.
        let must_expire = self.expiry_required || self.max_lifetime.is_some();
        match expires_at {
            None if must_expire => Err(KeyRequestError::ExpiryRequired(self.describe())),
            Some(at) if self.latest_expiry(now).is_some_and(|latest| at > latest) => {
                Err(KeyRequestError::BeyondPolicy(self.describe()))
            }
            _ => Ok(()),
        }
    }

    /// The expiry of a rotated key's successor: the old key's, shortened to what the
    /// policy allows from `now` — so rotating brings a key made before the policy
    /// into line. A key that must expire but may live any length is refused (no
    /// lifetime to give it: the caller creates a new key with one).
    pub fn successor_expiry(
        &self,
        old_expires_at: Option<NaiveDateTime>,
        now: NaiveDateTime,
    ) -> Result<Option<NaiveDateTime>, KeyRequestError> {
        match (old_expires_at, self.latest_expiry(now)) {
            (Some(at), Some(latest)) => Ok(Some(at.min(latest))),
            (None, Some(latest)) => Ok(Some(latest)),
            (None, None) if self.expiry_required => {
                Err(KeyRequestError::ExpiryRequired(self.describe()))
            }
            (at, _) => Ok(at),
        }
    }

    fn latest_expiry(&self, now: NaiveDateTime) -> Option<NaiveDateTime> {
        self.max_lifetime
            .and_then(|max| chrono::Duration::from_std(max).ok())
            .map(|max| now + max)
    }

    /// The policy in words, for the refusals and the pages: "every key must expire
    /// within 90 days".
    pub fn describe(&self) -> String {
        match (self.max_lifetime, self.expiry_required) {
            (Some(max), _) => format!("every key must expire within {}", in_words(max)),
            (None, true) => "every key must have an expiry".to_owned(),
            (None, false) => "keys may live up to 10 years, or not expire".to_owned(),
        }
    }
}

/// `90 days`, `12 hours`, `1 day`; seconds when nothing rounder fits.
pub fn in_words(duration: Duration) -> String {
    let secs = duration.as_secs();
    let (count, unit) = [(86_400, "day"), (3600, "hour"), (60, "minute")]
        .into_iter()
        .find(|(size, _)| secs.is_multiple_of(*size) && secs >= *size)
        .map_or((secs, "second"), |(size, unit)| (secs / size, unit));
    if count == 1 {
        format!("1 {unit}")
    } else {
        format!("{count} {unit}s")
    }
}

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = api_key_policies)]
struct PolicyRow {
    org_id: OrgId,
    max_lifetime_secs: Option<i64>,
    expiry_required: bool,
    updated_at: NaiveDateTime,
}

/// The organization's policy (the default, none, without a row).
pub fn policy_of(conn: &mut DbConn, org_id: &OrgId) -> QueryResult<KeyPolicy> {
    let row = api_key_policies::table
        .find(org_id)
        .select(PolicyRow::as_select())
        .get_result(conn)
        .optional()?;
    Ok(row.map_or_else(KeyPolicy::default, |row| KeyPolicy {
        max_lifetime: row
            .max_lifetime_secs
            .and_then(|secs| u64::try_from(secs).ok())
            .map(Duration::from_secs),
        expiry_required: row.expiry_required,
    }))
}

/// Stores the organization's policy (an update, or the first row).
pub fn store_policy(
    conn: &mut DbConn,
    org_id: &OrgId,
    policy: &KeyPolicy,
    now: NaiveDateTime,
) -> QueryResult<()> {
    let max_lifetime_secs = policy
        .max_lifetime
        .map(|max| i64::try_from(max.as_secs()).unwrap_or(i64::MAX));
    let updated = diesel::update(api_key_policies::table.find(org_id))
        .set((
            api_key_policies::max_lifetime_secs.eq(max_lifetime_secs),
            api_key_policies::expiry_required.eq(policy.expiry_required),
            api_key_policies::updated_at.eq(now),
        ))
        .execute(conn)?;
    if updated == 0 {
        diesel::insert_into(api_key_policies::table)
            .values(PolicyRow {
                org_id: org_id.clone(),
                max_lifetime_secs,
                expiry_required: policy.expiry_required,
                updated_at: now,
            })
            .execute(conn)?;
    }
    Ok(())
}

mod optional_secs {
    use std::time::Duration;

    pub fn serialize<S: serde::Serializer>(
        value: &Option<Duration>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match value {
            Some(duration) => serializer.serialize_u64(duration.as_secs()),
            None => serializer.serialize_none(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::orgs;
    use crate::store::test_support::memory_conn;

    const DAY: u64 = 86_400;

    fn at(day: i64) -> NaiveDateTime {
        NaiveDateTime::default() + chrono::Duration::days(day)
    }

    fn within(days: u64, required: bool) -> KeyPolicy {
        KeyPolicy {
            max_lifetime: Some(Duration::from_secs(days * DAY)),
            expiry_required: required,
        }
    }

    #[test]
    fn no_policy_admits_any_key() {
        let none = KeyPolicy::default();
        assert_eq!(none.admits(None, at(0)), Ok(()));
        assert_eq!(none.admits(Some(at(3000)), at(0)), Ok(()));
        assert_eq!(none.successor_expiry(None, at(0)), Ok(None));
    }

    #[test]
    fn a_maximum_lifetime_refuses_longer_and_unexpiring_keys() {
        let policy = within(90, false);
        assert_eq!(policy.admits(Some(at(90)), at(0)), Ok(()));
        assert!(matches!(
            policy.admits(Some(at(91)), at(0)),
            Err(KeyRequestError::BeyondPolicy(_))
        ));
        // A maximum implies an expiry.
        assert!(matches!(
            policy.admits(None, at(0)),
            Err(KeyRequestError::ExpiryRequired(_))
        ));
        assert_eq!(
            KeyRequestError::BeyondPolicy(policy.describe()).to_string(),
            "expires_in: this organization's policy is that every key must expire within 90 days"
        );
    }

    #[test]
    fn expiry_required_alone_refuses_only_unexpiring_keys() {
        let policy = KeyPolicy {
            max_lifetime: None,
            expiry_required: true,
        };
        assert_eq!(policy.admits(Some(at(3000)), at(0)), Ok(()));
        assert!(policy.admits(None, at(0)).is_err());
        assert!(policy.successor_expiry(None, at(0)).is_err());
        assert_eq!(policy.successor_expiry(Some(at(5)), at(0)), Ok(Some(at(5))));
    }

    #[test]
    fn a_successor_is_brought_into_line() {
        let policy = within(30, true);
        assert_eq!(policy.successor_expiry(None, at(10)), Ok(Some(at(40))));
        assert_eq!(
            policy.successor_expiry(Some(at(100)), at(10)),
            Ok(Some(at(40)))
        );
        assert_eq!(
            policy.successor_expiry(Some(at(20)), at(10)),
            Ok(Some(at(20)))
        );
    }

    #[test]
    fn a_policy_is_bounded() {
        assert_eq!(within(1, false).validated(), Ok(within(1, false)));
        let too_short = KeyPolicy {
            max_lifetime: Some(Duration::from_secs(59 * 60)),
            expiry_required: false,
        };
        assert_eq!(too_short.validated(), Err(PolicyError::MaxLifetime));
        assert_eq!(
            within(3651 * 10, false).validated(),
            Err(PolicyError::MaxLifetime)
        );
    }

    #[test]
    fn durations_in_words() {
        assert_eq!(in_words(Duration::from_secs(90 * DAY)), "90 days");
        assert_eq!(in_words(Duration::from_secs(DAY)), "1 day");
        assert_eq!(in_words(Duration::from_secs(36 * 3600)), "36 hours");
        assert_eq!(in_words(Duration::from_secs(61)), "61 seconds");
    }

    #[test]
    fn a_policy_is_stored_and_replaced() {
        let mut conn = memory_conn();
        let (org, _) = orgs::repo::ensure_default(&mut conn, at(0)).unwrap();
        assert_eq!(policy_of(&mut conn, &org.id).unwrap(), KeyPolicy::default());
        store_policy(&mut conn, &org.id, &within(90, true), at(0)).unwrap();
        assert_eq!(policy_of(&mut conn, &org.id).unwrap(), within(90, true));
        store_policy(&mut conn, &org.id, &KeyPolicy::default(), at(1)).unwrap();
        assert_eq!(policy_of(&mut conn, &org.id).unwrap(), KeyPolicy::default());
    }
}
