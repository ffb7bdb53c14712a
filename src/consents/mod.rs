//! A person's consent for an app to act for them (RFC 6749 §4.1): remembered per
//! person, organization and client with the scopes it covers, so that the consent
//! page is shown once for them; listed on the person's account page and, for an
//! admin, on the organization's applications page; and withdrawn there — which
//! revokes the app's refresh families for that person and stops its access tokens at
//! once, since an access token acting for a person is live only while its consent is
//! (`is_live`, read by `identity::access_token`).

pub mod repo;

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::audit::{self, By, Change, Target};
use crate::ids::{ClientId, OrgId, UserId};
use crate::refresh;
use crate::scope::ScopeSet;
use crate::store::schema::oauth_consents;
use crate::store::{DbConn, StoreError};

/// A remembered consent.
#[derive(Clone, Debug, Queryable, Selectable, Insertable)]
#[diesel(table_name = oauth_consents)]
pub struct Consent {
    pub user_id: UserId,
    pub org_id: OrgId,
    pub client_id: ClientId,
    /// The scopes it covers, space-separated: every scope the person has allowed the
    /// app so far.
    pub scope: String,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

impl Consent {
    /// Whether it covers every scope of `requested`.
    pub fn covers(&self, requested: &ScopeSet) -> bool {
        ScopeSet::parse(&self.scope).is_ok_and(|given| requested.is_subset_of(&given))
    }
}

/// A consent as the pages list it: with the app's name, the person's email and
/// whether the app is disabled.
#[derive(Clone, Debug)]
pub struct ListedConsent {
    pub consent: Consent,
    pub client_name: String,
    pub user_email: String,
}

/// Who withdraws a consent: the person who gave it, or someone who manages the
/// applications of its organization (the caller checks the role).
#[derive(Clone, Copy, Debug)]
pub enum Withdrawer<'a> {
    Person(&'a UserId),
    AdminOf(&'a OrgId),
}

impl Withdrawer<'_> {
    fn may_withdraw(self, user_id: &UserId, org_id: &OrgId) -> bool {
        match self {
            Self::Person(person) => person == user_id,
            Self::AdminOf(org) => org == org_id,
        }
    }
}

/// Withdraws the consent of `user_id` in `org_id` for `client_id` if `who` may: the
/// row goes, the families that acted on it are revoked, and the audit log says who
/// did it. `false` when there was no such consent for `who` — another person's
/// consent is, to a person, one that does not exist.
pub fn withdraw(
    conn: &mut DbConn,
    who: Withdrawer<'_>,
    consent: (&UserId, &OrgId, &ClientId),
    by: By<'_>,
    now: NaiveDateTime,
) -> Result<bool, StoreError> {
    if !who.may_withdraw(consent.0, consent.1) {
        return Ok(false);
    }
    revoke(conn, consent, by, now)
}

/// Withdraws the consent of `user_id` in `org_id` for `client_id`: the row goes, the
/// families that acted on it are revoked, and the audit log says who did it. `false`
/// when there was no such consent.
fn revoke(
    conn: &mut DbConn,
    consent: (&UserId, &OrgId, &ClientId),
    by: By<'_>,
    now: NaiveDateTime,
) -> Result<bool, StoreError> {
    let (user_id, org_id, client_id) = consent;
    conn.transaction(|c| {
        if !repo::delete(c, user_id, org_id, client_id)? {
            return Ok(false);
        }
        let families = refresh::repo::revoke_user_families(
            c,
            user_id,
            Some(org_id),
            Some(client_id),
            now,
            "consent_revoked",
        )?;
        let target = Target {
            org_id,
            id: client_id.as_str(),
        };
        let change = Change::OAuthConsentRevoked {
            user_id: user_id.as_str(),
            families_revoked: families,
        };
        audit::repo::record(c, target, by, change, now)?;
        Ok(true)
    })
}

/// A person leaves `org_id` (or, `None`, is disabled everywhere): their consents
/// there go and the families acting on them are revoked, in the caller's transaction
/// — so nothing an app held comes back if they return.
pub fn end_for_person(
    conn: &mut DbConn,
    user_id: &UserId,
    org_id: Option<&OrgId>,
    now: NaiveDateTime,
    reason: &str,
) -> QueryResult<usize> {
    repo::delete_of(conn, user_id, org_id)?;
    refresh::repo::revoke_user_families(conn, user_id, org_id, None, now, reason)
}
