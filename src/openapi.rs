//! The OpenAPI 3 description of keygate's HTTP API, served at `GET /openapi.json`. It is
//! built from `OPERATIONS`, one row per route and method; a test calls every row
//! against the real application, so a route that is documented but not served (or
//! served under another method) fails CI.

use actix_web::{web, HttpResponse};
use serde_json::{json, Map, Value};

/// How an operation authenticates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Auth {
    None,
    /// `client_secret_basic` or `client_secret_post`.
    Client,
    /// The identity resolver: Bearer (JWT or API key) or `X-API-Key`.
    Principal,
    /// RFC 7592's registration access token.
    Registration,
}

/// (method, path, summary, authentication)
pub const OPERATIONS: &[(&str, &str, &str, Auth)] = &[
    (
        "post",
        "/oauth/token",
        "Token endpoint (RFC 6749): client_credentials, refresh_token",
        Auth::Client,
    ),
    (
        "post",
        "/oauth/revoke",
        "Token revocation (RFC 7009)",
        Auth::Client,
    ),
    (
        "post",
        "/oauth/introspect",
        "Token introspection (RFC 7662): JWTs, refresh tokens, API keys",
        Auth::Client,
    ),
    (
        "post",
        "/oauth/register",
        "Dynamic client registration (RFC 7591); admin credential as initial access token",
        Auth::Principal,
    ),
    (
        "get",
        "/oauth/register/{client_id}",
        "Read a registration (RFC 7592)",
        Auth::Registration,
    ),
    (
        "put",
        "/oauth/register/{client_id}",
        "Replace a registration's metadata (RFC 7592)",
        Auth::Registration,
    ),
    (
        "delete",
        "/oauth/register/{client_id}",
        "Delete a registration (RFC 7592)",
        Auth::Registration,
    ),
    (
        "get",
        "/.well-known/oauth-authorization-server",
        "Authorization server metadata (RFC 8414)",
        Auth::None,
    ),
    (
        "get",
        "/.well-known/jwks.json",
        "Public signing keys (JWKS)",
        Auth::None,
    ),
    (
        "get",
        "/v1/me",
        "The caller's resolved principal",
        Auth::Principal,
    ),
    (
        "get",
        "/v1/forward-auth",
        "Forward-auth for gateways: identity headers or 401/403/429",
        Auth::Principal,
    ),
    (
        "post",
        "/v1/api-keys",
        "Create an API key (scope admin); the key is shown once",
        Auth::Principal,
    ),
    (
        "get",
        "/v1/api-keys",
        "List the organization's API keys, masked (scope admin)",
        Auth::Principal,
    ),
    (
        "get",
        "/v1/api-keys/{id}",
        "One API key (scope admin)",
        Auth::Principal,
    ),
    (
        "patch",
        "/v1/api-keys/{id}",
        "Rename, narrow scopes, set the rate limit (scope admin)",
        Auth::Principal,
    ),
    (
        "delete",
        "/v1/api-keys/{id}",
        "Revoke an API key (scope admin)",
        Auth::Principal,
    ),
    (
        "post",
        "/v1/api-keys/{id}/rotate",
        "Rotate an API key with an overlap (scope admin)",
        Auth::Principal,
    ),
    (
        "post",
        "/v1/clients",
        "Register a client (scope admin); the secret is shown once",
        Auth::Principal,
    ),
    (
        "get",
        "/v1/clients",
        "List the organization's clients (scope admin)",
        Auth::Principal,
    ),
    (
        "get",
        "/v1/clients/{id}",
        "One client (scope admin)",
        Auth::Principal,
    ),
    (
        "patch",
        "/v1/clients/{id}",
        "Update a client's metadata (scope admin)",
        Auth::Principal,
    ),
    (
        "post",
        "/v1/clients/{id}/disable",
        "Disable a client (scope admin)",
        Auth::Principal,
    ),
    (
        "post",
        "/v1/clients/{id}/rotate-secret",
        "Rotate a client secret with an overlap (scope admin)",
        Auth::Principal,
    ),
    (
        "get",
        "/v1/usage",
        "Requests of a key or client per period and status class (scope admin)",
        Auth::Principal,
    ),
    (
        "get",
        "/v1/audit-events",
        "The organization's audit log (scope admin)",
        Auth::Principal,
    ),
    ("get", "/healthz", "Liveness", Auth::None),
    (
        "get",
        "/readyz",
        "Readiness: the database answers",
        Auth::None,
    ),
    ("get", "/metrics", "Prometheus metrics", Auth::None),
    ("get", "/openapi.json", "This document", Auth::None),
];

fn security(auth: Auth) -> Value {
    match auth {
        Auth::None => json!([]),
        Auth::Client => json!([{"clientSecretBasic": []}, {"clientSecretPost": []}]),
        Auth::Principal => json!([{"bearer": []}, {"apiKey": []}]),
        Auth::Registration => json!([{"registrationAccessToken": []}]),
    }
}

/// The document.
pub fn document() -> Value {
    let mut paths = Map::new();
    for (method, path, summary, auth) in OPERATIONS {
        let parameters: Vec<Value> = path
            .split('/')
            .filter_map(|part| part.strip_prefix('{')?.strip_suffix('}'))
            .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}))
            .collect();
        let errors = if path.starts_with("/oauth/") {
            "#/components/schemas/OAuthError"
        } else {
            "#/components/schemas/ApiError"
        };
        let operation = json!({
            "summary": summary,
            "parameters": parameters,
            "security": security(*auth),
            "responses": {
                "2XX": {"description": "Success"},
                "default": {
                    "description": "Error",
                    "content": {"application/json": {"schema": {"$ref": errors}}}
                }
            }
        });
        let entry = paths.entry((*path).to_owned()).or_insert_with(|| json!({}));
        entry[*method] = operation;
    }
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "keygate",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "OAuth 2.0 authorization server with API-key fallback. See the README for each route's rules."
        },
        "paths": paths,
        "components": {
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "description": "A JWT access token (aud = management_audience) or an API key"},
                "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
                "clientSecretBasic": {"type": "http", "scheme": "basic"},
                "clientSecretPost": {"type": "apiKey", "in": "query", "name": "client_secret", "description": "Sent in the form body (client_id, client_secret), never in the query"},
                "registrationAccessToken": {"type": "http", "scheme": "bearer"}
            },
            "schemas": {
                "ApiError": {
                    "type": "object",
                    "required": ["success", "error"],
                    "properties": {
                        "success": {"type": "boolean", "enum": [false]},
                        "error": {
                            "type": "object",
                            "required": ["code", "message", "details"],
                            "properties": {
                                "code": {"type": "string"},
                                "message": {"type": "string"},
                                "details": {"type": "object"}
                            }
                        }
                    }
                },
                "OAuthError": {
                    "type": "object",
                    "required": ["error"],
                    "properties": {
                        "error": {"type": "string"},
                        "error_description": {"type": "string"}
                    }
                }
            }
        }
    })
}

/// GET /openapi.json — public.
pub async fn get_openapi() -> HttpResponse {
    HttpResponse::Ok().json(document())
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(crate::routes::Endpoint::new("/openapi.json").get(get_openapi));
}
