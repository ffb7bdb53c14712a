use actix_web::HttpResponse;

use super::Principal;
use crate::error::ApiError;

/// GET /v1/me — any valid credential: the caller's resolved principal.
pub async fn get_me(who: Principal) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(who.view()))
}
