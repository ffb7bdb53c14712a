//! Schemas several operations share, for `schema_with` and `value_type` of the
//! request and response types: an audience, a list of them, a token-endpoint
//! authentication method.

use utoipa::openapi::{ObjectBuilder, Type};

/// A client's one authentication method at the token endpoint (RFC 7591 §2).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)] // a schema: the handlers read the method as text and validate it
pub enum TokenEndpointAuthMethod {
    #[schema(rename = "client_secret_basic")]
    ClientSecretBasic,
    #[schema(rename = "client_secret_post")]
    ClientSecretPost,
    /// A public client: no secret; authorization code (with PKCE) and refresh only.
    #[schema(rename = "none")]
    None,
}

/// What the server takes for an audience (RFC 8707 resource): an absolute URI without
/// a fragment, whitespace or control characters, at most 512 bytes
/// (`clients::model::is_valid_audience`, which decides).
const AUDIENCE_PATTERN: &str = r"^[A-Za-z][A-Za-z0-9+.\-]*:[^#\s\x00-\x1F\x7F-\x9F]*$";

/// An audience (`schema_with` of the DTOs that name one).
pub fn audience() -> utoipa::openapi::Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .max_length(Some(512))
        .pattern(Some(AUDIENCE_PATTERN))
        .examples(["https://api.example.com"])
        .build()
}

/// An audience, or empty: a token-endpoint parameter, where empty counts as absent.
pub fn audience_or_empty() -> utoipa::openapi::Object {
    let mut schema = audience();
    schema.pattern = Some(format!(
        "^({})?$",
        &AUDIENCE_PATTERN[1..AUDIENCE_PATTERN.len() - 1]
    ));
    schema
}

/// An audience, or `null` (which clears it).
pub fn nullable_audience() -> utoipa::openapi::Schema {
    utoipa::openapi::schema::OneOfBuilder::new()
        .item(audience())
        .item(ObjectBuilder::new().schema_type(Type::Null))
        .build()
        .into()
}

/// A list of audiences (repeats are dropped; at most 16 distinct).
pub fn audiences() -> utoipa::openapi::Schema {
    utoipa::openapi::schema::ArrayBuilder::new()
        .items(audience())
        .build()
        .into()
}
