//! `POST /v1/quote`: the engine over HTTP, byte for byte what `sla-credit quote` prints.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};

use crate::domain::quote::{check_plain_quote, check_quote, QuoteResponse};
use crate::wire::Error;

use super::error::ApiError;
use super::support::{parse_json, require_json};

/// The quote as the command line prints it: pretty JSON and a final newline.
pub fn render_quote(r: &QuoteResponse) -> Result<Vec<u8>, Error> {
    // A one-period quote renders to about a kilobyte: one allocation, not a doubling series.
    let mut bytes = Vec::with_capacity(1536 * r.periods.len().max(1));
    serde_json::to_writer_pretty(&mut bytes, r)
        .map_err(|e| Error::internal_from("rendering JSON", e))?;
    bytes.push(b'\n');
    Ok(bytes)
}

/// Bodies up to this size are quoted on the async worker (tens of microseconds); larger ones
/// (up to 100,000 windows, seconds of exact arithmetic) on the blocking pool.
const INLINE_QUOTE_BYTES: usize = 16 * 1024;

pub async fn post_quote(req: HttpRequest, body: web::Bytes) -> Result<HttpResponse, ApiError> {
    require_json(&req)?;
    let inline = body.len() <= INLINE_QUOTE_BYTES;
    let work = move || -> Result<Vec<u8>, Error> {
        let input = match check_plain_quote(&body) {
            Some(checked) => checked?,
            None => check_quote(parse_json(&body)?)?,
        };
        let result = crate::domain::compute(&input)?;
        render_quote(&QuoteResponse::from(&result))
    };
    let bytes = if inline {
        work()?
    } else {
        web::block(work).await??
    };
    Ok(HttpResponse::build(StatusCode::OK)
        .content_type("application/json")
        .body(bytes))
}
