//! RFC 7009 token revocation. A client may revoke only its own tokens; the token is
//! recognised by its form (`kgr_…` refresh token, or a JWT keygate signed: see
//! `identity::presented::classify`), so a `token_type_hint` cannot steer the lookup.
//! Unknown, foreign, expired or already revoked tokens are answered like successes
//! (RFC 7009 §2.2).

use chrono::{DateTime, Utc};

use crate::clients::Client;
use crate::identity::access_token::AccessTokens;
use crate::identity::presented::{classify, Form};
use crate::identity::{Audience, ResolveError};
use crate::refresh;
use crate::store::{DbConn, StoreError};
use crate::tokens::{revoked, TokenKind};

pub fn revoke(
    conn: &mut DbConn,
    access_tokens: &AccessTokens,
    client: &Client,
    token: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    match classify(token) {
        Form::Other(TokenKind::RefreshToken) => {
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
        }
        // Only a live token needs recording: an expired or revoked one, or one of a
        // disabled client, is dead anyway.
        Form::Jwt => match access_tokens.live(conn, token, &Audience::Any, now) {
            Ok(live) if client.id == live.claims.client_id => {
                let expires_at = DateTime::from_timestamp(live.claims.exp, 0)
                    .unwrap_or(now)
                    .naive_utc();
                revoked::revoke(
                    conn,
                    &live.claims.jti,
                    &client.id,
                    expires_at,
                    now.naive_utc(),
                )?;
            }
            Ok(_) => {}
            Err(ResolveError::Store(error)) => return Err(error),
            Err(_) => {}
        },
        Form::ApiKey | Form::Other(_) | Form::Unknown => {}
    }
    Ok(())
}
