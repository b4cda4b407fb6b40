//! Plans: create, read, list, and PUT a new version (ETag = the version).

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};

use crate::store::plans;
use crate::wire::plans::{PlanInput, PlanPutInput, PlanView};
use crate::wire::{ConflictKind, Error};

use super::error::ApiError;
use super::support::{json, json_body, read, write, Page, PageQuery};
use super::{caller, AppState};

fn now() -> crate::domain::time::Nanos {
    chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0)
}

fn etag(version: i64) -> String {
    format!("\"v{version}\"")
}

pub async fn post_plan(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let who = caller(&req)?;
    let new = json_body::<PlanInput>(&req, &body)?.check().map_err(Error::from)?;
    write(&state, &req, &who, &body, move |c| {
        let info = plans::add_plan(c, &new, now())?;
        let v = info.latest();
        Ok(json(StatusCode::CREATED, &PlanView::from(v))
?
            .with_header("etag", etag(v.version))
            .with_header("location", format!("/v1/plans/{}", v.plan_id)))
    })
    .await
}

pub async fn get_plan(
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let info = read(&state, move |c| {
        plans::load_plan(c, &id)?.ok_or_else(|| Error::not_found("plan", id))
    })
    .await?;
    let v = info.latest();
    Ok(HttpResponse::Ok()
        .insert_header((header::ETAG, etag(v.version)))
        .json(PlanView::from(v)))
}

pub async fn list_plans(
    state: web::Data<AppState>,
    q: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let page = Page::check(q.limit.as_deref(), q.after.as_deref(), "plans")?;
    let (after, limit) = (page.after.clone(), page.limit);
    let list = read(&state, move |c| plans::list_plans(c, after.as_deref(), limit + 1)).await?;
    let views: Vec<PlanView> = list.iter().map(|p| PlanView::from(p.latest())).collect();
    Ok(HttpResponse::Ok().json(page.answer(views, |v| v.id.clone())))
}

pub async fn put_plan(
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let who = caller(&req)?;
    let id = id.into_inner();
    let (update, currency) = json_body::<PlanPutInput>(&req, &body)?
        .check(&id)
        .map_err(Error::from)?;
    let if_match = req
        .headers()
        .get(header::IF_MATCH)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    write(&state, &req, &who, &body, move |c| {
        let current = plans::load_plan(c, &id)?.ok_or_else(|| Error::not_found("plan", id.as_str()))?;
        let latest = current.latest();
        if let Some(tag) = &if_match {
            if tag.trim() != "*" && tag.trim() != etag(latest.version) {
                return Err(Error::PreconditionFailed {
                    message: format!(
                        "If-Match {tag} does not match the current version {}",
                        etag(latest.version)
                    ),
                });
            }
        }
        if currency != current.currency {
            return Err(Error::conflict(
                ConflictKind::State,
                "currency",
                format!("the plan bills in {}; a plan's currency never changes", current.currency),
            ));
        }
        let (info, added) = plans::update_plan(c, &id, &update, now())?;
        let v = info.latest();
        let status = if added { StatusCode::CREATED } else { StatusCode::OK };
        Ok(json(status, &PlanView::from(v))
?
            .with_header("etag", etag(v.version)))
    })
    .await
}
