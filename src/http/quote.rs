//! `POST /v1/quote`: the engine over HTTP, byte for byte what `sla-credit quote` prints.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};

use crate::domain::quote::{check_plain_quote, check_quote, QuoteResponse};
use crate::wire::quote::render_quote;
use crate::wire::Error;

use super::error::ApiError;
use super::support::{parse_json, require_json};

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
        Ok(render_quote(&QuoteResponse::from(&result)))
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
