//! RFC 7009 token revocation. A client may revoke only its own tokens; the token is
//! recognised by its form (`kgr_…` refresh token, or a JWT keygate signed), so a
//! `token_type_hint` cannot steer the lookup. Unknown, foreign, expired or already
//! revoked tokens are answered like successes (RFC 7009 §2.2).

use chrono::{DateTime, Utc};

use super::OAuthState;
use crate::clients::Client;
use crate::refresh;
use crate::store::{DbConn, StoreError};
use crate::tokens::revoked;

pub fn revoke(
    conn: &mut DbConn,
    state: &OAuthState,
    client: &Client,
    token: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    if token.starts_with(refresh::REFRESH_TOKEN_PREFIX) {
        if let Some((_, family)) = refresh::repo::find(conn, token)? {
            if family.client_id == client.id {
                refresh::repo::revoke_family(
                    conn,
                    &family.id,
                    now.naive_utc(),
                    "revoked_by_client",
                    &crate::audit::Source::default(),
                )?;
            }
        }
        return Ok(());
    }
    // Only a token that still verifies needs recording: an expired one is dead anyway.
    if let Ok(claims) = state.issuance.keys.current().verify_access_token(
        token,
        state.issuance.issuer.as_str(),
        now,
    ) {
        if claims.client_id == client.id {
            let expires_at = DateTime::from_timestamp(claims.exp, 0)
                .unwrap_or(now)
                .naive_utc();
            revoked::revoke(conn, &claims.jti, &client.id, expires_at, now.naive_utc())?;
        }
    }
    Ok(())
}
