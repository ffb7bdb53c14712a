//! Error responses, for `responses(...)` of the operations. Each is a set of status
//! codes with the body of its shape and the headers that come with it.

use std::collections::BTreeMap;

use utoipa::openapi::{
    Content, Header, ObjectBuilder, Ref, RefOr, Response, ResponseBuilder, Type,
};
use utoipa::IntoResponses;

fn string_header(description: &str) -> Header {
    Header::builder()
        .schema(Some(ObjectBuilder::new().schema_type(Type::String)))
        .description(Some(description))
        .build()
}

fn integer_header(description: &str) -> Header {
    Header::builder()
        .schema(Some(
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .minimum(Some(0)),
        ))
        .description(Some(description))
        .build()
}

fn error_response(schema: &str, description: &str, headers: &[(&str, Header)]) -> Response {
    let mut response = ResponseBuilder::new().description(description).content(
        "application/json",
        Content::new(Some(Ref::from_schema_name(schema))),
    );
    for (name, header) in headers {
        response = response.header(*name, header.clone());
    }
    response.build()
}

fn set(entries: Vec<(&str, Response)>) -> BTreeMap<String, RefOr<Response>> {
    entries
        .into_iter()
        .map(|(status, response)| (status.to_owned(), RefOr::T(response)))
        .collect()
}

const ENVELOPE: &str = "Envelope";
const OAUTH: &str = "Body";

fn rate_limited() -> Response {
    error_response(
        ENVELOPE,
        "rate_limit_exceeded: the credential's or its organization's limit",
        &[
            (
                "Retry-After",
                integer_header("Seconds until a retry can pass"),
            ),
            ("RateLimit-Limit", integer_header("Requests per minute")),
            ("RateLimit-Remaining", integer_header("Always 0 here")),
            (
                "RateLimit-Reset",
                integer_header("Seconds until the allowance is whole"),
            ),
        ],
    )
}

fn unavailable(schema: &str, description: &str) -> Response {
    error_response(
        schema,
        description,
        &[("Retry-After", integer_header("Seconds"))],
    )
}

/// What every operation behind the identity resolver may answer: a malformed
/// credential request (400), no or a bad credential (401), a missing scope (403), a
/// rate limit (429), the database unreachable (503), an internal error (500).
pub struct ResolverErrors;

impl IntoResponses for ResolverErrors {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        set(vec![
            ("400", error_response(ENVELOPE, "invalid_request: e.g. two different credentials, a header given twice, a malformed parameter or body (details.field names it)", &[])),
            ("401", error_response(ENVELOPE, "missing_credentials, invalid_format, invalid_api_key, expired_api_key, revoked_api_key, invalid_token or expired_token", &[(
                "WWW-Authenticate",
                string_header("RFC 6750 challenge: Bearer realm=\"keygate\", error=\"invalid_token\" when a credential was sent"),
            )])),
            ("403", error_response(ENVELOPE, "insufficient_scope (details.required_scope) or exceeds_authority", &[(
                "WWW-Authenticate",
                string_header("Bearer realm=\"keygate\", error=\"insufficient_scope\", scope=\"…\""),
            )])),
            ("429", rate_limited()),
            ("500", error_response(ENVELOPE, "internal_error (no detail: it goes to the log)", &[])),
            ("503", unavailable(ENVELOPE, "service_unavailable: the database does not answer")),
        ])
    }
}

/// 404 `not_found`: no such resource in the caller's organization.
pub struct NotFound;

impl IntoResponses for NotFound {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        set(vec![(
            "404",
            error_response(ENVELOPE, "not_found: no such resource in the caller's organization (another organization's included)", &[]),
        )])
    }
}

/// 409 `conflict`.
pub struct Conflict;

impl IntoResponses for Conflict {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        set(vec![(
            "409",
            error_response(
                ENVELOPE,
                "conflict: the resource changed meanwhile, or is not in a state for this",
                &[],
            ),
        )])
    }
}

/// What a JSON body may draw: 413 past `max_body_bytes`, 415 unless JSON.
pub struct JsonBodyErrors;

impl IntoResponses for JsonBodyErrors {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        set(vec![
            (
                "413",
                error_response(
                    ENVELOPE,
                    "payload_too_large: the body is over max_body_bytes",
                    &[],
                ),
            ),
            (
                "415",
                error_response(
                    ENVELOPE,
                    "unsupported_media_type: the body is not application/json",
                    &[],
                ),
            ),
        ])
    }
}

/// What the token endpoint may answer (RFC 6749 §5.2, RFC 8707 §2).
pub struct TokenErrors;

impl IntoResponses for TokenErrors {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        client_authenticated_errors(
            "invalid_request, invalid_grant, unauthorized_client, unsupported_grant_type, \
             invalid_scope, or invalid_target (RFC 8707: a resource that is malformed, not \
             one of the client's audiences, or several different ones)",
        )
    }
}

/// What revocation and introspection may answer (RFC 7009 §2.2.1, RFC 7662 §2.3).
pub struct OAuthClientErrors;

impl IntoResponses for OAuthClientErrors {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        client_authenticated_errors(
            "invalid_request: e.g. no token, a parameter twice, a query string",
        )
    }
}

/// The answers of the endpoints that authenticate a client (RFC 6749 §5.2), with
/// `bad_request` describing their 400s.
fn client_authenticated_errors(bad_request: &str) -> BTreeMap<String, RefOr<Response>> {
    set(vec![
            ("400", error_response(OAUTH, bad_request, &[])),
            ("401", error_response(OAUTH, "invalid_client: no, unknown, wrong or disabled client credentials, all alike", &[(
                "WWW-Authenticate",
                string_header("Basic realm=\"keygate\", charset=\"UTF-8\""),
            )])),
            ("413", error_response(OAUTH, "invalid_request: the body is over max_body_bytes", &[])),
            ("429", error_response(OAUTH, "rate_limit_exceeded: too many failed authentications for this client id or from this address", &[(
                "Retry-After",
                integer_header("Seconds"),
            )])),
            ("500", error_response(OAUTH, "server_error (no detail)", &[])),
            ("503", unavailable(OAUTH, "temporarily_unavailable: the database does not answer, or no argon2 slot freed in time")),
        ])
}

/// What `/oauth/register` and RFC 7592 may answer: RFC 7591 §3.2.2 and RFC 6750.
pub struct RegistrationErrors;

impl IntoResponses for RegistrationErrors {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        set(vec![
            ("400", error_response(OAUTH, "invalid_client_metadata, invalid_redirect_uri or invalid_request", &[])),
            ("401", error_response(OAUTH, "invalid_token: no, a wrong or an unknown bearer token", &[(
                "WWW-Authenticate",
                string_header("RFC 6750 challenge: Bearer realm=\"keygate\"[, error=\"invalid_token\"]"),
            )])),
            ("413", error_response(OAUTH, "invalid_request: the body is over max_body_bytes", &[])),
            ("429", error_response(OAUTH, "rate_limit_exceeded", &[("Retry-After", integer_header("Seconds"))])),
            ("500", error_response(OAUTH, "server_error (no detail)", &[])),
            ("503", unavailable(OAUTH, "temporarily_unavailable")),
        ])
    }
}

/// 403 `insufficient_scope` of `POST /oauth/register`'s initial access token.
pub struct RegistrationForbidden;

impl IntoResponses for RegistrationForbidden {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        set(vec![(
            "403",
            error_response(
                OAUTH,
                "insufficient_scope: the initial access token lacks admin",
                &[(
                    "WWW-Authenticate",
                    string_header(
                        "Bearer realm=\"keygate\", error=\"insufficient_scope\", scope=\"admin\"",
                    ),
                )],
            ),
        )])
    }
}

/// 503 of the public documents and probes that read the database.
pub struct Unavailable;

impl IntoResponses for Unavailable {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        set(vec![(
            "503",
            unavailable(
                ENVELOPE,
                "service_unavailable: the database does not answer",
            ),
        )])
    }
}
