//! The typed ids of keygate's rows: an organization's, an API key's, a client's, a
//! person's, a sign-in session's. Each
//! is its own type (`store::typed_id`), so rows, repos, the actor and the principal
//! cannot pass one where another is meant — in a multi-tenant server, the mix-up that
//! becomes a cross-organization read. They live here rather than beside their
//! domains because every domain names the others' ids (a key's organization, a
//! refresh family's client) and none should import another's model for it.

use crate::store::typed_id;
use crate::tokens::TokenKind;

typed_id! {
    /// An organization's id (`org_…`), as stored in `organizations.id`.
    OrgId
}

typed_id! {
    /// An API key's public identifier: `key_` + a UUIDv7 in hex (time-ordered).
    ApiKeyId
}

typed_id! {
    /// A client's public identifier (`kgc_…`).
    ClientId
}

typed_id! {
    /// A person's id (`usr_…`), as stored in `users.id`.
    UserId
}

typed_id! {
    /// A sign-in session's public id (`ses_…`), as stored in `user_sessions.id` and
    /// shown on the account page — never its token (`kgss_…`), which only the cookie
    /// carries.
    SessionId
}

impl OrgId {
    pub fn generate() -> Self {
        Self::from(TokenKind::OrgId.with_suffix(uuid::Uuid::new_v4().simple()))
    }
}

impl ApiKeyId {
    pub fn generate() -> Self {
        Self::from(TokenKind::ApiKeyId.with_suffix(uuid::Uuid::now_v7().simple()))
    }
}

impl UserId {
    pub fn generate() -> Self {
        Self::from(TokenKind::UserId.with_suffix(uuid::Uuid::new_v4().simple()))
    }
}

impl SessionId {
    pub fn generate() -> Self {
        Self::from(TokenKind::SessionId.with_suffix(uuid::Uuid::new_v4().simple()))
    }
}

impl ClientId {
    pub fn generate() -> Self {
        // v7: time-ordered, so listing by id lists by creation.
        Self::from(TokenKind::ClientId.with_suffix(uuid::Uuid::now_v7().simple()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_id_has_its_kinds_prefix() {
        assert_eq!(
            TokenKind::of_prefix(OrgId::generate().as_str()),
            Some(TokenKind::OrgId)
        );
        assert_eq!(
            TokenKind::of_prefix(ApiKeyId::generate().as_str()),
            Some(TokenKind::ApiKeyId)
        );
        assert_eq!(
            TokenKind::of_prefix(ClientId::generate().as_str()),
            Some(TokenKind::ClientId)
        );
        assert_eq!(
            TokenKind::of_prefix(UserId::generate().as_str()),
            Some(TokenKind::UserId)
        );
        assert_eq!(
            TokenKind::of_prefix(SessionId::generate().as_str()),
            Some(TokenKind::SessionId)
        );
    }
}
