//! The one table of what keygate mints: every credential and every public id it
//! issues, with the prefix that makes it recognisable (to keygate, to people reading
//! a log, to secret scanners), how it is recognised and how it is stored. Every
//! module that generates or recognises one of these takes its prefix from here; no
//! prefix is written anywhere else. Telling a presented credential apart by its form
//! is `identity::presented::classify`, built on this table.
//!
//! The tests pin each prefix (changing one breaks every credential already handed
//! out) and forbid overlaps, so that a prefix alone decides the kind.

/// A kind of token or id keygate issues.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TokenKind {
    /// `kg_live_…` / `kg_test_…`: an API key.
    ApiKey,
    /// `key_…`: an API key's public id.
    ApiKeyId,
    /// `kgc_…`: a client's public id.
    ClientId,
    /// `kgs_…`: a client secret.
    ClientSecret,
    /// `kgr_…`: a refresh token.
    RefreshToken,
    /// `kgrat_…`: an RFC 7592 registration access token.
    RegistrationAccessToken,
    /// `org_…`: an organization's id.
    OrgId,
    /// `evt_…`: an audit event's id.
    AuditEventId,
    /// `rt_…`: a refresh token's row id (never shown outside keygate).
    RefreshTokenId,
    /// `rtf_…`: a refresh-token family's id.
    RefreshFamilyId,
    /// `usr_…`: a person's id.
    UserId,
    /// `ses_…`: a sign-in session's id (never the session token).
    SessionId,
    /// `kgss_…`: a sign-in session token (the dashboard's cookie).
    SessionToken,
    /// `kgut_…`: a one-time user token — the secret of a setup or reset link.
    UserToken,
    /// `kgac_…`: an authorization code (RFC 6749 §4.1.2), single use, seconds long.
    AuthorizationCode,
}

/// How a presented token of a kind is recognised without any lookup.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Recognised {
    /// By its prefix.
    Prefix,
    /// By its prefix, its environment (`live`/`test`) and its checksum
    /// (`api_keys::format`): a mistyped one is refused before any database read.
    PrefixAndChecksum,
}

/// How keygate keeps a token of a kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stored {
    /// Not a secret: stored as it is.
    AsIs,
    /// A high-entropy secret: only its SHA-256 digest (`secret::digest`), under a
    /// unique index.
    Sha256Digest,
    /// A client secret: an argon2id PHC string (`clients::secret`).
    Argon2id,
}

impl TokenKind {
    /// Every kind, for the tests and for anything that lists them.
    pub const ALL: [Self; 15] = [
        Self::ApiKey,
        Self::ApiKeyId,
        Self::ClientId,
        Self::ClientSecret,
        Self::RefreshToken,
        Self::RegistrationAccessToken,
        Self::OrgId,
        Self::AuditEventId,
        Self::RefreshTokenId,
        Self::RefreshFamilyId,
        Self::UserId,
        Self::SessionId,
        Self::SessionToken,
        Self::UserToken,
        Self::AuthorizationCode,
    ];

    /// What every token of this kind starts with.
    pub const fn prefix(self) -> &'static str {
        match self {
            Self::ApiKey => "kg_",
            Self::ApiKeyId => "key_",
            Self::ClientId => "kgc_",
            Self::ClientSecret => "kgs_",
            Self::RefreshToken => "kgr_",
            Self::RegistrationAccessToken => "kgrat_",
            Self::OrgId => "org_",
            Self::AuditEventId => "evt_",
            Self::RefreshTokenId => "rt_",
            Self::RefreshFamilyId => "rtf_",
            Self::UserId => "usr_",
            Self::SessionId => "ses_",
            Self::SessionToken => "kgss_",
            Self::UserToken => "kgut_",
            Self::AuthorizationCode => "kgac_",
        }
    }

    pub const fn recognised(self) -> Recognised {
        match self {
            Self::ApiKey => Recognised::PrefixAndChecksum,
            Self::ApiKeyId
            | Self::ClientId
            | Self::ClientSecret
            | Self::RefreshToken
            | Self::RegistrationAccessToken
            | Self::OrgId
            | Self::AuditEventId
            | Self::RefreshTokenId
            | Self::RefreshFamilyId
            | Self::UserId
            | Self::SessionId
            | Self::SessionToken
            | Self::UserToken
            | Self::AuthorizationCode => Recognised::Prefix,
        }
    }

    pub const fn stored(self) -> Stored {
        match self {
            Self::ApiKey
            | Self::RefreshToken
            | Self::RegistrationAccessToken
            | Self::SessionToken
            | Self::UserToken
            | Self::AuthorizationCode => Stored::Sha256Digest,
            Self::ClientSecret => Stored::Argon2id,
            Self::ApiKeyId
            | Self::ClientId
            | Self::OrgId
            | Self::AuditEventId
            | Self::RefreshTokenId
            | Self::RefreshFamilyId
            | Self::UserId
            | Self::SessionId => Stored::AsIs,
        }
    }

    /// Whether `text` starts with this kind's prefix (for an API key, that is not yet
    /// its whole form: see `api_keys::format::has_key_prefix`).
    pub fn has_prefix(self, text: &str) -> bool {
        text.starts_with(self.prefix())
    }

    /// `prefix` followed by `suffix`: a new token or id of this kind.
    /// Whether `text` has the shape of an id of this kind: its prefix and 32 hex
    /// digits (a UUID). Anything else is refused before a query.
    pub fn is_id(self, text: &str) -> bool {
        text.strip_prefix(self.prefix())
            .is_some_and(|hex| hex.len() == 32 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
    }

    pub fn with_suffix(self, suffix: impl std::fmt::Display) -> String {
        format!("{}{suffix}", self.prefix())
    }

    /// The kind whose prefix `text` carries, if any (unambiguous: no prefix is a
    /// prefix of another).
    pub fn of_prefix(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.has_prefix(text))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_are_pinned() {
        // Changing one of these breaks every token of that kind already issued, and
        // the patterns published for secret scanners.
        let pinned = [
            (TokenKind::ApiKey, "kg_"),
            (TokenKind::ApiKeyId, "key_"),
            (TokenKind::ClientId, "kgc_"),
            (TokenKind::ClientSecret, "kgs_"),
            (TokenKind::RefreshToken, "kgr_"),
            (TokenKind::RegistrationAccessToken, "kgrat_"),
            (TokenKind::OrgId, "org_"),
            (TokenKind::AuditEventId, "evt_"),
            (TokenKind::RefreshTokenId, "rt_"),
            (TokenKind::RefreshFamilyId, "rtf_"),
            (TokenKind::UserId, "usr_"),
            (TokenKind::SessionId, "ses_"),
            (TokenKind::SessionToken, "kgss_"),
            (TokenKind::UserToken, "kgut_"),
            (TokenKind::AuthorizationCode, "kgac_"),
        ];
        assert_eq!(pinned.len(), TokenKind::ALL.len());
        for (kind, prefix) in pinned {
            assert_eq!(kind.prefix(), prefix, "{kind:?}");
        }
    }

    #[test]
    fn no_prefix_is_a_prefix_of_another() {
        for a in TokenKind::ALL {
            assert!(a.prefix().ends_with('_'), "{a:?}");
            for b in TokenKind::ALL.into_iter().filter(|&b| b != a) {
                assert!(
                    !b.prefix().starts_with(a.prefix()),
                    "{a:?}'s prefix begins {b:?}'s"
                );
            }
        }
    }

    #[test]
    fn a_prefix_decides_the_kind() {
        for kind in TokenKind::ALL {
            assert_eq!(TokenKind::of_prefix(&kind.with_suffix("0123")), Some(kind));
        }
        assert_eq!(TokenKind::of_prefix("eyJhbGciOi.e30.sig"), None);
    }

    #[test]
    fn only_secrets_are_hashed() {
        for kind in TokenKind::ALL {
            let secret = matches!(
                kind,
                TokenKind::ApiKey
                    | TokenKind::ClientSecret
                    | TokenKind::RefreshToken
                    | TokenKind::RegistrationAccessToken
                    | TokenKind::SessionToken
                    | TokenKind::UserToken
                    | TokenKind::AuthorizationCode
            );
            assert_eq!(kind.stored() != Stored::AsIs, secret, "{kind:?}");
        }
    }
}
