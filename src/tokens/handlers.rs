//! `GET /.well-known/jwks.json`: every signing key not yet removed, as the ring
//! renders it once per reload.

use actix_web::http::header;
use actix_web::{web, HttpResponse};

use super::SigningKeys;

/// The JWKS (RFC 7517 §5) as `KeyRing::jwks_json` renders it.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)] // the schema of a pre-rendered body
pub struct Jwks {
    keys: Vec<PublicJwk>,
}

/// One public key (RFC 7517 §4; members by key type).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct PublicJwk {
    /// `EC`, `RSA` or `OKP`.
    kty: String,
    /// Always `sig`.
    #[schema(rename = "use")]
    use_: String,
    /// RFC 7638 thumbprint.
    kid: String,
    /// `ES256`, `RS256` or `EdDSA`.
    alg: String,
    /// EC and OKP: the curve (`P-256`, `Ed25519`).
    crv: Option<String>,
    x: Option<String>,
    y: Option<String>,
    /// RSA: modulus and exponent.
    n: Option<String>,
    e: Option<String>,
}

/// GET /.well-known/jwks.json — public; the public half of every key not removed.
#[utoipa::path(
    get,
    path = "/.well-known/jwks.json",
    tag = "oauth",
    responses((status = 200, description = "The public signing keys: pending, active and retired", body = Jwks))
)]
pub async fn get_jwks(keys: web::Data<SigningKeys>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        // Resource servers cache the set; a short max-age lets rotation propagate.
        .insert_header((header::CACHE_CONTROL, "public, max-age=300"))
        .body(keys.current().jwks_json().to_owned())
}

/// The route of the JWKS.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(crate::routes::Endpoint::new("/.well-known/jwks.json").get(get_jwks));
}
