//! Settlement over HTTP (docs/restitution.md, docs/rules.md §6): settle an incident for every
//! customer in its scope (or dry-run it), and read recorded settlements and their lines.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};

use crate::notice;
use crate::store::settle::{self, SettleOptions};
use crate::store::settlements;
use crate::wire::credits::{
    parse_settlement_id, settlement_id, SettleInput, SettlementAnswer, SettlementLine,
    SettlementReport,
};
use crate::wire::keys::Access;
use crate::wire::Error;

use super::error::ApiError;
use super::support::{json, json_body, read, write, Listing, Page, PageQuery};
use super::{caller, AppState};

fn now() -> crate::domain::time::Nanos {
    chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0)
}

/// A line's cursor key: customer id and period (ids never hold a space).
fn line_key(l: &SettlementLine) -> String {
    format!("{} {}", l.customer_id, l.period)
}

fn split_key(key: Option<&str>) -> Result<Option<(String, String)>, ApiError> {
    key.map(|k| {
        k.split_once(' ')
            .map(|(c, p)| (c.to_string(), p.to_string()))
            .ok_or_else(|| {
                ApiError::Wire(Error::unparseable("after", "is not a cursor of this list"))
            })
    })
    .transpose()
}

fn lines_binding(id: &str) -> String {
    format!("settlements/{id}/lines")
}

fn answer(
    report: SettlementReport,
    incident_id: String,
    page: Listing<SettlementLine>,
) -> SettlementAnswer {
    SettlementAnswer {
        id: report.id,
        incident_id,
        dry_run: report.dry_run,
        as_of: report.as_of,
        customers: report.customers,
        periods: report.periods,
        entries_appended: report.entries_appended,
        totals: report.totals,
        data: page.data,
        has_more: page.has_more,
        next_after: page.next_after,
    }
}

/// `POST /v1/incidents/{id}/credits` `{dry_run, as_of?, limit?, after?}`. Every role may dry-run;
/// a real run needs the Settle access and is recorded (201, `Location` of the settlement).
pub async fn post_incident_credits(
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let who = caller(&req)?;
    let input = json_body::<SettleInput>(&req, &body)?;
    if !input.dry_run && !who.role.may(Access::Settle) {
        return Err(ApiError::Forbidden(who.role.as_str()));
    }
    let now = now();
    let cmd = input.check(now).map_err(Error::from)?;
    let limit = input.limit.map_or(100, |l| l as usize);
    let incident_id = id.into_inner();
    let mut opts = SettleOptions::new(now);
    opts.actor = who.name.clone();
    opts.dry_run = cmd.dry_run;
    opts.as_of = cmd.as_of;
    if cmd.dry_run {
        let binding = format!("incidents/{incident_id}/credits");
        let page = Page::check(Some(&limit.to_string()), input.after.as_deref(), &binding)?;
        opts.lines_after = split_key(page.after.as_deref())?;
        opts.lines_max = limit + 1;
        let inc = incident_id.clone();
        let report = read(&state, move |c| settle::settle_incident(c, &inc, &opts)).await?;
        let mut report = report;
        let lines = std::mem::take(&mut report.data);
        let listing = page.answer(lines, line_key);
        return Ok(HttpResponse::Ok().json(answer(report, incident_id, listing)));
    }
    if input.after.is_some() {
        return Err(ApiError::Wire(Error::invalid(
            "after",
            "is for a dry run; page a recorded settlement with GET /v1/settlements/{id}/lines",
        )));
    }
    // A real run keeps no lines in memory: they go to the settlement's table batch by batch,
    // and the answer reads its first page back.
    opts.keep_lines = false;
    opts.record = true;
    write(&state, &req, &who, &body, move |c| {
        let report = settle::settle_incident(c, &incident_id, &opts)?;
        let sid = report
            .id
            .clone()
            .and_then(|s| parse_settlement_id(&s))
            .ok_or_else(|| Error::internal("a real settlement was not recorded"))?;
        let page = Page::check(
            Some(&limit.to_string()),
            None,
            &lines_binding(&settlement_id(sid)),
        )
        .map_err(|_| Error::internal("page"))?;
        let lines = settlements::lines_page(c, sid, None, limit + 1)?;
        let listing = page.answer(lines, line_key);
        Ok(
            json(StatusCode::CREATED, &answer(report, incident_id, listing))?.with_header(
                "location",
                format!("/v1/settlements/{}", settlement_id(sid)),
            ),
        )
    })
    .await
}

fn path_settlement(text: &str) -> Result<i64, ApiError> {
    parse_settlement_id(text).ok_or_else(|| ApiError::Wire(Error::not_found("settlement", text)))
}

/// `GET /v1/settlements/{id}`
pub async fn get_settlement(
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let n = path_settlement(&id)?;
    let text = id.into_inner();
    let view = read(&state, move |c| {
        settlements::load_settlement(c, n)?.ok_or_else(|| Error::not_found("settlement", text))
    })
    .await?;
    Ok(HttpResponse::Ok().json(view))
}

/// `GET /v1/settlements/{id}/lines?limit=&after=`, ordered by customer id then period.
pub async fn list_settlement_lines(
    state: web::Data<AppState>,
    id: web::Path<String>,
    q: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let n = path_settlement(&id)?;
    let text = id.into_inner();
    let page = Page::check(
        q.limit.as_deref(),
        q.after.as_deref(),
        &lines_binding(&text),
    )?;
    let after = split_key(page.after.as_deref())?;
    let limit = page.limit;
    let lines = read(&state, move |c| {
        if settlements::load_settlement(c, n)?.is_none() {
            return Err(Error::not_found("settlement", text));
        }
        let after = after.as_ref().map(|(c, p)| (c.as_str(), p.as_str()));
        settlements::lines_page(c, n, after, limit + 1)
    })
    .await?;
    Ok(HttpResponse::Ok().json(page.answer(lines, line_key)))
}

/// `GET /v1/policy-presets`: the shipped presets, each with the public terms it follows.
pub async fn list_policy_presets() -> Result<HttpResponse, ApiError> {
    let page = Page::check(Some("500"), None, "policy-presets")?;
    let files = crate::domain::presets::preset_files();
    Ok(HttpResponse::Ok().json(page.answer(files, |v| {
        v.get("name")
            .and_then(serde_json::Value::as_str)
            .unwrap_or_default()
            .to_string()
    })))
}

/// `GET /v1/credits/{entry_id}/notice`: the customer's follow-up notice of a settled credit,
/// Markdown, or HTML for `Accept: text/html`.
pub async fn get_notice(
    state: web::Data<AppState>,
    req: HttpRequest,
    entry: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let text = entry.into_inner();
    let id = crate::domain::ids::parse_entry_id(&text)
        .ok_or_else(|| ApiError::Wire(Error::not_found("entry", text.as_str())))?;
    let wants_html = req
        .headers()
        .get(actix_web::http::header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().contains("text/html"));
    let format = if wants_html {
        notice::Format::Html
    } else {
        notice::Format::Markdown
    };
    let body = read(&state, move |c| {
        let (view, customer, incident) = settlements::notice_inputs(c, id)?;
        let settings = notice::NoticeSettings::from_env();
        let data = notice::assemble(&customer, &incident, std::slice::from_ref(&view), &settings)?;
        notice::render(&data, format, &settings)
    })
    .await?;
    Ok(HttpResponse::Ok()
        .insert_header(("content-type", format.content_type()))
        .insert_header(("vary", "Accept"))
        .body(body))
}
