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

/// GET /healthz — public; the process is up.
pub async fn get_healthz() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({"status": "ok"}))
}

/// GET /readyz — public; the database answers.
pub async fn get_readyz(store: web::Data<Store>) -> Result<HttpResponse, ApiError> {
    store
        .run(|conn| conn.batch_execute("SELECT 1").map_err(StoreError::from))
        .await
        .map_err(|_| ApiError::Unavailable)?;
    Ok(HttpResponse::Ok().json(serde_json::json!({"status": "ready"})))
}
