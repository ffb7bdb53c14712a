//! Liveness and readiness probes.

use actix_web::{web, HttpResponse};
use diesel::connection::SimpleConnection;

use crate::error::ApiError;
use crate::routes::Endpoint;
use crate::store::{Store, StoreError};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(Endpoint::new("/healthz").get(get_healthz))
        .service(Endpoint::new("/readyz").get(get_readyz));
}

/// The probes' body.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct Status {
    /// `ok` (liveness) or `ready` (readiness).
    pub status: &'static str,
}

/// GET /healthz — public; the process is up.
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "operations",
    responses((status = 200, description = "The process serves", body = Status))
)]
pub async fn get_healthz() -> HttpResponse {
    HttpResponse::Ok().json(Status { status: "ok" })
}

/// GET /readyz — public; the database answers.
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "operations",
    responses(
        (status = 200, description = "The database answers", body = Status),
        crate::openapi::responses::Unavailable,
    )
)]
pub async fn get_readyz(store: web::Data<Store>) -> Result<HttpResponse, ApiError> {
    store
        .read(|conn| conn.batch_execute("SELECT 1").map_err(StoreError::from))
        .await
        .map_err(|_| ApiError::Unavailable)?;
    Ok(HttpResponse::Ok().json(Status { status: "ready" }))
}
