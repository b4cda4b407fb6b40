//! CSV imports (docs/csv.md): `POST /v1/imports/{kind}` with a `text/csv` body or a
//! `multipart/form-data` field `file`, `?dry_run=true` to validate only; past imports listed
//! and shown. The whole file is checked before anything is stored; a 422 lists the bad rows.

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use futures_util::StreamExt;
use serde::Deserialize;

use crate::csv::import::{import, ImportRequest};
use crate::store::imports as store;
use crate::wire::imports::{import_id, parse_import_id, ImportKind, ImportView};
use crate::wire::Error;

use super::error::ApiError;
use super::support::{json, read, write, Page, PageQuery};
use super::{caller, AppState};

/// Largest CSV body accepted, in bytes (a million customer rows is about 60 MB).
pub const IMPORT_LIMIT: usize = 512 * 1024 * 1024;

fn now() -> crate::domain::time::Nanos {
    chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0)
}

/// `?dry_run=`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImportQuery {
    dry_run: Option<String>,
}

/// A boolean query parameter: `true` or `false`.
pub fn flag(value: Option<&str>, name: &str) -> Result<bool, ApiError> {
    match value {
        None | Some("false") => Ok(false),
        Some("true") => Ok(true),
        Some(_) => Err(ApiError::Wire(Error::unparseable(
            name,
            "must be true or false",
        ))),
    }
}

async fn read_body(mut payload: web::Payload) -> Result<web::Bytes, ApiError> {
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| ApiError::Wire(Error::unparseable("body", e.to_string())))?;
        if body.len() + chunk.len() > IMPORT_LIMIT {
            return Err(ApiError::PayloadTooLarge(IMPORT_LIMIT));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

/// The CSV of a request: the body itself (`text/csv`) or the multipart field `file`.
fn csv_of(req: &HttpRequest, body: &web::Bytes) -> Result<web::Bytes, ApiError> {
    let ct = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let mime = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    match mime.as_str() {
        "text/csv" | "application/csv" => Ok(body.clone()),
        "multipart/form-data" => multipart_file(ct, body),
        _ => Err(ApiError::UnsupportedMediaType(format!(
            "the body must be text/csv or multipart/form-data with a field file, not {:?}",
            if ct.is_empty() { "nothing" } else { ct }
        ))),
    }
}

fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    hay.get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|i| i + from)
}

/// The content of the part named `file` of a `multipart/form-data` body (RFC 7578).
fn multipart_file(content_type: &str, body: &web::Bytes) -> Result<web::Bytes, ApiError> {
    let bad = |m: &str| ApiError::Wire(Error::unparseable("body", m.to_string()));
    let boundary = content_type
        .split(';')
        .filter_map(|p| p.trim().split_once('='))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("boundary"))
        .map(|(_, v)| v.trim().trim_matches('"').to_string())
        .ok_or_else(|| bad("multipart/form-data without a boundary"))?;
    let delimiter = format!("--{boundary}");
    let next_part = format!("\r\n--{boundary}");
    let mut at =
        find(body, delimiter.as_bytes(), 0).ok_or_else(|| bad("multipart body without parts"))?;
    loop {
        let head_start = at + delimiter.len();
        if body.get(head_start..head_start + 2) == Some(b"--") {
            return Err(bad("multipart/form-data has no field named file"));
        }
        let head_end =
            find(body, b"\r\n\r\n", head_start).ok_or_else(|| bad("malformed multipart part"))?;
        let head = String::from_utf8_lossy(body.get(head_start..head_end).unwrap_or_default())
            .to_ascii_lowercase();
        let content = head_end + 4;
        let end = find(body, next_part.as_bytes(), content)
            .ok_or_else(|| bad("unterminated multipart part"))?;
        let is_file = head.lines().any(|l| {
            l.starts_with("content-disposition:")
                && l.split(';')
                    .any(|p| matches!(p.trim(), "name=\"file\"" | "name=file"))
        });
        if is_file {
            return Ok(body.slice(content..end));
        }
        at = end + 2;
    }
}

pub async fn post_import(
    state: web::Data<AppState>,
    req: HttpRequest,
    kind: web::Path<String>,
    q: web::Query<ImportQuery>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let who = caller(&req)?;
    let kind =
        ImportKind::parse(&kind).map_err(|_| Error::not_found("import kind", kind.as_str()))?;
    let dry_run = flag(q.dry_run.as_deref(), "dry_run")?;
    let body = read_body(payload).await?;
    let file = csv_of(&req, &body)?;
    let request = ImportRequest {
        kind,
        actor: who.name.clone(),
        now: now(),
        dry_run,
    };
    write(&state, &req, &who, &body, move |c| {
        let view = import(
            c,
            &request,
            &mut || Ok(std::io::Cursor::new(file.clone())),
            &mut |_| {},
        )?;
        let status = if view.id.is_some() && !view.already_imported && !view.dry_run {
            StatusCode::CREATED
        } else {
            StatusCode::OK
        };
        let reply = json(status, &view)?;
        Ok(match &view.id {
            Some(id) => reply.with_header("location", format!("/v1/imports/{id}")),
            None => reply,
        })
    })
    .await
}

pub async fn list_imports(
    state: web::Data<AppState>,
    q: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let page = Page::check(q.limit.as_deref(), q.after.as_deref(), "imports")?;
    let after = page
        .after
        .as_deref()
        .map(|a| {
            parse_import_id(a)
                .ok_or_else(|| Error::unparseable("after", "is not a cursor of this list"))
        })
        .transpose()?;
    let limit = page.limit;
    let rows = read(&state, move |c| store::list_imports(c, after, limit + 1)).await?;
    let views: Vec<ImportView> = rows.iter().map(|r| r.view(false, false)).collect();
    Ok(HttpResponse::Ok().json(page.answer(views, |v| v.id.clone().unwrap_or_default())))
}

pub async fn get_import(
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let text = id.into_inner();
    let n = parse_import_id(&text).ok_or_else(|| Error::not_found("import", text.as_str()))?;
    let row = read(&state, move |c| {
        store::load_import(c, n)?.ok_or_else(|| Error::not_found("import", import_id(n)))
    })
    .await?;
    Ok(HttpResponse::Ok().json(row.view(false, false)))
}
