//! What the audit log records: one variant per kind of event, each with the details
//! it keeps. `details` are built here, from ids, names, scopes, times and settings —
//! `Secret` has no `Serialize`, so no secret can be put into one. The one exception is
//! a signing-key step, which carries the key's public metadata as its caller shows it.

use chrono::NaiveDateTime;
use serde::Serialize;
use serde_json::{json, Map, Value};

use super::model::EventType;

/// An event, with what is recorded of it.
#[derive(Clone, Debug)]
pub enum Change<'a> {
    ApiKeyCreated {
        name: &'a str,
        scopes: &'a str,
        expires_at: Option<NaiveDateTime>,
    },
    ApiKeyUpdated(Diff),
    ApiKeyRotated {
        successor: &'a str,
        old_key_expires_at: NaiveDateTime,
    },
    ApiKeyRevoked {
        name: &'a str,
    },
    BootstrapKeyIssued {
        scopes: &'a str,
    },
    ClientRegistered {
        name: &'a str,
        scope: &'a str,
        via: Option<Via>,
    },
    ClientUpdated {
        diff: Diff,
        via: Option<Via>,
    },
    ClientDisabled {
        name: &'a str,
        via: Option<Via>,
    },
    ClientSecretRotated {
        previous_secret_expires_at: Option<NaiveDateTime>,
    },
    RefreshTokenReuseDetected {
        client_id: &'a str,
    },
    /// A person let an app act for them: a code was issued (`consent`: `given` on the
    /// consent page, or `remembered` from an earlier one). Recorded in the person's
    /// organization, about the app.
    OAuthAuthorized {
        user_id: &'a str,
        scope: &'a str,
        consent: &'a str,
    },
    /// A person said no on the consent page.
    OAuthDenied {
        user_id: &'a str,
    },
    /// A person's consent for an app was withdrawn (by them or an admin): its refresh
    /// families were revoked and its access tokens stopped.
    OAuthConsentRevoked {
        user_id: &'a str,
        families_revoked: usize,
    },
    /// An authorization code was presented again: what its first use issued was revoked
    /// (RFC 6749 §4.1.2).
    AuthorizationCodeReused {
        user_id: &'a str,
    },
    /// A signing-key step; `key` is the key's public metadata as `signing-key list`
    /// shows it (never the private key).
    SigningKey {
        step: SigningKeyStep,
        key: Value,
    },
    AuthenticationFailures {
        /// The throttled client id or source address.
        throttled: &'a str,
        retry_after: u64,
    },
    OrganizationCreated {
        slug: &'a str,
        name: &'a str,
        tier: &'a str,
    },
    OrganizationTierChanged(Diff),
    /// The organization's API-key policy changed (`max_lifetime_secs`, `expiry_required`).
    ApiKeyPolicyChanged(Diff),
    /// A person was created with a membership (in the membership's organization).
    UserCreated {
        email: &'a str,
        role: &'a str,
    },
    /// A new setup link was made for a person (the old ones keep their own expiry).
    UserSetupLinkIssued {
        expires_at: NaiveDateTime,
    },
    /// A person asked for a password-reset link by mail (sent only to an account
    /// that exists, so recorded only there).
    UserPasswordResetRequested {
        expires_at: NaiveDateTime,
    },
    /// A person set a password through a one-time link (`link`: `setup` or `reset`);
    /// their sessions ended.
    UserPasswordSet {
        link: &'a str,
    },
    UserSignedIn {
        session_id: &'a str,
        /// `totp` or `recovery_code` when the sign-in passed a second factor.
        second_factor: Option<&'a str>,
    },
    /// Repeated failed sign-ins got an account (or an address) throttled: recorded
    /// once per burst, not per failure.
    UserSignInFailures {
        throttled: &'a str,
        retry_after: u64,
    },
    UserSignedOut {
        session_id: &'a str,
    },
    /// A person's account was disabled; every session of theirs ended.
    UserDisabled {
        email: &'a str,
        sessions_ended: usize,
    },
    /// A person was made a member (`new_account`: their account was made for it, and
    /// a setup link shown to the inviter).
    MemberInvited {
        email: &'a str,
        role: &'a str,
        new_account: bool,
    },
    MemberRoleChanged {
        email: &'a str,
        from: &'a str,
        to: &'a str,
    },
    /// A person's membership ended; their sessions in the organization with it.
    MemberRemoved {
        email: &'a str,
        role: &'a str,
        sessions_ended: usize,
    },
    /// A person turned on TOTP (with recovery codes).
    UserSecondFactorEnabled,
    UserSecondFactorDisabled,
    /// A person changed their password (knowing the old one); their other sessions ended.
    UserPasswordChanged {
        sessions_ended: usize,
    },
    /// Whether members must sign in with a second factor.
    OrganizationSecondFactorRequirementChanged(Diff),
    OrganizationRenamed(Diff),
}

/// Which signing-key step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SigningKeyStep {
    Generated,
    Activated,
    Retired,
    Removed,
}

/// Which door a client change came through, where it was not the management API or
/// the CLI (`None`: their actor says which).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Via {
    /// RFC 7591 dynamic registration.
    Rfc7591,
    /// RFC 7592 registration management.
    Rfc7592,
}

/// What changed, field by field: `{field: {"from", "to"}}` for every field that did.
#[derive(Clone, Debug, Default)]
pub struct Diff(Map<String, Value>);

impl Diff {
    /// Adds `field` if `from` and `to` differ. Values are ids, names, scopes and
    /// settings, never secrets (which cannot be serialized).
    pub fn field<T: Serialize + PartialEq + ?Sized>(
        mut self,
        name: &str,
        from: &T,
        to: &T,
    ) -> Self {
        if from != to {
            self.0
                .insert(name.to_owned(), json!({"from": from, "to": to}));
        }
        self
    }

    /// Adds `field` whether or not it changed.
    pub fn shown<T: Serialize + ?Sized>(mut self, name: &str, from: &T, to: &T) -> Self {
        self.0
            .insert(name.to_owned(), json!({"from": from, "to": to}));
        self
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl Change<'_> {
    pub fn event_type(&self) -> EventType {
        match self {
            Self::ApiKeyCreated { .. } => EventType::ApiKeyCreated,
            Self::ApiKeyUpdated(_) => EventType::ApiKeyUpdated,
            Self::ApiKeyRotated { .. } => EventType::ApiKeyRotated,
            Self::ApiKeyRevoked { .. } => EventType::ApiKeyRevoked,
            Self::BootstrapKeyIssued { .. } => EventType::BootstrapKeyIssued,
            Self::ClientRegistered { .. } => EventType::ClientRegistered,
            Self::ClientUpdated { .. } => EventType::ClientUpdated,
            Self::ClientDisabled { .. } => EventType::ClientDisabled,
            Self::ClientSecretRotated { .. } => EventType::ClientSecretRotated,
            Self::RefreshTokenReuseDetected { .. } => EventType::RefreshTokenReuseDetected,
            Self::SigningKey { step, .. } => match step {
                SigningKeyStep::Generated => EventType::SigningKeyGenerated,
                SigningKeyStep::Activated => EventType::SigningKeyActivated,
                SigningKeyStep::Retired => EventType::SigningKeyRetired,
                SigningKeyStep::Removed => EventType::SigningKeyRemoved,
            },
            Self::AuthenticationFailures { .. } => EventType::AuthenticationFailures,
            Self::OrganizationCreated { .. } => EventType::OrganizationCreated,
            Self::OrganizationTierChanged(_) => EventType::OrganizationTierChanged,
            Self::ApiKeyPolicyChanged(_) => EventType::ApiKeyPolicyChanged,
            Self::UserCreated { .. } => EventType::UserCreated,
            Self::UserSetupLinkIssued { .. } => EventType::UserSetupLinkIssued,
            Self::UserPasswordResetRequested { .. } => EventType::UserPasswordResetRequested,
            Self::UserPasswordSet { .. } => EventType::UserPasswordSet,
            Self::OAuthAuthorized { .. } => EventType::OAuthAuthorized,
            Self::OAuthDenied { .. } => EventType::OAuthDenied,
            Self::OAuthConsentRevoked { .. } => EventType::OAuthConsentRevoked,
            Self::AuthorizationCodeReused { .. } => EventType::AuthorizationCodeReused,
            Self::UserSignedIn { .. } => EventType::UserSignedIn,
            Self::UserSignInFailures { .. } => EventType::UserSignInFailures,
            Self::UserSignedOut { .. } => EventType::UserSignedOut,
            Self::UserDisabled { .. } => EventType::UserDisabled,
            Self::MemberInvited { .. } => EventType::MemberInvited,
            Self::MemberRoleChanged { .. } => EventType::MemberRoleChanged,
            Self::MemberRemoved { .. } => EventType::MemberRemoved,
            Self::UserSecondFactorEnabled => EventType::UserSecondFactorEnabled,
            Self::UserSecondFactorDisabled => EventType::UserSecondFactorDisabled,
            Self::UserPasswordChanged { .. } => EventType::UserPasswordChanged,
            Self::OrganizationSecondFactorRequirementChanged(_) => {
                EventType::OrganizationSecondFactorRequirementChanged
            }
            Self::OrganizationRenamed(_) => EventType::OrganizationRenamed,
        }
    }

    /// The event's `details`.
    pub fn details(self) -> Value {
        match self {
            Self::ApiKeyCreated {
                name,
                scopes,
                expires_at,
            } => {
                json!({"name": name, "scopes": scopes, "expires_at": expires_at.map(|t| t.and_utc())})
            }
            Self::ApiKeyUpdated(diff) => Value::Object(diff.0),
            Self::ApiKeyRotated {
                successor,
                old_key_expires_at,
            } => {
                json!({"successor": successor, "old_key_expires_at": old_key_expires_at.and_utc()})
            }
            Self::ApiKeyRevoked { name } => json!({"name": name}),
            Self::BootstrapKeyIssued { scopes } => json!({"scopes": scopes}),
            Self::ClientRegistered { name, scope, via } => {
                with_via(json!({"name": name, "scope": scope}), via)
            }
            Self::ClientUpdated { diff, via } => with_via(Value::Object(diff.0), via),
            Self::ClientDisabled { name, via } => with_via(json!({"name": name}), via),
            Self::ClientSecretRotated {
                previous_secret_expires_at,
            } => {
                json!({"previous_secret_expires_at": previous_secret_expires_at.map(|t| t.and_utc())})
            }
            Self::RefreshTokenReuseDetected { client_id } => {
                json!({"client_id": client_id, "family_revoked": true})
            }
            Self::SigningKey { key, .. } => key,
            Self::AuthenticationFailures {
                throttled,
                retry_after,
            } => json!({"throttled": throttled, "retry_after": retry_after}),
            Self::OrganizationCreated { slug, name, tier } => {
                json!({"slug": slug, "name": name, "tier": tier})
            }
            Self::OrganizationTierChanged(diff) | Self::ApiKeyPolicyChanged(diff) => {
                Value::Object(diff.0)
            }
            Self::UserCreated { email, role } => json!({"email": email, "role": role}),
            Self::UserSetupLinkIssued { expires_at } => {
                json!({"expires_at": expires_at.and_utc()})
            }
            Self::UserPasswordResetRequested { expires_at } => {
                json!({"expires_at": expires_at.and_utc()})
            }
            Self::UserPasswordSet { link } => json!({ "link": link }),
            Self::OAuthAuthorized {
                user_id,
                scope,
                consent,
            } => json!({"user_id": user_id, "scope": scope, "consent": consent}),
            Self::OAuthDenied { user_id } | Self::AuthorizationCodeReused { user_id } => {
                json!({ "user_id": user_id })
            }
            Self::OAuthConsentRevoked {
                user_id,
                families_revoked,
            } => json!({"user_id": user_id, "families_revoked": families_revoked}),
            Self::UserSignedIn {
                session_id,
                second_factor: Some(method),
            } => json!({"session_id": session_id, "second_factor": method}),
            Self::UserSignedIn {
                session_id,
                second_factor: None,
            }
            | Self::UserSignedOut { session_id } => json!({"session_id": session_id}),
            Self::UserSignInFailures {
                throttled,
                retry_after,
            } => json!({"throttled": throttled, "retry_after": retry_after}),
            Self::UserDisabled {
                email,
                sessions_ended,
            } => json!({"email": email, "sessions_ended": sessions_ended}),
            Self::MemberInvited {
                email,
                role,
                new_account,
            } => json!({"email": email, "role": role, "new_account": new_account}),
            Self::MemberRoleChanged { email, from, to } => {
                json!({"email": email, "role": {"from": from, "to": to}})
            }
            Self::MemberRemoved {
                email,
                role,
                sessions_ended,
            } => json!({"email": email, "role": role, "sessions_ended": sessions_ended}),
            Self::UserSecondFactorEnabled | Self::UserSecondFactorDisabled => {
                json!({"method": "totp"})
            }
            Self::UserPasswordChanged { sessions_ended } => {
                json!({"sessions_ended": sessions_ended})
            }
            Self::OrganizationSecondFactorRequirementChanged(diff)
            | Self::OrganizationRenamed(diff) => Value::Object(diff.0),
        }
    }
}

fn with_via(mut details: Value, via: Option<Via>) -> Value {
    let via = match via {
        None => return details,
        Some(Via::Rfc7591) => "rfc7591",
        Some(Via::Rfc7592) => "rfc7592",
    };
    if let Value::Object(fields) = &mut details {
        fields.insert("via".into(), via.into());
    }
    details
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_diff_keeps_only_what_changed() {
        let diff = Diff::default()
            .field("name", "a", "b")
            .field("scopes", "read", "read")
            .field("rate_limit_per_minute", &Some(5), &None::<i64>);
        assert_eq!(
            Change::ApiKeyUpdated(diff).details(),
            json!({"name": {"from": "a", "to": "b"}, "rate_limit_per_minute": {"from": 5, "to": null}})
        );
    }

    #[test]
    fn rfc7591_and_7592_changes_say_so() {
        let registered = Change::ClientRegistered {
            name: "n",
            scope: "read",
            via: Some(Via::Rfc7591),
        };
        assert_eq!(registered.event_type(), EventType::ClientRegistered);
        assert_eq!(
            registered.details(),
            json!({"name": "n", "scope": "read", "via": "rfc7591"})
        );
        let disabled = Change::ClientDisabled {
            name: "n",
            via: None,
        };
        assert_eq!(disabled.details(), json!({"name": "n"}));
    }
}
