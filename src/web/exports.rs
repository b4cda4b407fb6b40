//! Finance: billing export batches (docs/csv.md, "Exports"). Create one (every entry not yet
//! in a batch: its row count, totals per currency and SHA-256), list them, download one —
//! plain, or for Excel with a BOM and `;` — streamed page by page through the same writer as
//! `GET /v1/exports/{id}.csv` (`crate::csv::export::header` and `rows` over
//! `crate::store::exports::export_page`), so the bytes are the API's; and acknowledge a
//! batch once billing has loaded it. Creating, downloading and acknowledging are for the roles
//! of `Access::Transfer` (finance, admin), as in the API's route table.

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use minijinja::context;
use serde::Deserialize;

use crate::csv::export::{self, Options};
use crate::http::exports::csv_stream;
use crate::store::exports::{acknowledge, list_batches, load_batch, range_of};
use crate::wire::exports::{export_id, parse_export_id, AcknowledgementInput, ExportView};
use crate::wire::keys::Access;
use crate::wire::Error;
use futures_util::StreamExt;

use super::guard::{check_form, form, require, signed, Signed};
use super::render::{settled, Fail};
use crate::http::AppState;

/// Batches on a list page.
const LIST_PAGE: usize = 50;

/// `?after=`
#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    after: Option<String>,
}

fn batch_number(text: &str) -> Result<i64, Fail> {
    parse_export_id(text).ok_or_else(|| Fail::Wire(Error::not_found("export", text)))
}

/// `GET /exports`: the list, and the create form for the roles that may.
pub async fn get_exports(
    state: web::Data<AppState>,
    req: HttpRequest,
    q: web::Query<ListQuery>,
) -> HttpResponse {
    let s = match signed(&state, &req).await {
        Ok(s) => s,
        Err(f) => return state.console.fail(None, f),
    };
    let after = match q.after.as_deref().map(batch_number).transpose() {
        Ok(a) => a,
        Err(f) => return state.console.fail(Some(&s), f),
    };
    let store = state.store.clone();
    let found = web::block(move || {
        let mut conn = store.conn()?;
        list_batches(&mut conn, None, after, LIST_PAGE + 1)
    })
    .await;
    let mut list = match settled(found) {
        Ok(l) => l,
        Err(f) => return state.console.fail(Some(&s), f),
    };
    let more = list.len() > LIST_PAGE;
    list.truncate(LIST_PAGE);
    let next = more
        .then(|| list.last().map(|b| export_id(b.batch.id)))
        .flatten();
    let views: Vec<ExportView> = list.iter().map(|b| b.view()).collect();
    state.console.page(
        StatusCode::OK,
        "exports.html",
        Some(&s),
        context! {
            title => "Exports",
            exports => views,
            next_after => next,
            may_transfer => s.caller.role.may(Access::Transfer),
        },
    )
}

/// A form with only its CSRF token.
#[derive(Debug, Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    csrf: Option<String>,
}

fn see_other(to: String) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, to))
        .finish()
}

/// `POST /exports`: a new batch of every entry not yet in one (finance, admin).
pub async fn post_export(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let s = match signed(&state, &req).await {
        Ok(s) => s,
        Err(f) => return state.console.fail(None, f),
    };
    let checked = form::<CsrfForm>(&body).and_then(|f| {
        check_form(&req, &s.csrf, f.csrf.as_deref())?;
        require(&s, Access::Transfer, "create export batches")
    });
    if let Err(e) = checked {
        return state.console.fail(Some(&s), e);
    }
    let store = state.store.clone();
    let actor = s.caller.name.clone();
    let made = web::block(move || {
        let mut conn = store.conn()?;
        export::create(&mut conn, &actor, super::now())
    })
    .await;
    match made {
        Ok(Ok(info)) => see_other(format!("/exports/{}?created=1", export_id(info.batch.id))),
        Ok(Err(e)) => state.console.fail(Some(&s), e.into()),
        Err(e) => state.console.fail(Some(&s), e.into()),
    }
}

/// `?created=1`, `?acknowledged=1`
#[derive(Debug, Default, Deserialize)]
pub struct BatchQuery {
    created: Option<String>,
    acknowledged: Option<String>,
}

async fn render_batch(
    state: &web::Data<AppState>,
    s: &Signed,
    n: i64,
    status: StatusCode,
    note: Option<&'static str>,
) -> HttpResponse {
    let store = state.store.clone();
    let found = web::block(move || {
        let mut conn = store.conn()?;
        load_batch(&mut conn, n)?.ok_or_else(|| Error::not_found("export", export_id(n)))
    })
    .await;
    let view = match settled(found) {
        Ok(b) => b.view(),
        Err(f) => return state.console.fail(Some(s), f),
    };
    let title = format!("Export {}", view.id);
    state.console.page(
        status,
        "export.html",
        Some(s),
        context! {
            title => title,
            export => view,
            note => note,
            may_transfer => s.caller.role.may(Access::Transfer),
        },
    )
}

/// `GET /exports/{id}`: one batch, its downloads and its acknowledgement.
pub async fn get_export(
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<String>,
    q: web::Query<BatchQuery>,
) -> HttpResponse {
    let s = match signed(&state, &req).await {
        Ok(s) => s,
        Err(f) => return state.console.fail(None, f),
    };
    let n = match batch_number(&id) {
        Ok(n) => n,
        Err(f) => return state.console.fail(Some(&s), f),
    };
    let note = if q.created.is_some() {
        Some("created")
    } else if q.acknowledged.is_some() {
        Some("acknowledged")
    } else {
        None
    };
    render_batch(&state, &s, n, StatusCode::OK, note).await
}

/// `?bom=&delimiter=`, as the API reads them.
#[derive(Debug, Default, Deserialize)]
pub struct CsvQuery {
    bom: Option<String>,
    delimiter: Option<String>,
}

/// `GET /exports/{id}/csv?bom=&delimiter=`: the batch's CSV, streamed page by page exactly
/// as `GET /v1/exports/{id}.csv` writes it (finance, admin).
pub async fn get_export_csv(
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<String>,
    q: web::Query<CsvQuery>,
) -> HttpResponse {
    let s = match signed(&state, &req).await {
        Ok(s) => s,
        Err(f) => return state.console.fail(None, f),
    };
    let checked = require(&s, Access::Transfer, "download export batches")
        .and_then(|()| batch_number(&id))
        .and_then(|n| {
            let opts = Options::parse(q.bom.as_deref(), q.delimiter.as_deref())?;
            Ok((n, opts))
        });
    let (n, opts) = match checked {
        Ok(c) => c,
        Err(f) => return state.console.fail(Some(&s), f),
    };
    let store = state.store.clone();
    let range = web::block(move || {
        let mut conn = store.conn()?;
        range_of(&mut conn, n)?.ok_or_else(|| Error::not_found("export", export_id(n)))
    })
    .await;
    let range = match settled(range) {
        Ok(r) => r,
        Err(f) => return state.console.fail(Some(&s), f),
    };
    let stream = match csv_stream(state.store.clone(), range, opts) {
        Ok(stream) => stream.map(|page| {
            page.map_err(|e| {
                tracing::error!(error = %e.log_chain(), "console export download failed");
                std::io::Error::other("export failed")
            })
        }),
        Err(e) => return state.console.fail(Some(&s), e.into()),
    };
    let suffix = if opts.delimiter == b';' || opts.bom {
        "-excel"
    } else {
        ""
    };
    HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{}{suffix}.csv\"", export_id(n)),
        ))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .streaming(stream)
}

/// The acknowledgement form: billing's reference for the load.
#[derive(Debug, Deserialize)]
pub struct AckForm {
    #[serde(default)]
    reference: String,
    #[serde(default)]
    csrf: Option<String>,
}

/// `POST /exports/{id}/acknowledgement` (finance, admin, as the API's route table says).
pub async fn post_acknowledgement(
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let s = match signed(&state, &req).await {
        Ok(s) => s,
        Err(f) => return state.console.fail(None, f),
    };
    let checked = form::<AckForm>(&body).and_then(|f| {
        check_form(&req, &s.csrf, f.csrf.as_deref())?;
        require(&s, Access::Transfer, "acknowledge export batches")?;
        let n = batch_number(&id)?;
        let reference = AcknowledgementInput {
            reference: f.reference.trim().to_string(),
        }
        .check()
        .map_err(Error::from)?;
        Ok((n, reference))
    });
    let (n, reference) = match checked {
        Ok(c) => c,
        Err(e) => return state.console.fail(Some(&s), e),
    };
    let store = state.store.clone();
    let actor = s.caller.name.clone();
    let done = web::block(move || {
        let mut conn = store.conn()?;
        acknowledge(&mut conn, n, &reference, &actor, super::now())
    })
    .await;
    match done {
        Ok(Ok(_)) => see_other(format!("/exports/{}?acknowledged=1", export_id(n))),
        Ok(Err(e)) => state.console.fail(Some(&s), e.into()),
        Err(e) => state.console.fail(Some(&s), e.into()),
    }
}
