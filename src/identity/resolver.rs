//! From a presented credential (`presented`) to a `Principal`: an API key is looked
//! up by its digest and its state said only once the secret matched; an access token
//! goes through the one liveness check (`access_token`).

use std::sync::Arc;

use actix_web::web;
use chrono::{DateTime, Utc};

use super::access_token::{AccessTokens, Audience};
use super::error::{ResolveError, Unauthenticated};
use super::presented::Presented;
use super::principal::{Credential, Principal};
use crate::api_keys::{self, KeyState, LastUsed};
use crate::clock::Clock;
use crate::scope::ScopeSet;
use crate::secret::{ct_eq_str, digest};
use crate::store::{DbConn, Tx};
use crate::tokens::SigningKeys;

/// What resolving needs besides a connection; built once at start-up.
pub struct Resolver {
    access_tokens: AccessTokens,
    /// What forward-auth checks when the gateway names no audience.
    default_audience: String,
    clock: Arc<dyn Clock>,
    last_used: LastUsed,
}

impl Resolver {
    pub fn new(
        keys: web::Data<SigningKeys>,
        issuer: String,
        management_audience: String,
        default_audience: String,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            access_tokens: AccessTokens::new(keys, issuer, management_audience),
            default_audience,
            clock,
            last_used: LastUsed::default(),
        }
    }

    pub fn default_audience(&self) -> &str {
        &self.default_audience
    }

    /// The liveness check of access tokens, for introspection and revocation.
    pub fn access_tokens(&self) -> &AccessTokens {
        &self.access_tokens
    }

    pub fn resolve(
        &self,
        tx: &mut Tx<'_>,
        presented: &Presented<'_>,
        audience: &Audience,
    ) -> Result<Principal, ResolveError> {
        let now = self.clock.now();
        match presented {
            Presented::ApiKey(key) => self.resolve_api_key(tx, key, now),
            Presented::AccessToken(token) => self.resolve_access_token(tx, token, audience, now),
        }
    }

    fn resolve_api_key(
        &self,
        tx: &mut Tx<'_>,
        key: &str,
        now: DateTime<Utc>,
    ) -> Result<Principal, ResolveError> {
        let hash = digest(key);
        let (row, tier) = api_keys::repo::find_by_hash_with_tier(tx, &hash)?
            // The index found it by equality; compare again in constant time so the
            // decision itself never depends on where two digests differ.
            .filter(|(row, _)| ct_eq_str(&row.key_hash, &hash))
            .ok_or(Unauthenticated::InvalidApiKey)?;
        // The secret matched: from here on the error may say what is wrong with it.
        match row.state(now.naive_utc()) {
            KeyState::Active => {}
            KeyState::Revoked(_) => return Err(Unauthenticated::RevokedApiKey.into()),
            KeyState::Expired(at) => {
                return Err(Unauthenticated::ExpiredApiKey {
                    expired_at: at.and_utc(),
                }
                .into())
            }
        }
        if self.last_used.claim(&row.id, now) {
            let uses = [(row.id.clone(), now.naive_utc())];
            if let Err(error) = tx.write(|tx| api_keys::repo::record_last_used(tx, &uses)) {
                // A missed last-used time is not worth refusing the request.
                tracing::warn!(key_id = %row.id, %error, "could not record last use");
            }
        }
        Ok(Principal {
            subject: row.id.to_string(),
            scopes: row.scope_set(),
            credential: Credential::ApiKey {
                key_id: row.id.clone(),
            },
            expires_at: row.expires_at.map(|at| at.and_utc()),
            issued_at: Some(row.created_at.and_utc()),
            lifetime: row.expires_at.map(|at| at.and_utc()),
            tier,
            rate_limit: rate_limit(row.rate_limit_per_minute),
            org_id: row.org_id,
        })
    }

    fn resolve_access_token(
        &self,
        conn: &mut DbConn,
        token: &str,
        audience: &Audience,
        now: DateTime<Utc>,
    ) -> Result<Principal, ResolveError> {
        let live = self.access_tokens.live(conn, token, audience, now)?;
        let (claims, client) = (live.claims, live.client);
        let scopes = ScopeSet::parse(&claims.scope)
            .map_err(|_| Unauthenticated::InvalidToken("the access token is not valid"))?;
        Ok(Principal {
            subject: claims.sub,
            org_id: claims.org,
            scopes,
            credential: Credential::AccessToken {
                client_id: claims.client_id,
                jti: claims.jti,
            },
            expires_at: DateTime::from_timestamp(claims.exp, 0),
            issued_at: DateTime::from_timestamp(claims.iat, 0),
            lifetime: client.credential_lifetime().map(|at| at.and_utc()),
            tier: live.tier,
            rate_limit: rate_limit(client.rate_limit_per_minute),
        })
    }
}

/// A stored override as the limiter takes it (positive, or none).
fn rate_limit(stored: Option<i64>) -> Option<u32> {
    stored
        .and_then(|n| u32::try_from(n).ok())
        .filter(|n| *n > 0)
}
