//! The console's script and style sheet, embedded in the binary (nothing from a CDN).

use actix_web::http::header;
use actix_web::{web, HttpResponse};

/// `(file, content type, body)`
const ASSETS: &[(&str, &str, &str)] = &[
    (
        "console.js",
        "text/javascript; charset=utf-8",
        include_str!("../../templates/console/static/console.js"),
    ),
    (
        "console.css",
        "text/css; charset=utf-8",
        include_str!("../../templates/console/static/console.css"),
    ),
];

/// `GET /console/static/{file}`
pub async fn get_asset(file: web::Path<String>) -> HttpResponse {
    match ASSETS.iter().find(|(name, _, _)| *name == file.as_str()) {
        Some((_, kind, body)) => HttpResponse::Ok()
            .insert_header((header::CONTENT_TYPE, *kind))
            .insert_header((header::CACHE_CONTROL, "public, max-age=300"))
            .body(*body),
        None => HttpResponse::NotFound()
            .insert_header((header::CONTENT_TYPE, "text/plain; charset=utf-8"))
            .body("no such file"),
    }
}
