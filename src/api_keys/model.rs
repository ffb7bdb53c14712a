use std::time::Duration;

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::format::{self, Environment};
use crate::identity::authority::Actor;
use crate::ids::ApiKeyId;
use crate::ids::OrgId;
use crate::scope::{ScopeError, ScopeSet};
use crate::store::schema::api_keys;
use crate::tokens::TokenKind;

const MAX_NAME_LEN: usize = 200;
/// Shortest and longest expiry a key may be created with.
pub const MIN_EXPIRES_IN: Duration = Duration::from_secs(60);
pub const MAX_EXPIRES_IN: Duration = Duration::from_secs(10 * 365 * 24 * 3600);
/// Longest a rotated key keeps working beside its successor.
pub const MAX_ROTATION_OVERLAP: Duration = Duration::from_secs(30 * 24 * 3600);

/// Whether `text` could be a key id at all; anything else is a 404 without a query.
pub fn is_key_id(text: &str) -> bool {
    TokenKind::ApiKeyId.is_id(text)
}

/// A stored API key: its digest, never the key. Rows never serialize; the handlers'
/// views decide what is shown. `Debug` leaves out the digest.
#[derive(Clone, Queryable, Selectable)]
#[diesel(table_name = api_keys)]
pub struct ApiKey {
    pub id: ApiKeyId,
    pub org_id: OrgId,
    pub name: String,
    pub environment: String,
    pub key_hash: String,
    pub last_four: String,
    pub scopes: String,
    pub created_by: String,
    pub created_at: NaiveDateTime,
    pub expires_at: Option<NaiveDateTime>,
    pub last_used_at: Option<NaiveDateTime>,
    pub revoked_at: Option<NaiveDateTime>,
    pub replaced_by: Option<ApiKeyId>,
    /// Requests per minute for this key alone, below its organization's tier.
    pub rate_limit_per_minute: Option<i64>,
}

impl std::fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiKey")
            .field("id", &self.id)
            .field("org_id", &self.org_id)
            .field("name", &self.name)
            .field("scopes", &self.scopes)
            .field("expires_at", &self.expires_at)
            .field("revoked_at", &self.revoked_at)
            .finish_non_exhaustive()
    }
}

/// Whether a key works at `now`, and if not, why.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyState {
    Active,
    Expired(NaiveDateTime),
    Revoked(NaiveDateTime),
}

impl ApiKey {
    /// What changed from `before` to this row, for the audit log: nothing if no
    /// setting a key's owner may change did, else all three (`{from, to}` each), as
    /// `api_key.updated` has always shown them. Never the key or its digest.
    pub fn changes_from(&self, before: &ApiKey) -> crate::audit::Diff {
        let settings = |k: &ApiKey| (k.name.clone(), k.scopes.clone(), k.rate_limit_per_minute);
        if settings(self) == settings(before) {
            return crate::audit::Diff::default();
        }
        crate::audit::Diff::default()
            .shown(
                "rate_limit_per_minute",
                &before.rate_limit_per_minute,
                &self.rate_limit_per_minute,
            )
            .shown("name", &before.name, &self.name)
            .shown("scopes", &before.scopes, &self.scopes)
    }
}

impl crate::audit::Audited for ApiKey {
    fn org_id(&self) -> &OrgId {
        &self.org_id
    }

    fn audited_id(&self) -> &str {
        self.id.as_str()
    }
}

impl ApiKey {
    pub fn environment(&self) -> Environment {
        Environment::parse(&self.environment).unwrap_or(Environment::Live)
    }

    /// `kg_live_…a1b2`.
    pub fn masked(&self) -> String {
        format::masked(self.environment(), &self.last_four)
    }

    pub fn scope_set(&self) -> ScopeSet {
        // Written by `create`/`update` from a parsed set, so it parses.
        ScopeSet::parse(&self.scopes).unwrap_or_default()
    }

    /// Revocation wins over expiry: a revoked key says so even once it has expired.
    pub fn state(&self, now: NaiveDateTime) -> KeyState {
        if let Some(at) = self.revoked_at {
            return KeyState::Revoked(at);
        }
        match self.expires_at {
            Some(at) if at <= now => KeyState::Expired(at),
            _ => KeyState::Active,
        }
    }
}

#[derive(Debug, Insertable)]
#[diesel(table_name = api_keys)]
pub struct NewApiKey<'a> {
    pub id: &'a ApiKeyId,
    pub org_id: &'a OrgId,
    pub name: &'a str,
    pub environment: &'a str,
    pub key_hash: &'a str,
    pub last_four: &'a str,
    pub scopes: &'a str,
    pub created_by: &'a str,
    pub created_at: NaiveDateTime,
    pub expires_at: Option<NaiveDateTime>,
    pub rate_limit_per_minute: Option<i64>,
}

/// A validated request for a new key.
#[derive(Clone, Debug)]
pub struct KeyDraft {
    pub org_id: OrgId,
    pub name: String,
    pub environment: Environment,
    pub scopes: ScopeSet,
    pub expires_at: Option<NaiveDateTime>,
    pub created_by: String,
    pub rate_limit_per_minute: Option<u32>,
}

/// What a caller asks for; validated by `KeyDraft::new`.
#[derive(Clone, Debug, Default)]
pub struct KeyRequest {
    pub name: String,
    /// Space-separated or repeated scope names.
    pub scopes: Vec<String>,
    pub environment: Option<Environment>,
    pub expires_in: Option<Duration>,
    /// Requests per minute for this key alone (it can only tighten the tier's).
    pub rate_limit_per_minute: Option<u32>,
}

/// Why a key request was refused; each names the field at fault.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KeyRequestError {
    #[error("name must be 1 to {MAX_NAME_LEN} characters without control characters")]
    Name,
    #[error("scopes: {0}")]
    ScopeSyntax(#[from] ScopeError),
    #[error("scopes: at least one scope is needed")]
    NoScopes,
    #[error("scopes: '{0}' is not a scope keygate knows")]
    UnknownScope(String),
    #[error("scopes: '{0}' is beyond the creator's own scopes")]
    BeyondCreator(String),
    #[error("scopes: a key's scopes can only be narrowed, and '{0}' is not among them")]
    Widening(String),
    #[error("expires_in (or expires_at) must be between 1 minute and 10 years from now")]
    ExpiresIn,
    #[error("overlap must be at most 30 days")]
    Overlap,
    #[error("rate_limit_per_minute must be between 1 and {MAX_RATE_LIMIT}")]
    RateLimit,
    /// The organization's policy (`policy::KeyPolicy::describe`) wants an expiry.
    #[error("expires_in (or expires_at) is required: this organization's policy is that {0}")]
    ExpiryRequired(String),
    /// The expiry asked for is later than the organization's policy allows.
    #[error("expires_in: this organization's policy is that {0}")]
    BeyondPolicy(String),
}

impl KeyRequestError {
    /// The request field this error is about, for the envelope's `details.field`.
    pub fn field(&self) -> &'static str {
        match self {
            Self::Name => "name",
            Self::ScopeSyntax(_)
            | Self::NoScopes
            | Self::UnknownScope(_)
            | Self::BeyondCreator(_)
            | Self::Widening(_) => "scopes",
            Self::ExpiresIn | Self::ExpiryRequired(_) | Self::BeyondPolicy(_) => "expires_in",
            Self::Overlap => "overlap",
            Self::RateLimit => "rate_limit_per_minute",
        }
    }
}

/// The largest per-key requests-per-minute override.
pub const MAX_RATE_LIMIT: u32 = 1_000_000;

pub fn validate_rate_limit(limit: Option<u32>) -> Result<Option<u32>, KeyRequestError> {
    match limit {
        Some(n) if !(1..=MAX_RATE_LIMIT).contains(&n) => Err(KeyRequestError::RateLimit),
        other => Ok(other),
    }
}

pub fn validate_name(name: &str) -> Result<String, KeyRequestError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME_LEN || name.chars().any(char::is_control)
    {
        return Err(KeyRequestError::Name);
    }
    Ok(name.to_owned())
}

/// Parses scopes and checks them against the configured set and `ceiling` (the
/// creator's own; `None`: the operator's, any configured scope).
pub fn validate_scopes(
    scopes: &[String],
    known: &ScopeSet,
    ceiling: Option<&ScopeSet>,
) -> Result<ScopeSet, KeyRequestError> {
    let set = ScopeSet::parse(&scopes.join(" "))?;
    if set.is_empty() {
        return Err(KeyRequestError::NoScopes);
    }
    if let Some(unknown) = set.iter().find(|s| !known.contains(s)) {
        return Err(KeyRequestError::UnknownScope(unknown.to_owned()));
    }
    if let Some(ceiling) = ceiling {
        if let Some(beyond) = set.iter().find(|s| !ceiling.contains(s)) {
            return Err(KeyRequestError::BeyondCreator(beyond.to_owned()));
        }
    }
    Ok(set)
}

impl KeyDraft {
    pub fn new(
        request: KeyRequest,
        org_id: &OrgId,
        known: &ScopeSet,
        actor: &Actor,
        now: NaiveDateTime,
    ) -> Result<Self, KeyRequestError> {
        let name = validate_name(&request.name)?;
        let scopes = validate_scopes(&request.scopes, known, actor.scope_ceiling())?;
        let expires_at = match request.expires_in {
            None => None,
            Some(d) if (MIN_EXPIRES_IN..=MAX_EXPIRES_IN).contains(&d) => {
                Some(now + chrono::Duration::from_std(d).map_err(|_| KeyRequestError::ExpiresIn)?)
            }
            Some(_) => return Err(KeyRequestError::ExpiresIn),
        };
        let expires_at = actor.cap_expiry(expires_at);
        Ok(Self {
            org_id: org_id.clone(),
            name,
            environment: request.environment.unwrap_or(Environment::Live),
            scopes,
            expires_at,
            created_by: actor.label().to_owned(),
            rate_limit_per_minute: validate_rate_limit(request.rate_limit_per_minute)?,
        })
    }
}

/// A key just created or rotated: the row and the key itself (shown once).
#[derive(Debug)]
pub struct IssuedKey {
    pub row: ApiKey,
    pub key: crate::secret::Secret,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn known() -> ScopeSet {
        ScopeSet::parse("read write admin webhook").unwrap()
    }

    fn now() -> NaiveDateTime {
        chrono::Utc::now().naive_utc()
    }

    fn principal(scopes: ScopeSet, lifetime: Option<NaiveDateTime>) -> Actor {
        let source = crate::audit::Source(None);
        let lifetime = lifetime.map(|t| t.and_utc());
        Actor::bounded(
            "key:key_1".into(),
            source,
            &OrgId::from("org_1"),
            scopes,
            lifetime,
            None,
        )
    }

    fn request(scopes: &str) -> KeyRequest {
        KeyRequest {
            name: "ci".into(),
            scopes: vec![scopes.into()],
            ..Default::default()
        }
    }

    #[test]
    fn a_principal_cannot_hand_out_scopes_it_lacks() {
        let reader = principal(ScopeSet::parse("read admin").unwrap(), None);
        let draft = KeyDraft::new(
            request("read"),
            &OrgId::from("org_1"),
            &known(),
            &reader,
            now(),
        )
        .unwrap();
        assert_eq!(draft.scopes.to_string(), "read");
        assert_eq!(
            KeyDraft::new(
                request("read write"),
                &OrgId::from("org_1"),
                &known(),
                &reader,
                now()
            )
            .unwrap_err(),
            KeyRequestError::BeyondCreator("write".into())
        );
        let operator = Actor::operator("cli");
        assert!(KeyDraft::new(
            request("read write"),
            &OrgId::from("o"),
            &known(),
            &operator,
            now()
        )
        .is_ok());
        assert_eq!(
            KeyDraft::new(
                request("billing"),
                &OrgId::from("o"),
                &known(),
                &operator,
                now()
            )
            .unwrap_err(),
            KeyRequestError::UnknownScope("billing".into())
        );
        assert_eq!(
            KeyDraft::new(request(" "), &OrgId::from("o"), &known(), &operator, now()).unwrap_err(),
            KeyRequestError::NoScopes
        );
    }

    #[test]
    fn a_key_never_outlives_the_key_that_made_it() {
        let t = now();
        let limit = t + chrono::Duration::days(1);
        let creator = principal(known(), Some(limit));
        let forever =
            KeyDraft::new(request("read"), &OrgId::from("o"), &known(), &creator, t).unwrap();
        assert_eq!(forever.expires_at, Some(limit));
        let mut long = request("read");
        long.expires_in = Some(Duration::from_secs(90 * 86400));
        let long = KeyDraft::new(long, &OrgId::from("o"), &known(), &creator, t).unwrap();
        assert_eq!(long.expires_at, Some(limit));
        let mut short = request("read");
        short.expires_in = Some(Duration::from_secs(3600));
        let short = KeyDraft::new(short, &OrgId::from("o"), &known(), &creator, t).unwrap();
        assert_eq!(short.expires_at, Some(t + chrono::Duration::hours(1)));
    }

    #[test]
    fn names_and_expiry_are_bounded() {
        let operator = Actor::operator("cli");
        for bad in ["", "   ", "a\u{0}b", &"x".repeat(201)] {
            let mut r = request("read");
            r.name = bad.into();
            assert_eq!(
                KeyDraft::new(r, &OrgId::from("o"), &known(), &operator, now()).unwrap_err(),
                KeyRequestError::Name
            );
        }
        let mut r = request("read");
        r.expires_in = Some(Duration::from_secs(59));
        assert_eq!(
            KeyDraft::new(r, &OrgId::from("o"), &known(), &operator, now()).unwrap_err(),
            KeyRequestError::ExpiresIn
        );
        let mut r = request("read");
        r.expires_in = Some(Duration::from_secs(90 * 86400));
        let draft = KeyDraft::new(r, &OrgId::from("o"), &known(), &operator, now()).unwrap();
        assert!(draft.expires_at.is_some());
    }

    #[test]
    fn key_ids_are_recognised_by_shape() {
        let id = ApiKeyId::generate();
        assert!(is_key_id(id.as_str()));
        assert!(!is_key_id("key_../../etc"));
        assert!(!is_key_id("kgc_0123"));
    }

    /// Narrowing over generated sets: a key's scopes are accepted exactly when they
    /// are non-empty, configured and within the creator's own, and then are exactly
    /// what was asked for.
    mod properties {
        use super::*;
        use proptest::collection::btree_set;
        use proptest::prelude::*;

        const VOCABULARY: [&str; 6] = ["read", "write", "admin", "webhook", "billing", "x:y"];

        fn set() -> impl Strategy<Value = std::collections::BTreeSet<&'static str>> {
            btree_set(
                proptest::sample::select(&VOCABULARY[..]),
                0..=VOCABULARY.len(),
            )
        }

        fn parse(set: &std::collections::BTreeSet<&str>) -> ScopeSet {
            ScopeSet::parse(&set.iter().copied().collect::<Vec<_>>().join(" ")).unwrap()
        }

        proptest! {
            #[test]
            fn a_key_gets_exactly_the_asked_scopes_within_known_and_ceiling(
                asked in set(),
                configured in set(),
                ceiling in set(),
                as_operator in any::<bool>(),
            ) {
                let bound = (!as_operator).then(|| parse(&ceiling));
                let request: Vec<String> = asked.iter().map(|s| s.to_string()).collect();
                let result = validate_scopes(&request, &parse(&configured), bound.as_ref());
                let within = asked.is_subset(&configured) && (as_operator || asked.is_subset(&ceiling));
                prop_assert_eq!(result.is_ok(), !asked.is_empty() && within);
                if let Ok(granted) = result {
                    prop_assert_eq!(granted, parse(&asked));
                }
            }
        }
    }
}
