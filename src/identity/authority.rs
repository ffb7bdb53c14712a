//! Who makes a change, and what they may mint: the `Actor` every use case takes
//! (`api_keys::service`, `clients::service`, `orgs::service`) and the rules that bound
//! it. keygate's rule: a credential never creates one stronger than itself. Every
//! credential a principal creates or rotates — an API key, a client (through
//! `/v1/clients` or RFC 7591), a client secret — carries no scope beyond the
//! principal's, expires no later than the principal's own credential, and has no rate
//! allowance looser than the principal's; a credential the principal could not have
//! created is not its to rotate. The operator (the CLI, the server's first start) is
//! unbounded.
//!
//! The rules answer in `AuthorityError`, which each error shape maps in its own file
//! (`error.rs`, `oauth/error.rs`). A principal becomes an actor in
//! `Principal::actor`.

use chrono::{DateTime, NaiveDateTime, Utc};

use crate::audit::{By, Source};
use crate::ids::{ClientId, OrgId};
use crate::scope::{Scope, ScopeSet};

/// Who performs a change: the label recorded in the audit log and in a key's
/// `created_by`, where the request came from, and — for a credential of the
/// management API — what it may mint.
#[derive(Clone, Debug)]
pub struct Actor {
    /// `cli`, `bootstrap`, `key:key_…`, `client:kgc_…`, `registration:kgc_…`.
    label: String,
    source: Source,
    /// The one organization whose credentials it sees and changes (`None`: every
    /// organization — the operator). Another organization's credential is, to this
    /// actor, one that does not exist.
    org_id: Option<OrgId>,
    /// `None`: unbounded (the operator).
    bounds: Option<Bounds>,
}

/// What a bounded actor holds, and so the most it may hand out.
#[derive(Clone, Debug)]
struct Bounds {
    scopes: ScopeSet,
    /// The latest a credential it mints may live (`None`: no limit). An API key's own
    /// expiry; for an access token, its client's secret's — not the token's few
    /// minutes, which the client renews while its secret lives.
    lifetime: Option<NaiveDateTime>,
    /// Its own requests-per-minute limit (`None`: only its organization's tier).
    rate_limit: Option<u32>,
}

/// What an existing credential holds, for the rotation check.
#[derive(Clone, Copy, Debug)]
pub struct Holdings<'a> {
    pub scopes: &'a ScopeSet,
    /// When the credential stops working (`None`: never).
    pub expires_at: Option<NaiveDateTime>,
    /// Its own requests-per-minute limit (`None`: only its organization's).
    pub rate_limit: Option<i64>,
}

/// Why an actor may not do what it asked.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AuthorityError {
    /// A credential it would create could obtain a scope the actor lacks.
    #[error("scopes: '{0}' is beyond the caller's own scopes")]
    ScopeBeyond(String),
    /// It asked for a looser rate allowance than its own (or for none).
    #[error("rate_limit_per_minute: at most the caller's own {0}")]
    RateLimitAbove(u32),
    /// The credential to rotate has a scope the actor lacks.
    #[error("the caller lacks the scope '{0}'")]
    LacksScope(String),
    /// The credential to rotate outlives the actor, or may make more requests.
    #[error("{0}")]
    Exceeds(String),
}

impl Actor {
    /// The operator at the command line (`cli`) or the server's first start
    /// (`bootstrap`): any configured scope, no lifetime or rate ceiling, no source.
    pub fn operator(label: &'static str) -> Self {
        Self {
            label: label.to_owned(),
            source: Source(None),
            org_id: None,
            bounds: None,
        }
    }

    /// A credential of the management API, bounded by what it holds.
    pub fn bounded(
        label: String,
        source: Source,
        org_id: &OrgId,
        scopes: ScopeSet,
        lifetime: Option<DateTime<Utc>>,
        rate_limit: Option<u32>,
    ) -> Self {
        Self {
            label,
            source,
            org_id: Some(org_id.clone()),
            bounds: Some(Bounds {
                scopes,
                lifetime: lifetime.map(|at| at.naive_utc()),
                rate_limit,
            }),
        }
    }

    /// A client changing its own registration with its RFC 7592 registration access
    /// token. That token may only narrow what an admin registered — a rule of the
    /// registration's (`clients::service::replace_registration`), not a ceiling of
    /// its own — so it carries none here.
    pub fn registration(client_id: &ClientId, org_id: &OrgId, source: Source) -> Self {
        Self {
            label: format!("registration:{client_id}"),
            source,
            org_id: Some(org_id.clone()),
            bounds: None,
        }
    }

    pub fn label(&self) -> &str {
        &self.label
    }

    /// The organization this actor is confined to (`None`: any).
    pub fn org_id(&self) -> Option<&OrgId> {
        self.org_id.as_ref()
    }

    /// Whether a credential of `org_id` is this actor's to see and change.
    pub fn sees(&self, org_id: &OrgId) -> bool {
        self.org_id.as_ref().is_none_or(|own| own == org_id)
    }

    /// This actor as the audit log records it.
    pub fn by(&self) -> By<'_> {
        By::new(&self.label, &self.source)
    }

    /// The scopes this actor may hand out; `None`: any configured scope.
    pub fn scope_ceiling(&self) -> Option<&ScopeSet> {
        self.bounds.as_ref().map(|b| &b.scopes)
    }

    /// The latest expiry this actor may give a credential it mints; `None`: no limit.
    pub fn lifetime(&self) -> Option<NaiveDateTime> {
        self.bounds.as_ref().and_then(|b| b.lifetime)
    }

    /// `asked` capped by this actor's lifetime.
    pub fn cap_expiry(&self, asked: Option<NaiveDateTime>) -> Option<NaiveDateTime> {
        match (asked, self.lifetime()) {
            (Some(asked), Some(limit)) => Some(asked.min(limit)),
            (asked, limit) => asked.or(limit),
        }
    }

    /// The rate allowance a credential this actor creates gets when it names none:
    /// the actor's own (`None`: only the organization's tier).
    pub fn own_rate_limit(&self) -> Option<u32> {
        self.bounds.as_ref().and_then(|b| b.rate_limit)
    }

    /// Refuses an actor without the `admin` scope: what changes an organization's
    /// rules (its key policy, its people) needs it. The operator has every scope.
    pub fn require_admin(&self) -> Result<(), AuthorityError> {
        match self.scope_ceiling() {
            Some(ceiling) if !ceiling.contains(Scope::Admin.as_str()) => {
                Err(AuthorityError::LacksScope(Scope::Admin.as_str().to_owned()))
            }
            _ => Ok(()),
        }
    }

    /// Refuses scopes beyond this actor's own, naming the first.
    pub fn check_scopes(&self, scopes: &ScopeSet) -> Result<(), AuthorityError> {
        match self.scope_ceiling() {
            Some(ceiling) => match scopes.iter().find(|s| !ceiling.contains(s)) {
                Some(beyond) => Err(AuthorityError::ScopeBeyond(beyond.to_owned())),
                None => Ok(()),
            },
            None => Ok(()),
        }
    }

    /// A requested rate-limit override checked against this actor's own: an actor
    /// with a limit cannot give a credential (itself included) a looser one, or none
    /// — an absent limit becomes the actor's own. `requested`: `None` leaves the
    /// limit alone, `Some(None)` asks for no override.
    pub fn cap_rate_limit(
        &self,
        requested: Option<Option<u32>>,
    ) -> Result<Option<Option<u32>>, AuthorityError> {
        let Some(ceiling) = self.own_rate_limit() else {
            return Ok(requested);
        };
        match requested {
            None => Ok(None),
            Some(None) => Ok(Some(Some(ceiling))),
            Some(Some(n)) if n <= ceiling => Ok(Some(Some(n))),
            Some(Some(_)) => Err(AuthorityError::RateLimitAbove(ceiling)),
        }
    }

    /// Refuses to rotate a credential this actor could not have created: one with a
    /// scope it lacks, a longer life or a looser rate allowance. A rotation's
    /// successor inherits every attribute, so rotating such a credential would mint
    /// a stronger one. `what` names it in the message (`key`, `client`).
    pub fn may_rotate(&self, what: &str, held: Holdings<'_>) -> Result<(), AuthorityError> {
        let Some(bounds) = &self.bounds else {
            return Ok(());
        };
        if let Some(lacking) = held.scopes.iter().find(|s| !bounds.scopes.contains(s)) {
            return Err(AuthorityError::LacksScope(lacking.to_owned()));
        }
        if let Some(limit) = bounds.lifetime {
            if held.expires_at.is_none_or(|at| at > limit) {
                return Err(AuthorityError::Exceeds(format!(
                    "this {what} lives longer than the caller's own credential (until {})",
                    DateTime::<Utc>::from_naive_utc_and_offset(limit, Utc).to_rfc3339()
                )));
            }
        }
        if let Some(ceiling) = bounds.rate_limit {
            if held.rate_limit.is_none_or(|n| n > i64::from(ceiling)) {
                return Err(AuthorityError::Exceeds(format!(
                    "this {what} may make more requests than the caller's own {ceiling} per minute"
                )));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scopes(text: &str) -> ScopeSet {
        ScopeSet::parse(text).unwrap()
    }

    fn bounded(lifetime: Option<DateTime<Utc>>, rate_limit: Option<u32>) -> Actor {
        let source = Source(None);
        let held = scopes("read admin");
        Actor::bounded(
            "key:key_1".into(),
            source,
            &OrgId::from("org_1"),
            held,
            lifetime,
            rate_limit,
        )
    }

    #[test]
    fn the_operator_is_unbounded() {
        let operator = Actor::operator("cli");
        assert_eq!(operator.check_scopes(&scopes("read write billing")), Ok(()));
        assert_eq!(operator.cap_rate_limit(Some(None)), Ok(Some(None)));
        assert_eq!(operator.cap_expiry(None), None);
        let held = Holdings {
            scopes: &scopes("write"),
            expires_at: None,
            rate_limit: None,
        };
        assert_eq!(operator.may_rotate("key", held), Ok(()));
    }

    #[test]
    fn a_bounded_actor_sees_only_its_organization() {
        let actor = bounded(None, None);
        assert!(actor.sees(&OrgId::from("org_1")));
        assert!(!actor.sees(&OrgId::from("org_2")));
        assert!(Actor::operator("cli").sees(&OrgId::from("org_2")));
    }

    #[test]
    fn a_bounded_actor_mints_nothing_stronger_than_itself() {
        let until = Utc::now() + chrono::Duration::days(1);
        let actor = bounded(Some(until), Some(60));
        assert_eq!(
            actor.check_scopes(&scopes("read write")),
            Err(AuthorityError::ScopeBeyond("write".into()))
        );
        assert_eq!(actor.cap_expiry(None), Some(until.naive_utc()));
        assert_eq!(actor.cap_rate_limit(Some(None)), Ok(Some(Some(60))));
        assert_eq!(actor.cap_rate_limit(Some(Some(30))), Ok(Some(Some(30))));
        assert_eq!(actor.cap_rate_limit(None), Ok(None));
        assert_eq!(
            actor.cap_rate_limit(Some(Some(61))),
            Err(AuthorityError::RateLimitAbove(60))
        );
    }

    #[test]
    fn a_bounded_actor_rotates_only_what_it_could_have_created() {
        let until = Utc::now() + chrono::Duration::days(1);
        let actor = bounded(Some(until), Some(60));
        let read = scopes("read");
        let within = Holdings {
            scopes: &read,
            expires_at: Some(until.naive_utc()),
            rate_limit: Some(60),
        };
        assert_eq!(actor.may_rotate("key", within), Ok(()));
        let write = scopes("write");
        let wider = Holdings {
            scopes: &write,
            ..within
        };
        assert_eq!(
            actor.may_rotate("key", wider),
            Err(AuthorityError::LacksScope("write".into()))
        );
        let forever = Holdings {
            expires_at: None,
            ..within
        };
        assert!(matches!(
            actor.may_rotate("key", forever),
            Err(AuthorityError::Exceeds(_))
        ));
        let looser = Holdings {
            rate_limit: None,
            ..within
        };
        assert!(matches!(
            actor.may_rotate("client", looser),
            Err(AuthorityError::Exceeds(_))
        ));
    }
}
