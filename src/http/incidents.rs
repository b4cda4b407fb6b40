//! Incidents: create, read, list, PATCH (ETag = the last change).

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};

use crate::domain::book::IncidentRecord;
use crate::store::incidents;
use crate::wire::incidents::{IncidentInput, IncidentPatch, IncidentView};
use crate::wire::Error;

use super::error::ApiError;
use super::support::{
    check_if_match, if_match, json, json_body, now, read, write, Page, PageQuery,
};
use super::{caller, AppState};

/// An incident's version: a digest of what a PATCH can change.
fn etag(i: &IncidentRecord) -> String {
    use sha2::{Digest, Sha256};
    let text = format!("{:?}|{}|{:?}", i.ended_at, i.impact.normalize(), i.summary);
    let d = Sha256::digest(text.as_bytes());
    format!("\"{}\"", crate::domain::ids::hex(&d[..8]))
}

pub async fn post_incident(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let who = caller(&req)?;
    let new = json_body::<IncidentInput>(&req, &body)?
        .check()
        .map_err(Error::from)?;
    write(&state, &req, &who, &body, move |c| {
        let i = incidents::add_incident(c, &new, now())?;
        Ok(json(StatusCode::CREATED, &IncidentView::from(&i))?
            .with_header("etag", etag(&i))
            .with_header("location", format!("/v1/incidents/{}", i.id)))
    })
    .await
}

pub async fn get_incident(
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let i = read(&state, move |c| {
        incidents::load_incident(c, &id)?.ok_or_else(|| Error::not_found("incident", id))
    })
    .await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::ETAG, etag(&i)))
        .json(IncidentView::from(&i)))
}

pub async fn list_incidents(
    state: web::Data<AppState>,
    q: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let page = Page::check(q.limit.as_deref(), q.after.as_deref(), "incidents")?;
    let (after, limit) = (page.after.clone(), page.limit);
    let list = read(&state, move |c| {
        incidents::list_incidents(c, after.as_deref(), limit + 1)
    })
    .await?;
    let views: Vec<IncidentView> = list.iter().map(IncidentView::from).collect();
    Ok(HttpResponse::Ok().json(page.answer(views, |v| v.id.clone())))
}

pub async fn patch_incident(
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let who = caller(&req)?;
    let id = id.into_inner();
    let patch = json_body::<IncidentPatch>(&req, &body)?
        .check()
        .map_err(Error::from)?;
    let if_match = if_match(&req);
    write(&state, &req, &who, &body, move |c| {
        let current = incidents::load_incident(c, &id)?
            .ok_or_else(|| Error::not_found("incident", id.as_str()))?;
        check_if_match(if_match.as_deref(), &etag(&current))?;
        let i = incidents::update_incident(c, &id, &patch, now())?;
        Ok(json(StatusCode::OK, &IncidentView::from(&i))?.with_header("etag", etag(&i)))
    })
    .await
}
