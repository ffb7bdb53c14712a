//! The dashboard's stylesheet and its two small scripts, compiled into the binary and
//! served at `/assets/…` (the CSP allows scripts and styles from keygate only).

use actix_web::http::header;
use actix_web::{web, HttpResponse};

const ASSETS: [(&str, &str, &str); 3] = [
    (
        "app.css",
        "text/css; charset=utf-8",
        include_str!("assets/app.css"),
    ),
    (
        "setup.js",
        "text/javascript; charset=utf-8",
        include_str!("assets/setup.js"),
    ),
    (
        "copy.js",
        "text/javascript; charset=utf-8",
        include_str!("assets/copy.js"),
    ),
];

/// GET /assets/{name} — public.
pub async fn get_asset(name: web::Path<String>) -> HttpResponse {
    match ASSETS.iter().find(|(file, ..)| *file == name.as_str()) {
        Some((_, content_type, body)) => HttpResponse::Ok()
            .content_type(*content_type)
            .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
            .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
            .body(*body),
        None => HttpResponse::NotFound().finish(),
    }
}
