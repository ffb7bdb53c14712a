//! RFC 7662 token introspection, for access tokens (JWTs keygate signed) and refresh
//! tokens. An access token is described to any authenticated client of the same
//! organization (its resource servers); a refresh token only to the client it belongs
//! to. Anything else — expired, revoked, tampered, foreign, garbage — is exactly
//! `{"active": false}`.

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use super::OAuthState;
use crate::clients::Client;
use crate::refresh;
use crate::store::{DbConn, StoreError};
use crate::tokens::revoked;

pub fn introspect(
    conn: &mut DbConn,
    state: &OAuthState,
    client: &Client,
    token: &str,
    now: DateTime<Utc>,
) -> Result<Value, StoreError> {
    let inactive = json!({ "active": false });
    if token.starts_with(refresh::REFRESH_TOKEN_PREFIX) {
        let Some((row, family)) = refresh::repo::find(conn, token)? else {
            return Ok(inactive);
        };
        if family.client_id != client.id || !row.is_live(&family, now.naive_utc()) {
            return Ok(inactive);
        }
        return Ok(json!({
            "active": true,
            "token_type": "refresh_token",
            "scope": family.scope,
            "client_id": family.client_id,
            "sub": family.client_id,
            "iss": state.issuer,
            "iat": row.created_at.and_utc().timestamp(),
            "exp": row.idle_expires_at.min(family.expires_at).and_utc().timestamp(),
            "org": family.org_id,
        }));
    }
    let Ok(claims) = state.keys.verify_access_token(token, &state.issuer, now) else {
        return Ok(inactive);
    };
    // No leeway here: a token past its `exp` is not active (RFC 7662 §2.2).
    if claims.exp <= now.timestamp()
        || claims.org != client.org_id
        || revoked::is_revoked(conn, &claims.jti)?
    {
        return Ok(inactive);
    }
    let mut described = json!({
        "active": true,
        "token_type": "Bearer",
        "scope": claims.scope,
        "client_id": claims.client_id,
        "sub": claims.sub,
        "aud": claims.aud,
        "iss": claims.iss,
        "exp": claims.exp,
        "iat": claims.iat,
        "jti": claims.jti,
        "org": claims.org,
    });
    if let Some(nbf) = claims.nbf {
        described["nbf"] = json!(nbf);
    }
    Ok(described)
}
