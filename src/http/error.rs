//! One error shape for everything the API answers instead of a result: RFC 9457
//! `application/problem+json` with `type` under `/problems/`, `title`, `status`, `detail` and,
//! for bad input, `errors: [{field | row + column, code, message}]`. A 500 says nothing
//! internal; the log gets the whole chain.

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

use crate::wire::Error;

/// The problem types the API answers, with their titles (also served as short pages).
pub const PROBLEMS: &[(&str, &str)] = &[
    ("bad-request", "The request could not be read"),
    ("validation", "The request is not valid"),
    ("not-found", "No such record"),
    ("id-taken", "The id is taken"),
    ("already-reversed", "The entry is already reversed"),
    ("not-yet-ended", "The outage has not ended"),
    ("conflict", "The request conflicts with stored data"),
    ("precondition-failed", "The record has changed"),
    ("busy", "The database is busy"),
    ("internal", "Internal error"),
    ("unauthorized", "A valid API key is needed"),
    ("forbidden", "The API key's role may not do this"),
    ("unsupported-media-type", "Unsupported content type"),
    ("payload-too-large", "The body is too large"),
    ("method-not-allowed", "Method not allowed"),
    (
        "idempotency-key-reused",
        "The Idempotency-Key was used with another request",
    ),
    (
        "idempotency-in-flight",
        "A request with this Idempotency-Key is still running",
    ),
];

/// An API error: the taxonomy's, or one only HTTP has.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error(transparent)]
    Wire(#[from] Error),
    #[error("a valid API key is needed")]
    Unauthorized,
    #[error("the key's role ({0}) may not do this")]
    Forbidden(&'static str),
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("the body is larger than {0} bytes")]
    PayloadTooLarge(usize),
    #[error("{0}")]
    MethodNotAllowed(String),
    #[error("no route {0}")]
    NoRoute(String),
    #[error("the Idempotency-Key was used with another request")]
    IdempotencyReused,
    #[error("a request with this Idempotency-Key is still running")]
    IdempotencyInFlight,
}

/// One listed problem: a request field, or a CSV row and column with the cell's value.
#[derive(Debug, Serialize)]
pub struct ProblemItem {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub row: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    pub code: String,
    pub message: String,
}

/// The body.
#[derive(Debug, Serialize)]
pub struct Problem {
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<ProblemItem>,
    /// For CSV files: how many row errors there are in all (`errors` lists the first 1,000).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_count: Option<usize>,
}

impl ApiError {
    fn slug(&self) -> &'static str {
        match self {
            ApiError::Wire(e) => e.slug(),
            ApiError::Unauthorized => "unauthorized",
            ApiError::Forbidden(_) => "forbidden",
            ApiError::UnsupportedMediaType(_) => "unsupported-media-type",
            ApiError::PayloadTooLarge(_) => "payload-too-large",
            ApiError::MethodNotAllowed(_) => "method-not-allowed",
            ApiError::NoRoute(_) => "not-found",
            ApiError::IdempotencyReused => "idempotency-key-reused",
            ApiError::IdempotencyInFlight => "idempotency-in-flight",
        }
    }

    /// Whether an idempotent retry replays this answer (the handler's own 404/409/422).
    pub fn is_replayed(&self) -> bool {
        matches!(self, ApiError::Wire(e) if matches!(e.status(), 404 | 409 | 412 | 422))
    }

    pub fn problem(&self) -> Problem {
        let slug = self.slug();
        let title = PROBLEMS
            .iter()
            .find(|(s, _)| *s == slug)
            .map_or("Error", |(_, t)| t);
        let mut error_count = None;
        let (detail, errors) = match self {
            ApiError::Wire(Error::InvalidRows(rows)) => {
                error_count = Some(rows.total);
                (
                    format!("{} problems in the file; nothing was stored", rows.total),
                    rows.listed
                        .iter()
                        .map(|r| ProblemItem {
                            field: None,
                            row: Some(r.row),
                            column: Some(r.column.clone()),
                            value: Some(r.value.clone()),
                            code: r.code.to_string(),
                            message: r.message.clone(),
                        })
                        .collect(),
                )
            }
            ApiError::Wire(e @ Error::Internal { .. }) => {
                tracing::error!(error = %e.log_chain(), "internal error");
                (
                    "The server failed; the failure is logged.".to_string(),
                    Vec::new(),
                )
            }
            ApiError::Wire(e) => (
                detail_of(e),
                e.field_errors()
                    .into_iter()
                    .map(|f| ProblemItem {
                        field: Some(f.field),
                        row: None,
                        column: None,
                        value: None,
                        code: f.code.to_string(),
                        message: f.message,
                    })
                    .collect(),
            ),
            other => (other.to_string(), Vec::new()),
        };
        Problem {
            kind: format!("/problems/{slug}"),
            title: title.to_string(),
            status: self.status_code().as_u16(),
            detail,
            errors,
            error_count,
        }
    }
}

fn detail_of(e: &Error) -> String {
    match e {
        Error::Invalid(v) | Error::Unparseable(v) => match v.0.len() {
            1 => v.0[0].to_string(),
            n => format!("{n} problems; see errors"),
        },
        other => other.to_string(),
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        let code = match self {
            ApiError::Wire(e) => e.status(),
            ApiError::Unauthorized => 401,
            ApiError::Forbidden(_) => 403,
            ApiError::UnsupportedMediaType(_) => 415,
            ApiError::PayloadTooLarge(_) => 413,
            ApiError::MethodNotAllowed(_) => 405,
            ApiError::NoRoute(_) => 404,
            ApiError::IdempotencyReused => 422,
            ApiError::IdempotencyInFlight => 409,
        };
        StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> HttpResponse {
        let problem = self.problem();
        let mut resp = HttpResponse::build(self.status_code());
        resp.insert_header((header::CONTENT_TYPE, "application/problem+json"));
        match self {
            ApiError::Unauthorized => {
                resp.insert_header((header::WWW_AUTHENTICATE, "Bearer"));
            }
            ApiError::Wire(Error::Busy) | ApiError::IdempotencyInFlight => {
                resp.insert_header((header::RETRY_AFTER, "1"));
            }
            ApiError::MethodNotAllowed(allow) => {
                resp.insert_header((header::ALLOW, allow.clone()));
            }
            _ => {}
        }
        resp.body(serde_json::to_vec(&problem).unwrap_or_default())
    }
}

impl From<actix_web::error::BlockingError> for ApiError {
    fn from(e: actix_web::error::BlockingError) -> Self {
        ApiError::Wire(Error::internal_from("worker pool", e))
    }
}
