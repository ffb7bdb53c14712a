use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::ids::OrgId;
use crate::store::schema::audit_events;

/// Every kind of event the log records, with its wire name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventType {
    ApiKeyCreated,
    ApiKeyUpdated,
    ApiKeyRotated,
    ApiKeyRevoked,
    BootstrapKeyIssued,
    ClientRegistered,
    ClientUpdated,
    ClientDisabled,
    ClientSecretRotated,
    RefreshTokenReuseDetected,
    SigningKeyGenerated,
    SigningKeyActivated,
    SigningKeyRetired,
    SigningKeyRemoved,
    AuthenticationFailures,
    OrganizationCreated,
    OrganizationTierChanged,
    ApiKeyPolicyChanged,
    UserCreated,
    UserSetupLinkIssued,
    UserPasswordResetRequested,
    UserPasswordSet,
    UserSignedIn,
    UserSignInFailures,
    UserSignedOut,
    UserDisabled,
    MemberInvited,
    MemberRoleChanged,
    MemberRemoved,
    UserSecondFactorEnabled,
    UserSecondFactorDisabled,
    UserPasswordChanged,
    OrganizationSecondFactorRequirementChanged,
    OrganizationRenamed,
    OAuthAuthorized,
    OAuthDenied,
    OAuthConsentRevoked,
    AuthorizationCodeReused,
}

/// Its schema: a string, one of the wire names.
impl utoipa::PartialSchema for EventType {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::Type::String)
            .enum_values(Some(Self::ALL.iter().map(|t| t.as_str())))
            .into()
    }
}

impl utoipa::ToSchema for EventType {}

impl EventType {
    pub const ALL: [EventType; 38] = [
        Self::ApiKeyCreated,
        Self::ApiKeyUpdated,
        Self::ApiKeyRotated,
        Self::ApiKeyRevoked,
        Self::BootstrapKeyIssued,
        Self::ClientRegistered,
        Self::ClientUpdated,
        Self::ClientDisabled,
        Self::ClientSecretRotated,
        Self::RefreshTokenReuseDetected,
        Self::SigningKeyGenerated,
        Self::SigningKeyActivated,
        Self::SigningKeyRetired,
        Self::SigningKeyRemoved,
        Self::AuthenticationFailures,
        Self::OrganizationCreated,
        Self::OrganizationTierChanged,
        Self::ApiKeyPolicyChanged,
        Self::UserCreated,
        Self::UserSetupLinkIssued,
        Self::UserPasswordResetRequested,
        Self::UserPasswordSet,
        Self::UserSignedIn,
        Self::UserSignInFailures,
        Self::UserSignedOut,
        Self::UserDisabled,
        Self::MemberInvited,
        Self::MemberRoleChanged,
        Self::MemberRemoved,
        Self::UserSecondFactorEnabled,
        Self::UserSecondFactorDisabled,
        Self::UserPasswordChanged,
        Self::OrganizationSecondFactorRequirementChanged,
        Self::OrganizationRenamed,
        Self::OAuthAuthorized,
        Self::OAuthDenied,
        Self::OAuthConsentRevoked,
        Self::AuthorizationCodeReused,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::ApiKeyCreated => "api_key.created",
            Self::ApiKeyUpdated => "api_key.updated",
            Self::ApiKeyRotated => "api_key.rotated",
            Self::ApiKeyRevoked => "api_key.revoked",
            Self::BootstrapKeyIssued => "api_key.bootstrap_issued",
            Self::ClientRegistered => "client.registered",
            Self::ClientUpdated => "client.updated",
            Self::ClientDisabled => "client.disabled",
            Self::ClientSecretRotated => "client.secret_rotated",
            Self::RefreshTokenReuseDetected => "refresh_token.reuse_detected",
            Self::SigningKeyGenerated => "signing_key.generated",
            Self::SigningKeyActivated => "signing_key.activated",
            Self::SigningKeyRetired => "signing_key.retired",
            Self::SigningKeyRemoved => "signing_key.removed",
            Self::AuthenticationFailures => "authentication.failures",
            Self::OrganizationCreated => "organization.created",
            Self::OrganizationTierChanged => "organization.tier_changed",
            Self::ApiKeyPolicyChanged => "organization.api_key_policy_changed",
            Self::UserCreated => "user.created",
            Self::UserSetupLinkIssued => "user.setup_link_issued",
            Self::UserPasswordResetRequested => "user.password_reset_requested",
            Self::UserPasswordSet => "user.password_set",
            Self::UserSignedIn => "user.signed_in",
            Self::UserSignInFailures => "user.sign_in_failures",
            Self::UserSignedOut => "user.signed_out",
            Self::UserDisabled => "user.disabled",
            Self::MemberInvited => "member.invited",
            Self::MemberRoleChanged => "member.role_changed",
            Self::MemberRemoved => "member.removed",
            Self::UserSecondFactorEnabled => "user.second_factor_enabled",
            Self::UserSecondFactorDisabled => "user.second_factor_disabled",
            Self::UserPasswordChanged => "user.password_changed",
            Self::OrganizationSecondFactorRequirementChanged => {
                "organization.second_factor_requirement_changed"
            }
            Self::OrganizationRenamed => "organization.renamed",
            Self::OAuthAuthorized => "oauth.authorized",
            Self::OAuthDenied => "oauth.denied",
            Self::OAuthConsentRevoked => "oauth.consent_revoked",
            Self::AuthorizationCodeReused => "authorization_code.reuse_detected",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == text)
    }

    /// What kind of thing the event is about.
    pub fn target_type(self) -> &'static str {
        match self {
            Self::ApiKeyCreated
            | Self::ApiKeyUpdated
            | Self::ApiKeyRotated
            | Self::ApiKeyRevoked
            | Self::BootstrapKeyIssued => "api_key",
            Self::ClientRegistered
            | Self::ClientUpdated
            | Self::ClientDisabled
            | Self::ClientSecretRotated
            | Self::AuthenticationFailures
            | Self::OAuthAuthorized
            | Self::OAuthDenied
            | Self::OAuthConsentRevoked
            | Self::AuthorizationCodeReused => "client",
            Self::RefreshTokenReuseDetected => "refresh_family",
            Self::SigningKeyGenerated
            | Self::SigningKeyActivated
            | Self::SigningKeyRetired
            | Self::SigningKeyRemoved => "signing_key",
            Self::OrganizationCreated
            | Self::OrganizationTierChanged
            | Self::ApiKeyPolicyChanged
            | Self::OrganizationSecondFactorRequirementChanged
            | Self::OrganizationRenamed => "organization",
            Self::UserCreated
            | Self::UserSetupLinkIssued
            | Self::UserPasswordResetRequested
            | Self::UserPasswordSet
            | Self::UserSignedIn
            | Self::UserSignInFailures
            | Self::UserSignedOut
            | Self::UserDisabled
            | Self::MemberInvited
            | Self::MemberRoleChanged
            | Self::MemberRemoved
            | Self::UserSecondFactorEnabled
            | Self::UserSecondFactorDisabled
            | Self::UserPasswordChanged => "user",
        }
    }
}

/// The longest actor label a filter may name (`registration:kgc_…` is 45).
pub const MAX_ACTOR_LEN: usize = 100;

/// Why an actor filter is refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("actor must be 1 to {MAX_ACTOR_LEN} letters, digits or _ : . - @, such as user:usr_… or key:key_…")]
pub struct ActorFilterError;

/// An actor label to filter the log by (`user:usr_…`, `key:key_…`, `client:kgc_…`,
/// `cli`…), matched exactly: trimmed, 1 to `MAX_ACTOR_LEN` ASCII letters, digits and
/// `_ : . - @` — what the labels keygate writes are made of, so anything else names
/// no actor and is refused rather than searched for.
pub fn parse_actor(text: &str) -> Result<String, ActorFilterError> {
    let text = text.trim();
    let allowed = |c: char| c.is_ascii_alphanumeric() || "_:.-@".contains(c);
    if text.is_empty() || text.len() > MAX_ACTOR_LEN || !text.chars().all(allowed) {
        return Err(ActorFilterError);
    }
    Ok(text.to_owned())
}

/// Where a change came from: the request's peer address (not a forwarded header,
/// which anyone can set), or nothing for the CLI and background work.
#[derive(Clone, Debug, Default)]
pub struct Source(pub Option<String>);

impl Source {
    pub fn of(req: &actix_web::HttpRequest) -> Self {
        Self(req.peer_addr().map(|addr| addr.ip().to_string()))
    }
}

/// What an event can be about: a row that knows its organization and its id (a
/// client, an API key), for `repo::record`.
pub trait Audited {
    fn org_id(&self) -> &OrgId;
    fn audited_id(&self) -> &str;
}

#[derive(Insertable)]
#[diesel(table_name = audit_events)]
pub struct EventRow<'a> {
    pub id: &'a str,
    pub org_id: &'a OrgId,
    pub event_type: &'a str,
    pub actor: &'a str,
    pub target_type: &'a str,
    pub target_id: &'a str,
    pub source_ip: Option<&'a str>,
    pub details: &'a str,
    pub created_at: NaiveDateTime,
}

/// A recorded event.
#[derive(Clone, Debug, Queryable, Selectable)]
#[diesel(table_name = audit_events)]
pub struct Event {
    pub id: String,
    pub org_id: OrgId,
    pub event_type: String,
    pub actor: String,
    pub target_type: String,
    pub target_id: String,
    pub source_ip: Option<String>,
    pub details: String,
    pub created_at: NaiveDateTime,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_actor_filter_is_a_label_and_nothing_else() {
        for good in [
            "cli",
            "user:usr_0a1b",
            "key:key_x",
            " client:kgc_1 ",
            "a@b.c-d",
        ] {
            assert_eq!(parse_actor(good).unwrap(), good.trim(), "{good}");
        }
        let long = "u".repeat(MAX_ACTOR_LEN + 1);
        for bad in [
            "",
            "   ",
            "user usr",
            "user:%",
            "<script>",
            "a'b",
            "ü",
            "a\nb",
            long.as_str(),
        ] {
            assert_eq!(parse_actor(bad), Err(ActorFilterError), "{bad:?}");
        }
        assert!(parse_actor(&"u".repeat(MAX_ACTOR_LEN)).is_ok());
    }
}
