//! Billing export batches (docs/csv.md, "Exports"): make one (every entry not yet in a
//! batch), list and show them, download one as CSV (streamed page by page, byte-identical on
//! every download; `?bom=true`, `?delimiter=;` for Excel), and billing's acknowledgement.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use crate::csv::export::{self, Options};
use crate::store::exports::{acknowledge, list_batches, load_batch, range_of, Range, PAGE};
use crate::store::Store;
use crate::wire::exports::{parse_export_id, AcknowledgementInput, ExportStatus, ExportView};
use crate::wire::Error;
use futures_util::StreamExt;

use super::error::ApiError;
use super::support::{json, json_body, read, write, Page};
use super::{caller, AppState};

fn now() -> crate::domain::time::Nanos {
    chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0)
}

fn batch_number(text: &str) -> Result<i64, ApiError> {
    parse_export_id(text).ok_or_else(|| ApiError::Wire(Error::not_found("export", text)))
}

/// No body, or an empty JSON object.
fn check_empty_body(req: &HttpRequest, body: &[u8]) -> Result<(), ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(());
    }
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Empty {}
    json_body::<Empty>(req, body).map(|_| ())
}

pub async fn post_export(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let who = caller(&req)?;
    check_empty_body(&req, &body)?;
    let actor = who.name.clone();
    write(&state, &req, &who, &body, move |c| {
        let info = export::create(c, &actor, now())?;
        let view = info.view();
        Ok(json(StatusCode::CREATED, &view)?
            .with_header("location", format!("/v1/exports/{}", view.id)))
    })
    .await
}

/// `?status=&limit=&after=`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportQuery {
    status: Option<String>,
    limit: Option<String>,
    after: Option<String>,
}

pub async fn list_exports(
    state: web::Data<AppState>,
    q: web::Query<ExportQuery>,
) -> Result<HttpResponse, ApiError> {
    let status = q
        .status
        .as_deref()
        .map(|s| ExportStatus::parse(s).map_err(|m| Error::unparseable("status", m)))
        .transpose()?;
    let binding = format!("exports?status={}", status.map_or("", ExportStatus::as_str));
    let page = Page::check(q.limit.as_deref(), q.after.as_deref(), &binding)?;
    let after = page.after.as_deref().map(batch_number).transpose()?;
    let limit = page.limit;
    let list = read(&state, move |c| list_batches(c, status, after, limit + 1)).await?;
    let views: Vec<ExportView> = list.iter().map(|b| b.view()).collect();
    Ok(HttpResponse::Ok().json(page.answer(views, |v| v.id.clone())))
}

pub async fn get_export(
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let text = id.into_inner();
    let n = batch_number(&text)?;
    let info = read(&state, move |c| {
        load_batch(c, n)?.ok_or_else(|| Error::not_found("export", text))
    })
    .await?;
    Ok(HttpResponse::Ok().json(info.view()))
}

/// `?bom=&delimiter=`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CsvQuery {
    bom: Option<String>,
    delimiter: Option<String>,
}

enum Cursor {
    Head(Vec<u8>),
    After(i64),
    Done,
}

/// A batch's CSV, page by page (each page's query runs on the blocking pool, so memory stays
/// one page whatever the batch's size): the one download both the API and the console serve,
/// byte-identical on every call.
pub(crate) fn csv_stream(
    store: Store,
    range: Range,
    opts: Options,
) -> Result<impl futures_util::Stream<Item = Result<web::Bytes, Error>>, Error> {
    let head = export::header(opts)?;
    Ok(futures_util::stream::unfold(
        Cursor::Head(head),
        move |at| {
            let store = store.clone();
            async move {
                let after = match at {
                    Cursor::Head(h) => return Some((Ok(web::Bytes::from(h)), Cursor::After(0))),
                    Cursor::After(a) => a,
                    Cursor::Done => return None,
                };
                let page = web::block(move || -> Result<(Vec<u8>, Option<i64>, u64), Error> {
                    let mut c = store.conn()?;
                    let mut buf = Vec::new();
                    let (len, last) =
                        export::write_page(&mut c, range, after, PAGE, opts, &mut buf)?;
                    Ok((buf, last, len))
                })
                .await
                .unwrap_or_else(|e| Err(Error::internal_from("writing an export page", e)));
                match page {
                    Ok((_, None, _)) => None,
                    Ok((buf, Some(last), len)) => {
                        let next = if len < PAGE as u64 {
                            Cursor::Done
                        } else {
                            Cursor::After(last)
                        };
                        Some((Ok(web::Bytes::from(buf)), next))
                    }
                    Err(e) => Some((Err(e), Cursor::Done)),
                }
            }
        },
    ))
}

pub async fn get_export_csv(
    state: web::Data<AppState>,
    id: web::Path<String>,
    q: web::Query<CsvQuery>,
) -> Result<HttpResponse, ApiError> {
    let text = id.into_inner();
    let n = batch_number(&text)?;
    let opts = Options::parse(q.bom.as_deref(), q.delimiter.as_deref())?;
    let shown = text.clone();
    let range = read(&state, move |c| {
        range_of(c, n)?.ok_or_else(|| Error::not_found("export", shown))
    })
    .await?;
    let stream =
        csv_stream(state.store.clone(), range, opts)?.map(|page| page.map_err(ApiError::Wire));
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            "content-disposition",
            format!("attachment; filename=\"{text}.csv\""),
        ))
        .streaming(stream))
}

pub async fn post_acknowledgement(
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let who = caller(&req)?;
    let n = batch_number(&id.into_inner())?;
    let reference = json_body::<AcknowledgementInput>(&req, &body)?
        .check()
        .map_err(Error::from)?;
    let actor = who.name.clone();
    write(&state, &req, &who, &body, move |c| {
        let info = acknowledge(c, n, &reference, &actor, now())?;
        json(StatusCode::OK, &info.view())
    })
    .await
}
