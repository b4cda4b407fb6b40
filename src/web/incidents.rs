//! Incidents: the list, one incident (window, scope), and its settlement (docs/rules.md §6):
//! a dry run for every role, showing totals per currency, the periods touched and the lines;
//! then the real run for the roles that may settle (billing, finance, admin).

use std::collections::{BTreeMap, BTreeSet};

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use minijinja::{context, Value};
use serde::{Deserialize, Serialize};

use crate::domain::book::IncidentRecord;
use crate::domain::scope::Scope;
use crate::domain::time::format_utc;
use crate::store::console::incident_settlements;
use crate::store::incidents;
use crate::store::settle::{settle_incident, SettleOptions};
use crate::store::settlements::settled_customers;
use crate::wire::credits::SettlementReport;
use crate::wire::keys::Access;
use crate::wire::Error;

use super::guard::{check_form, form, require, signed, Signed};
use super::render::{settled, Fail};
use crate::http::AppState;

/// Incidents on a list page.
const LIST_PAGE: usize = 50;
/// Settlement lines (and affected customers, and notices) shown on the page.
const LINES_SHOWN: usize = 200;
/// Recorded settlements shown on the page.
const SETTLEMENTS_SHOWN: usize = 50;

/// `?after=`
#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    after: Option<String>,
}

/// An incident as the pages show it.
#[derive(Debug, Serialize)]
struct IncidentLine {
    id: String,
    title: String,
    kind: String,
    started_at: String,
    ended_at: Option<String>,
    duration: Option<String>,
    impact: String,
    summary: Option<String>,
    scope: String,
    scope_ids: Vec<String>,
}

fn duration(nanos: i64) -> String {
    let secs = nanos.div_euclid(1_000_000_000);
    let (d, h, m, s) = (
        secs / 86_400,
        (secs % 86_400) / 3600,
        (secs % 3600) / 60,
        secs % 60,
    );
    if d > 0 {
        format!("{d} d {h} h {m} min {s} s")
    } else {
        format!("{h} h {m} min {s} s")
    }
}

impl From<&IncidentRecord> for IncidentLine {
    fn from(i: &IncidentRecord) -> Self {
        let (scope, scope_ids) = match &i.scope {
            Scope::All => ("every customer".to_string(), Vec::new()),
            Scope::Plans(ids) => (format!("customers on {} plan(s)", ids.len()), ids.clone()),
            Scope::Customers(ids) => (format!("{} customer(s)", ids.len()), ids.clone()),
        };
        IncidentLine {
            id: i.id.clone(),
            title: i.title.clone(),
            kind: i.kind.as_str().to_string(),
            started_at: format_utc(i.started_at),
            ended_at: i.ended_at.map(format_utc),
            duration: i.ended_at.map(|e| duration(e.saturating_sub(i.started_at))),
            impact: i.impact.normalize().to_string(),
            summary: i.summary.clone(),
            scope,
            scope_ids,
        }
    }
}

/// `GET /incidents`
pub async fn get_incidents(
    state: web::Data<AppState>,
    req: HttpRequest,
    q: web::Query<ListQuery>,
) -> HttpResponse {
    let s = match signed(&state, &req).await {
        Ok(s) => s,
        Err(f) => return state.console.fail(None, f),
    };
    let store = state.store.clone();
    let after = q.after.clone();
    let found = web::block(move || {
        let mut conn = store.conn()?;
        incidents::list_incidents(&mut conn, after.as_deref(), LIST_PAGE + 1)
    })
    .await;
    let mut list = match settled(found) {
        Ok(l) => l,
        Err(f) => return state.console.fail(Some(&s), f),
    };
    let more = list.len() > LIST_PAGE;
    list.truncate(LIST_PAGE);
    let next = more.then(|| list.last().map(|i| i.id.clone())).flatten();
    let lines: Vec<IncidentLine> = list.iter().map(IncidentLine::from).collect();
    state.console.page(
        StatusCode::OK,
        "incidents.html",
        Some(&s),
        context! { title => "Incidents", incidents => lines, next_after => next },
    )
}

/// A settlement as the page shows it.
#[derive(Debug, Serialize)]
struct ReportView {
    dry_run: bool,
    as_of: String,
    customers: usize,
    periods: usize,
    entries_appended: usize,
    totals: Vec<crate::wire::credits::Total>,
    touched: Vec<Touched>,
    /// Customers with a line, in id order (the first [`LINES_SHOWN`]).
    affected: Vec<String>,
    affected_total: usize,
    lines: Vec<crate::wire::credits::SettlementLine>,
    lines_total: usize,
}

/// A period the settlement touched, and for how many customers.
#[derive(Debug, Serialize)]
struct Touched {
    period: String,
    customers: usize,
}

impl From<SettlementReport> for ReportView {
    fn from(r: SettlementReport) -> Self {
        let mut touched: BTreeMap<String, usize> = BTreeMap::new();
        let mut affected: BTreeSet<&str> = BTreeSet::new();
        for l in &r.data {
            *touched.entry(l.period.clone()).or_default() += 1;
            affected.insert(l.customer_id.as_str());
        }
        let affected_total = affected.len();
        let affected: Vec<String> = affected
            .into_iter()
            .take(LINES_SHOWN)
            .map(str::to_string)
            .collect();
        let lines_total = r.data.len();
        let mut lines = r.data;
        lines.truncate(LINES_SHOWN);
        ReportView {
            dry_run: r.dry_run,
            as_of: r.as_of,
            customers: r.customers,
            periods: r.periods,
            entries_appended: r.entries_appended,
            totals: r.totals,
            touched: touched
                .into_iter()
                .map(|(period, customers)| Touched { period, customers })
                .collect(),
            affected,
            affected_total,
            lines,
            lines_total,
        }
    }
}

async fn render_incident(
    state: &web::Data<AppState>,
    s: &Signed,
    id: String,
    report: Option<ReportView>,
) -> HttpResponse {
    let store = state.store.clone();
    let found = web::block(move || {
        let mut conn = store.conn()?;
        let incident = incidents::load_incident(&mut conn, &id)?
            .ok_or_else(|| Error::not_found("incident", id.as_str()))?;
        let recorded = incident_settlements(&mut conn, &id, SETTLEMENTS_SHOWN)?;
        let settled = settled_customers(&mut conn, &id)?;
        Ok::<_, Error>((incident, recorded, settled))
    })
    .await;
    let (incident, recorded, mut settled) = match settled(found) {
        Ok(found) => found,
        Err(f) => return state.console.fail(Some(s), f),
    };
    let line = IncidentLine::from(&incident);
    let title = format!("Incident {}", incident.id);
    let settled_total = settled.len();
    settled.truncate(LINES_SHOWN);
    state.console.page(
        StatusCode::OK,
        "incident.html",
        Some(s),
        context! {
            title => title,
            incident => Value::from_serialize(&line),
            may_settle => s.caller.role.may(Access::Settle),
            report => report.map(|r| Value::from_serialize(&r)),
            settlements => recorded,
            settled => settled,
            settled_total => settled_total,
        },
    )
}

/// `GET /incidents/{id}`
pub async fn get_incident(
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<String>,
) -> HttpResponse {
    match signed(&state, &req).await {
        Ok(s) => render_incident(&state, &s, id.into_inner(), None).await,
        Err(f) => state.console.fail(None, f),
    }
}

/// The settle form: `action` is `dry-run` or `settle`.
#[derive(Debug, Deserialize)]
pub struct SettleForm {
    #[serde(default)]
    action: String,
    #[serde(default)]
    csrf: Option<String>,
}

/// `POST /incidents/{id}/settle`: a dry run (every role) or the real settlement (the roles
/// that may settle), shown on the incident page.
pub async fn post_settle(
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let s = match signed(&state, &req).await {
        Ok(s) => s,
        Err(f) => return state.console.fail(None, f),
    };
    let id = id.into_inner();
    let checked = form::<SettleForm>(&body).and_then(|f| {
        check_form(&req, &s.csrf, f.csrf.as_deref())?;
        match f.action.as_str() {
            "dry-run" => Ok(true),
            "settle" => require(&s, Access::Settle, "settle an incident").map(|()| false),
            _ => Err(Fail::Wire(Error::unparseable(
                "action",
                "must be dry-run or settle",
            ))),
        }
    });
    let dry_run = match checked {
        Ok(d) => d,
        Err(e) => return state.console.fail(Some(&s), e),
    };
    let store = state.store.clone();
    let mut opts = SettleOptions::new(super::now());
    opts.actor = s.caller.name.clone();
    opts.dry_run = dry_run;
    // A real run is recorded as a settlement (`stl_…`) with its lines, as the API's is, so
    // the incident's page, `GET /v1/settlements/{id}` and `sla-credit notices` find it.
    opts.record = !dry_run;
    let incident = id.clone();
    let ran = web::block(move || {
        let mut conn = store.conn()?;
        settle_incident(&mut conn, &incident, &opts)
    })
    .await;
    match ran {
        Ok(Ok(r)) => render_incident(&state, &s, id, Some(ReportView::from(r))).await,
        Ok(Err(e)) => state.console.fail(Some(&s), e.into()),
        Err(e) => state.console.fail(Some(&s), e.into()),
    }
}
