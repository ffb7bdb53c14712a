//! RFC 7662 token introspection, for access tokens (JWTs keygate signed), refresh
//! tokens and API keys. An access token or API key is described to any authenticated
//! client of the same organization (its resource servers); a refresh token only to
//! the client it belongs to. Anything else — expired, revoked, tampered, foreign, garbage — is exactly
//! `{"active": false}`.

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use super::state::OAuthState;
use std::borrow::Cow;

use crate::api_keys::format;
use crate::clients::Client;
use crate::identity::presented::{classify, Form};
use crate::identity::{Audience, Presented, ResolveError, Resolver};
use crate::refresh;
use crate::store::{DbConn, StoreError, Tx};
use crate::tokens::TokenKind;

/// Describes `token` to `client`. The identity resolver resolves API keys and checks
/// access tokens with its liveness check.
pub fn introspect(
    tx: &mut Tx<'_>,
    state: &OAuthState,
    resolver: &Resolver,
    client: &Client,
    token: &str,
    now: DateTime<Utc>,
) -> Result<Value, StoreError> {
    let inactive = json!({ "active": false });
    match classify(token) {
        Form::Other(TokenKind::RefreshToken) => {
            describe_refresh_token(tx, state, client, token, now)
        }
        Form::ApiKey => describe_api_key(tx, resolver, client, token),
        Form::Jwt => describe_access_token(tx, resolver, client, token, now),
        Form::Other(_) | Form::Unknown => Ok(inactive),
    }
}

/// A refresh token: described only to the client it belongs to.
fn describe_refresh_token(
    conn: &mut DbConn,
    state: &OAuthState,
    client: &Client,
    token: &str,
    now: DateTime<Utc>,
) -> Result<Value, StoreError> {
    let inactive = json!({ "active": false });
    let Some((row, family)) = refresh::repo::find(conn, token)? else {
        return Ok(inactive);
    };
    if family.client_id != client.id || !row.is_live(&family, now.naive_utc()) {
        return Ok(inactive);
    }
    // No `token_type`: RFC 7662 takes an RFC 6749 §7.1 access-token type there,
    // and a refresh token is none.
    Ok(json!({
        "active": true,
        "credential_kind": "refresh_token",
        "scope": family.scope,
        "client_id": family.client_id,
        "sub": family.client_id,
        "iss": state.issuance.issuer.as_str(),
        "iat": row.created_at.and_utc().timestamp(),
        "exp": row.idle_expires_at.min(family.expires_at).and_utc().timestamp(),
        "org": family.org_id,
    }))
}

/// An access token live by the resolver's own check (any audience: introspection
/// reports it), of the caller's organization.
fn describe_access_token(
    conn: &mut DbConn,
    resolver: &Resolver,
    client: &Client,
    token: &str,
    now: DateTime<Utc>,
) -> Result<Value, StoreError> {
    let inactive = json!({ "active": false });
    // `exp` is checked without leeway, as the resolver does (RFC 7662 §2.2).
    let claims = match resolver
        .access_tokens()
        .live(conn, token, &Audience::Any, now)
    {
        Ok(live) => live.claims,
        Err(ResolveError::Store(error)) => return Err(error),
        Err(_) => return Ok(inactive),
    };
    if client.org_id != claims.org {
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
    tx: &mut Tx<'_>,
    resolver: &Resolver,
    client: &Client,
    key: &str,
) -> Result<Value, StoreError> {
    let inactive = json!({ "active": false });
    if format::parse(key).is_err() {
        return Ok(inactive);
    }
    let presented = Presented::ApiKey(Cow::Borrowed(key));
    let who = match resolver.resolve(tx, &presented, &Audience::Any) {
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
        "org": who.org_id.as_str(),
    });
    if let Some(expires_at) = who.expires_at {
        described["exp"] = json!(expires_at.timestamp());
    }
    if let Some(issued_at) = who.issued_at {
        described["iat"] = json!(issued_at.timestamp());
    }
    Ok(described)
}
