//! Liveness, the spec, and the short pages the problem types point at.

use actix_web::{web, HttpResponse};
use serde_json::json;

use crate::domain::{ENGINE_VERSION, TZDB_VERSION};

use super::error::{ApiError, PROBLEMS};

/// The API's description, served as it is in the repository.
pub const OPENAPI_YAML: &str = include_str!("../../openapi.yaml");

pub async fn get_health() -> HttpResponse {
    HttpResponse::Ok().json(json!({
        "status": "ok",
        "engine_version": ENGINE_VERSION,
        "tzdb_version": TZDB_VERSION,
    }))
}

/// `/metrics` is answered by the Prometheus middleware before routing; this handler only
/// gives the route its place in the table.
pub async fn get_metrics_placeholder() -> Result<HttpResponse, ApiError> {
    Err(ApiError::NoRoute("/metrics".into()))
}

pub async fn get_openapi() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/yaml")
        .body(OPENAPI_YAML)
}

pub async fn get_problem(slug: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let slug = slug.into_inner();
    let (_, title) = PROBLEMS
        .iter()
        .find(|(s, _)| *s == slug)
        .ok_or_else(|| ApiError::NoRoute(format!("/problems/{slug}")))?;
    Ok(HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .body(format!(
            "{title}\n\nThis is the problem type /problems/{slug} of the sla-credit API. The \
             response's detail and errors say what to change; docs/http.md lists every type.\n"
        )))
}
