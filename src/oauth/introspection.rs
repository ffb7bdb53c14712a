//! RFC 7662 token introspection, for access tokens (JWTs keygate signed), refresh
//! tokens and API keys. An access token or API key is described to any authenticated
//! client of the same organization (its resource servers); a refresh token only to
//! the client it belongs to. Anything else — expired, revoked, tampered, foreign, garbage — is exactly
//! `{"active": false}`.

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use super::OAuthState;
use std::borrow::Cow;

use crate::api_keys::format;
use crate::clients::Client;
use crate::identity::{Audience, Presented, ResolveError, Resolver};
use crate::refresh;
use crate::store::WriterLock;
use crate::store::{DbConn, StoreError};
use crate::tokens::revoked;

/// What introspection needs to resolve an API key.
pub struct ApiKeyAccess<'a> {
    pub resolver: &'a Resolver,
    pub writer: &'a WriterLock,
}

pub fn introspect(
    conn: &mut DbConn,
    state: &OAuthState,
    api_keys: &ApiKeyAccess<'_>,
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
        // No `token_type`: RFC 7662 takes an RFC 6749 §7.1 access-token type there,
        // and a refresh token is none.
        return Ok(json!({
            "active": true,
            "credential_kind": "refresh_token",
            "scope": family.scope,
            "client_id": family.client_id,
            "sub": family.client_id,
            "iss": state.issuance.issuer.as_str(),
            "iat": row.created_at.and_utc().timestamp(),
            "exp": row.idle_expires_at.min(family.expires_at).and_utc().timestamp(),
            "org": family.org_id,
        }));
    }
    if format::has_key_prefix(token) {
        return describe_api_key(conn, api_keys, client, token);
    }
    let Ok(claims) = state.issuance.keys.current().verify_access_token(
        token,
        state.issuance.issuer.as_str(),
        now,
    ) else {
        return Ok(inactive);
    };
    // `exp` was checked without leeway, as the resolver does (RFC 7662 §2.2).
    if claims.org != client.org_id || revoked::is_revoked(conn, &claims.jti)? {
        return Ok(inactive);
    }
    // As for keygate's own API: a disabled client's tokens end when it is disabled.
    let issued_to_live_client = crate::clients::repo::find(conn, &claims.client_id)?
        .is_some_and(|issuer| !issuer.is_disabled() && issuer.org_id == claims.org);
    if !issued_to_live_client {
        return Ok(inactive);
    }
    let mut described = json!({
        "active": true,
        "token_type": "Bearer",
        "credential_kind": "access_token",
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

/// An API key, resolved by the identity resolver exactly as keygate's own API would
/// (so a use through introspection counts as the key's last use); revoked, expired,
/// malformed or another organization's is simply inactive.
fn describe_api_key(
    conn: &mut DbConn,
    access: &ApiKeyAccess<'_>,
    client: &Client,
    key: &str,
) -> Result<Value, StoreError> {
    let inactive = json!({ "active": false });
    if format::parse(key).is_err() {
        return Ok(inactive);
    }
    let presented = Presented::ApiKey(Cow::Borrowed(key));
    let who = match access
        .resolver
        .resolve(conn, access.writer, &presented, &Audience::Any)
    {
        Ok(who) => who,
        Err(ResolveError::Store(error)) => return Err(error),
        Err(_) => return Ok(inactive),
    };
    if who.org_id != client.org_id {
        return Ok(inactive);
    }
    // Sent as a bearer credential (RFC 6750), so its §7.1 type is Bearer.
    let mut described = json!({
        "active": true,
        "token_type": "Bearer",
        "credential_kind": "api_key",
        "scope": who.scopes.to_string(),
        "sub": who.subject,
        "key_id": who.subject,
        "org": who.org_id,
    });
    if let Some(expires_at) = who.expires_at {
        described["exp"] = json!(expires_at.timestamp());
    }
    if let Some(issued_at) = who.issued_at {
        described["iat"] = json!(issued_at.timestamp());
    }
    Ok(described)
}
