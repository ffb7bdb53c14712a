use actix_web::http::header;
use actix_web::{web, HttpResponse};

use super::SigningKeys;

/// GET /.well-known/jwks.json — public; the public half of every key not removed.
pub async fn get_jwks(keys: web::Data<SigningKeys>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        // Resource servers cache the set; a short max-age lets rotation propagate.
        .insert_header((header::CACHE_CONTROL, "public, max-age=300"))
        .body(keys.current().jwks_json().to_owned())
}
