//! Whether an access token is live: the one check behind the resolver (keygate's own
//! API, `GET /v1/me`, forward-auth), introspection and revocation, so a token is
//! never live in one and dead in another. In order: the JWT verifies (signature,
//! `typ`, `iss`, `exp`/`nbf`: `tokens::verify`), its `aud` is one the caller takes,
//! its `jti` was not revoked, and the client it was issued to still exists, is not
//! disabled and is of the token's organization — a disabled client's tokens stop at
//! once, not when they expire. A token acting for a person (`sub` a user id, from an
//! authorization code) is of the person's organization, which may be another than
//! the app's: it is live while the person is enabled, a member of it, and has not
//! withdrawn the app's consent (`consents::repo::is_live`) — so those stop it at once
//! too — and it draws on that organization's tier.

use actix_web::web;
use chrono::{DateTime, Utc};

use super::error::{ResolveError, Unauthenticated};
use crate::clients::{self, Client};
use crate::ids::UserId;
use crate::secret::ct_eq_str;
use crate::store::DbConn;
use crate::tokens::verify::{VerifiedClaims, VerifyError};
use crate::tokens::TokenKind;
use crate::tokens::{revoked, SigningKeys};

/// Which access tokens a caller takes, by their `aud`. API keys carry no audience:
/// they are for the organization's own use of every API, keygate's included.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Audience {
    /// keygate's management API: `management_audience` only.
    Management,
    /// Any audience: `GET /v1/me` describes any live credential keygate issued;
    /// introspection reports the audience, and revocation needs none.
    Any,
    /// Every one of these (forward-auth: what the gateway names for the route).
    All(Vec<String>),
}

/// A live access token: its verified claims, and the client it was issued to with
/// its organization's tier.
pub struct LiveAccessToken {
    pub claims: VerifiedClaims,
    pub client: Client,
    pub tier: String,
}

/// What checking an access token needs; built once at start-up (by the resolver).
pub struct AccessTokens {
    keys: web::Data<SigningKeys>,
    issuer: String,
    management_audience: String,
}

impl AccessTokens {
    pub fn new(keys: web::Data<SigningKeys>, issuer: String, management_audience: String) -> Self {
        Self {
            keys,
            issuer,
            management_audience,
        }
    }

    /// The token, if it is live for `audience` at `now`; otherwise why not, in the
    /// resolver's words (which introspection and revocation do not show).
    pub fn live(
        &self,
        conn: &mut DbConn,
        token: &str,
        audience: &Audience,
        now: DateTime<Utc>,
    ) -> Result<LiveAccessToken, ResolveError> {
        let claims = self
            .keys
            .current()
            .verify_access_token(token, &self.issuer, now)
            .map_err(|error| match error {
                // Said only once the signature has verified (see verify_access_token).
                VerifyError::Expired => Unauthenticated::ExpiredToken,
                VerifyError::Malformed => {
                    Unauthenticated::InvalidToken("the access token is malformed")
                }
                VerifyError::UnknownKey
                | VerifyError::AlgorithmMismatch
                | VerifyError::WrongType
                | VerifyError::Invalid
                | VerifyError::WrongIssuer
                | VerifyError::NotYetValid
                | VerifyError::UnsupportedExtension => {
                    Unauthenticated::InvalidToken("the access token is not valid")
                }
            })?;
        if !self.audience_accepted(&claims.aud, audience) {
            return Err(Unauthenticated::InvalidToken(
                "the access token was issued for another audience",
            )
            .into());
        }
        if revoked::is_revoked(conn, &claims.jti)? {
            return Err(Unauthenticated::InvalidToken("the access token has been revoked").into());
        }
        let disabled =
            || Unauthenticated::InvalidToken("the client of this access token is disabled");
        let (client, tier) = match person_of(&claims) {
            None => clients::repo::find_with_tier(conn, &claims.client_id)?
                .filter(|(client, _)| !client.is_disabled() && client.org_id == claims.org)
                .ok_or_else(disabled)?,
            Some(user_id) => {
                let client = clients::repo::find_in_any_org(conn, &claims.client_id)?
                    .filter(|client| !client.is_disabled())
                    .ok_or_else(disabled)?;
                if !crate::consents::repo::is_live(conn, &user_id, &claims.org, &client.id)? {
                    return Err(Unauthenticated::InvalidToken(
                        "the person this access token acts for can no longer be acted for \
                         (disabled, no longer a member, or consent withdrawn)",
                    )
                    .into());
                }
                let tier = crate::orgs::repo::find(conn, &claims.org)?
                    .map(|org| org.tier)
                    .ok_or_else(disabled)?;
                (client, tier)
            }
        };
        Ok(LiveAccessToken {
            claims,
            client,
            tier,
        })
    }

    fn audience_accepted(&self, aud: &str, audience: &Audience) -> bool {
        match audience {
            Audience::Management => ct_eq_str(aud, &self.management_audience),
            Audience::Any => true,
            Audience::All(required) => {
                !required.is_empty() && required.iter().all(|r| ct_eq_str(aud, r))
            }
        }
    }
}

/// The person a token acts for: its `sub`, when that is a user id rather than the
/// client's own id.
pub fn person_of(claims: &VerifiedClaims) -> Option<UserId> {
    (claims.sub != claims.client_id.as_str() && TokenKind::UserId.is_id(&claims.sub))
        .then(|| UserId::from(claims.sub.as_str()))
}
