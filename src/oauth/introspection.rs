//! RFC 7662 token introspection, for access tokens (JWTs keygate signed), refresh
//! tokens and API keys. An access token or API key is described to any authenticated
//! client of the same organization (its resource servers); a refresh token only to
//! the client it belongs to. Anything else — expired, revoked, tampered, foreign, garbage — is exactly
//! `{"active": false}`.

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use super::OAuthState;
use crate::api_keys::{self, format, KeyState};
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
    if format::has_key_prefix(token) {
        return describe_api_key(conn, client, token, now);
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

/// An API key: the format and checksum first (no read for a mistyped key), then its
/// row; revoked, expired or another organization's is simply inactive.
fn describe_api_key(
    conn: &mut DbConn,
    client: &Client,
    key: &str,
    now: DateTime<Utc>,
) -> Result<Value, StoreError> {
    let inactive = json!({ "active": false });
    if format::parse(key).is_err() {
        return Ok(inactive);
    }
    let hash = crate::secret::digest(key);
    let Some(row) = api_keys::repo::find_by_hash(conn, &hash)? else {
        return Ok(inactive);
    };
    if !crate::secret::ct_eq_str(&row.key_hash, &hash)
        || row.org_id != client.org_id
        || row.state(now.naive_utc()) != KeyState::Active
    {
        return Ok(inactive);
    }
    let mut described = json!({
        "active": true,
        "token_type": "api_key",
        "scope": row.scopes,
        "sub": row.id,
        "key_id": row.id,
        "org": row.org_id,
        "iat": row.created_at.and_utc().timestamp(),
    });
    if let Some(expires_at) = row.expires_at {
        described["exp"] = json!(expires_at.and_utc().timestamp());
    }
    Ok(described)
}
