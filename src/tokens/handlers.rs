use actix_web::http::header;
use actix_web::{web, HttpResponse};

use super::KeyRing;

/// GET /.well-known/jwks.json — public; the public half of every key not removed.
pub async fn get_jwks(keys: web::Data<KeyRing>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        // Resource servers cache the set; a short max-age lets rotation propagate.
        .insert_header((header::CACHE_CONTROL, "public, max-age=300"))
        .body(keys.jwks_json().to_owned())
}
