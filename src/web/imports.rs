//! Finance: CSV upload and the import history (docs/console.md, docs/csv.md). An upload is a
//! dry run first — the same `crate::csv::import::import` the API's `POST /v1/imports/{kind}`
//! runs, with `dry_run` — whose row errors show in a table and store nothing. A clean dry run
//! keeps the file in the server's memory for this session (one file per session, for
//! [`PENDING_FOR`]) until the analyst confirms; the confirmation runs the real import, all or
//! nothing, of exactly the bytes that were checked (their SHA-256 travels in the form).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use minijinja::{context, Value};
use serde::{Deserialize, Serialize};

use crate::csv::import::{import, ImportRequest};
use crate::store::imports as store;
use crate::wire::imports::{import_id, parse_import_id, ImportKind, ImportView, RowError};
use crate::wire::keys::Access;
use crate::wire::Error;

use super::guard::{check_form, form, require, signed, Signed};
use super::render::{settled, Fail};
use super::upload;
use crate::http::AppState;

/// Largest file the console takes (it holds a checked file in memory until confirmed);
/// larger files go through `POST /v1/imports/{kind}`.
pub const UPLOAD_LIMIT: usize = 64 * 1024 * 1024;
/// How long a checked file waits for its confirmation.
pub const PENDING_FOR: Duration = Duration::from_secs(30 * 60);
/// Imports on a history page.
const LIST_PAGE: usize = 50;

/// A file whose dry run was clean, waiting for the analyst's confirmation.
#[derive(Debug, Clone)]
struct Pending {
    kind: ImportKind,
    file: web::Bytes,
    sha256: String,
    at: Instant,
}

/// The checked files waiting for confirmation, by session id (one per session).
#[derive(Debug, Default)]
pub struct Uploads {
    pending: Mutex<HashMap<String, Pending>>,
}

impl Uploads {
    fn put(&self, session: &str, p: Pending) {
        if let Ok(mut m) = self.pending.lock() {
            m.retain(|_, v| v.at.elapsed() < PENDING_FOR);
            m.insert(session.to_string(), p);
        }
    }

    /// The session's checked file, if it is this one (kind and SHA-256) and still fresh.
    fn take(&self, session: &str, kind: ImportKind, sha256: &str) -> Option<Pending> {
        let mut m = self.pending.lock().ok()?;
        let p = m.get(session)?;
        if p.kind != kind || p.sha256 != sha256 || p.at.elapsed() >= PENDING_FOR {
            return None;
        }
        m.remove(session)
    }
}

/// `?after=`
#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    after: Option<String>,
}

/// The kinds, for the form's choice.
fn kinds() -> Vec<&'static str> {
    ImportKind::ALL.iter().map(|k| k.as_str()).collect()
}

/// What an upload's result shows.
#[derive(Debug, Default, Serialize)]
struct Outcome {
    kind: String,
    filename: String,
    /// The dry run found every row valid: the confirm form is shown.
    clean: bool,
    view: Option<ImportView>,
    errors: Vec<RowError>,
    errors_total: usize,
    errors_beyond: usize,
}

async fn render_list(
    state: &web::Data<AppState>,
    s: &Signed,
    status: StatusCode,
    after: Option<String>,
    outcome: Option<Outcome>,
) -> HttpResponse {
    let after = match after.as_deref().map(parse_import_id) {
        Some(None) => {
            let e = Error::unparseable("after", "is not an import id");
            return state.console.fail(Some(s), e.into());
        }
        Some(a) => a,
        None => None,
    };
    let store = state.store.clone();
    let found = web::block(move || {
        let mut conn = store.conn()?;
        store::list_imports(&mut conn, after, LIST_PAGE + 1)
    })
    .await;
    let mut rows = match settled(found) {
        Ok(r) => r,
        Err(f) => return state.console.fail(Some(s), f),
    };
    let more = rows.len() > LIST_PAGE;
    rows.truncate(LIST_PAGE);
    let next = more.then(|| rows.last().map(|r| import_id(r.id))).flatten();
    let views: Vec<ImportView> = rows.iter().map(|r| r.view(false, false)).collect();
    state.console.page(
        status,
        "imports.html",
        Some(s),
        context! {
            title => "Imports",
            imports => views,
            next_after => next,
            may_import => s.caller.role.may(Access::Transfer),
            kinds => kinds(),
            outcome => outcome.map(|o| Value::from_serialize(&o)),
        },
    )
}

/// `GET /imports`: the upload form (finance, admin) and the history.
pub async fn get_imports(
    state: web::Data<AppState>,
    req: HttpRequest,
    q: web::Query<ListQuery>,
) -> HttpResponse {
    match signed(&state, &req).await {
        Ok(s) => render_list(&state, &s, StatusCode::OK, q.into_inner().after, None).await,
        Err(f) => state.console.fail(None, f),
    }
}

/// `?stored=1` after a confirmed import.
#[derive(Debug, Default, Deserialize)]
pub struct ImportQuery {
    stored: Option<String>,
}

/// `GET /imports/{id}`: one import.
pub async fn get_import(
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<String>,
    q: web::Query<ImportQuery>,
) -> HttpResponse {
    let s = match signed(&state, &req).await {
        Ok(s) => s,
        Err(f) => return state.console.fail(None, f),
    };
    let text = id.into_inner();
    let Some(n) = parse_import_id(&text) else {
        return state
            .console
            .fail(Some(&s), Error::not_found("import", text).into());
    };
    let store = state.store.clone();
    let found = web::block(move || {
        let mut conn = store.conn()?;
        store::load_import(&mut conn, n)?.ok_or_else(|| Error::not_found("import", import_id(n)))
    })
    .await;
    let view = match settled(found) {
        Ok(r) => r.view(false, false),
        Err(f) => return state.console.fail(Some(&s), f),
    };
    let title = format!("Import {}", view.id.clone().unwrap_or_default());
    state.console.page(
        StatusCode::OK,
        "import.html",
        Some(&s),
        context! { title => title, import => view, stored => q.stored.is_some() },
    )
}

/// Runs the import (dry or real) of a file off the async workers.
async fn run(
    state: &web::Data<AppState>,
    s: &Signed,
    kind: ImportKind,
    file: web::Bytes,
    dry_run: bool,
) -> Result<Result<ImportView, Error>, Fail> {
    let store = state.store.clone();
    let request = ImportRequest {
        kind,
        actor: s.caller.name.clone(),
        now: super::now(),
        dry_run,
    };
    Ok(web::block(move || {
        let mut conn = store.conn()?;
        import(
            &mut conn,
            &request,
            &mut || Ok(std::io::Cursor::new(file.clone())),
            &mut |_| {},
        )
    })
    .await?)
}

/// The row errors of a refused file, for the table.
fn refused(mut o: Outcome, e: Error) -> Result<Outcome, Error> {
    match e {
        Error::InvalidRows(rows) => {
            o.errors_total = rows.total;
            o.errors_beyond = rows.total.saturating_sub(rows.listed.len());
            o.errors = rows.listed;
            Ok(o)
        }
        other => Err(other),
    }
}

fn parse_kind(text: &str) -> Result<ImportKind, Fail> {
    ImportKind::parse(text.trim()).map_err(|m| Fail::Wire(Error::unparseable("kind", m)))
}

/// `POST /imports` (multipart: `csrf`, `kind`, `file`): the dry run of an uploaded file.
pub async fn post_upload(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> HttpResponse {
    let s = match signed(&state, &req).await {
        Ok(s) => s,
        Err(f) => return state.console.fail(None, f),
    };
    let checked = async {
        // The role first: a support session's forged upload is refused before it is read.
        require(&s, Access::Transfer, "import CSV files")?;
        let body = upload::read_limited(payload, UPLOAD_LIMIT).await?;
        let parts = upload::parts(&req, &body)?;
        check_form(&req, &s.csrf, upload::field(&parts, "csrf").as_deref())?;
        let kind = parse_kind(&upload::field(&parts, "kind").unwrap_or_default())?;
        let file = parts
            .into_iter()
            .find(|p| p.name == "file" && p.filename.is_some())
            .filter(|p| !p.data.is_empty())
            .ok_or_else(|| Fail::Wire(Error::unparseable("file", "choose a CSV file")))?;
        Ok::<_, Fail>((kind, file))
    }
    .await;
    let (kind, file) = match checked {
        Ok(k) => k,
        Err(e) => return state.console.fail(Some(&s), e),
    };
    let outcome = Outcome {
        kind: kind.as_str().to_string(),
        filename: file.filename.clone().unwrap_or_default(),
        ..Outcome::default()
    };
    let ran = match run(&state, &s, kind, file.data.clone(), true).await {
        Ok(r) => r,
        Err(f) => return state.console.fail(Some(&s), f),
    };
    let (status, outcome) = match ran {
        Ok(view) => {
            let clean = !view.already_imported;
            if clean {
                let p = Pending {
                    kind,
                    file: file.data,
                    sha256: view.sha256.clone(),
                    at: Instant::now(),
                };
                state.console.uploads.put(&s.id, p);
            }
            let o = Outcome {
                clean,
                view: Some(view),
                ..outcome
            };
            (StatusCode::OK, o)
        }
        Err(e) => match refused(outcome, e) {
            Ok(o) => (StatusCode::UNPROCESSABLE_ENTITY, o),
            Err(e) => return state.console.fail(Some(&s), e.into()),
        },
    };
    render_list(&state, &s, status, None, Some(outcome)).await
}

/// The confirmation of a clean dry run.
#[derive(Debug, Deserialize)]
pub struct ConfirmForm {
    #[serde(default)]
    kind: String,
    #[serde(default)]
    sha256: String,
    #[serde(default)]
    csrf: Option<String>,
}

/// `POST /imports/confirm`: the real import of the file this session checked.
pub async fn post_confirm(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let s = match signed(&state, &req).await {
        Ok(s) => s,
        Err(f) => return state.console.fail(None, f),
    };
    let checked = form::<ConfirmForm>(&body).and_then(|f| {
        check_form(&req, &s.csrf, f.csrf.as_deref())?;
        require(&s, Access::Transfer, "import CSV files")?;
        let kind = parse_kind(&f.kind)?;
        state
            .console
            .uploads
            .take(&s.id, kind, f.sha256.trim())
            .ok_or_else(|| {
                Fail::Wire(Error::conflict(
                    crate::wire::error::ConflictKind::State,
                    "file",
                    "no checked file of this kind waits for confirmation (it expired, or was \
                     replaced by another upload): upload it again",
                ))
            })
    });
    let pending = match checked {
        Ok(p) => p,
        Err(e) => return state.console.fail(Some(&s), e),
    };
    let kind = pending.kind;
    let ran = match run(&state, &s, kind, pending.file, false).await {
        Ok(r) => r,
        Err(f) => return state.console.fail(Some(&s), f),
    };
    match ran {
        Ok(view) => {
            let id = view.id.clone().unwrap_or_default();
            let stored = if view.already_imported {
                ""
            } else {
                "?stored=1"
            };
            HttpResponse::SeeOther()
                .insert_header((header::LOCATION, format!("/imports/{id}{stored}")))
                .finish()
        }
        Err(e) => {
            let outcome = Outcome {
                kind: kind.as_str().to_string(),
                ..Outcome::default()
            };
            match refused(outcome, e) {
                Ok(o) => {
                    render_list(&state, &s, StatusCode::UNPROCESSABLE_ENTITY, None, Some(o)).await
                }
                Err(e) => state.console.fail(Some(&s), e.into()),
            }
        }
    }
}
