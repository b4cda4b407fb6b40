//! Customers: create, read, search by prefix, and plan changes.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use crate::store::customers;
use crate::wire::customers::{CustomerInput, CustomerView, PlanChangeInput};
use crate::wire::Error;

use super::error::ApiError;
use super::support::{json, json_body, now, read, write, Page};
use super::{caller, AppState};

pub async fn post_customer(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let who = caller(&req)?;
    let new = json_body::<CustomerInput>(&req, &body)?
        .check()
        .map_err(Error::from)?;
    write(&state, &req, &who, &body, move |c| {
        let cu = customers::add_customer(c, &new, now())?;
        Ok(json(StatusCode::CREATED, &CustomerView::from(&cu))?
            .with_header("location", format!("/v1/customers/{}", cu.id)))
    })
    .await
}

pub async fn get_customer(
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let cu = read(&state, move |c| {
        customers::load_customer(c, &id)?.ok_or_else(|| Error::not_found("customer", id))
    })
    .await?;
    Ok(HttpResponse::Ok().json(CustomerView::from(&cu)))
}

/// `?q=&limit=&after=`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomerQuery {
    q: Option<String>,
    limit: Option<String>,
    after: Option<String>,
}

pub async fn list_customers(
    state: web::Data<AppState>,
    q: web::Query<CustomerQuery>,
) -> Result<HttpResponse, ApiError> {
    let prefix = q.q.clone().unwrap_or_default();
    let page = Page::check(
        q.limit.as_deref(),
        q.after.as_deref(),
        &format!("customers?q={prefix}"),
    )?;
    let (after, limit) = (page.after.clone(), page.limit);
    let list = read(&state, move |c| {
        customers::search_customers(c, Some(&prefix), after.as_deref(), limit + 1)
    })
    .await?;
    let views: Vec<CustomerView> = list.iter().map(CustomerView::from).collect();
    Ok(HttpResponse::Ok().json(page.answer(views, |v| v.id.clone())))
}

pub async fn post_plan_change(
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let who = caller(&req)?;
    let id = id.into_inner();
    let (plan_id, at) = json_body::<PlanChangeInput>(&req, &body)?
        .check()
        .map_err(Error::from)?;
    write(&state, &req, &who, &body, move |c| {
        let cu = customers::change_plan(c, &id, &plan_id, at, now())?;
        json(StatusCode::CREATED, &CustomerView::from(&cu))
    })
    .await
}
