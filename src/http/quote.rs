//! `POST /v1/quote`: the engine over HTTP, byte for byte what `sla-credit quote` prints.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};

use crate::domain::quote::{check_quote, QuoteResponse};
use crate::wire::Error;

use super::error::ApiError;
use super::support::json_value;

/// The quote as the command line prints it: pretty JSON and a final newline.
pub fn render_quote(r: &QuoteResponse) -> Result<Vec<u8>, Error> {
    let mut text =
        serde_json::to_string_pretty(r).map_err(|e| Error::internal_from("rendering JSON", e))?;
    text.push('\n');
    Ok(text.into_bytes())
}

/// Bodies up to this size are quoted on the async worker (tens of microseconds); larger ones
/// (up to 100,000 windows, seconds of exact arithmetic) on the blocking pool.
const INLINE_QUOTE_BYTES: usize = 16 * 1024;

pub async fn post_quote(req: HttpRequest, body: web::Bytes) -> Result<HttpResponse, ApiError> {
    let value = json_value(&req, &body)?;
    let work = move || -> Result<Vec<u8>, Error> {
        let input = check_quote(value)?;
        let result = crate::domain::compute(&input)?;
        render_quote(&QuoteResponse::from(&result))
    };
    let bytes = if body.len() <= INLINE_QUOTE_BYTES {
        work()?
    } else {
        web::block(work).await??
    };
    Ok(HttpResponse::build(StatusCode::OK)
        .content_type("application/json")
        .body(bytes))
}
