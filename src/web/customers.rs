//! Customers: search (as you type through `/console/search`, and by plain form submit), and
//! the support view of one customer — zone and plan, balances per currency, entries newest
//! first with their explanation and breakdown (docs/rules.md §6) — with the goodwill form
//! for the roles that may grant one (the same checked command as the API's).

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use minijinja::{context, Value};
use serde::{Deserialize, Serialize};

use crate::domain::book::Customer;
use crate::domain::ids::{entry_id, parse_entry_id};
use crate::domain::time::format_local;
use crate::store::convert::to_minor;
use crate::store::ledger::{self, Entry};
use crate::store::{customers, plans, Conn};
use crate::wire::credits::{Balance, EntryView, GoodwillInput};
use crate::wire::keys::Access;
use crate::wire::Error;

use super::guard::{check_form, form, require, signed, Signed};
use super::render::{settled, Problem};
use crate::http::AppState;

/// Customers on a search page.
const SEARCH_PAGE: usize = 50;
/// Suggestions while typing.
const SUGGESTIONS: usize = 20;
/// Entries on a customer page.
const ENTRIES_PAGE: usize = 50;

/// `?q=&after=`
#[derive(Debug, Default, Deserialize)]
pub struct SearchQuery {
    q: Option<String>,
    after: Option<String>,
}

/// One customer in a list.
#[derive(Debug, Serialize)]
pub struct CustomerLine {
    id: String,
    name: String,
    email: Option<String>,
    timezone: String,
    href: String,
}

impl From<&Customer> for CustomerLine {
    fn from(c: &Customer) -> Self {
        CustomerLine {
            id: c.id.clone(),
            name: c.name.clone(),
            email: c.email.clone(),
            timezone: c.timezone.name().to_string(),
            href: format!("/customers/{}", c.id),
        }
    }
}

fn clean_query(q: Option<&str>) -> String {
    q.unwrap_or("").trim().chars().take(200).collect()
}

/// `GET /customers?q=`: the search page (works without the script).
pub async fn get_customers(
    state: web::Data<AppState>,
    req: HttpRequest,
    q: web::Query<SearchQuery>,
) -> HttpResponse {
    let s = match signed(&state, &req).await {
        Ok(s) => s,
        Err(f) => return state.console.fail(None, f),
    };
    let text = clean_query(q.q.as_deref());
    let after = q.after.clone();
    let store = state.store.clone();
    let needle = text.clone();
    let found = web::block(move || -> Result<Vec<Customer>, Error> {
        let mut conn = store.conn()?;
        customers::search_customers(&mut conn, Some(&needle), after.as_deref(), SEARCH_PAGE + 1)
    })
    .await;
    let mut list = match settled(found) {
        Ok(l) => l,
        Err(f) => return state.console.fail(Some(&s), f),
    };
    let more = list.len() > SEARCH_PAGE;
    list.truncate(SEARCH_PAGE);
    let next = more.then(|| list.last().map(|c| c.id.clone())).flatten();
    let lines: Vec<CustomerLine> = list.iter().map(CustomerLine::from).collect();
    state.console.page(
        StatusCode::OK,
        "customers.html",
        Some(&s),
        context! { title => "Customers", q => text, customers => lines, next_after => next },
    )
}

/// `GET /console/search?q=`: suggestions for the search box, as JSON.
pub async fn get_search(
    state: web::Data<AppState>,
    req: HttpRequest,
    q: web::Query<SearchQuery>,
) -> HttpResponse {
    if signed(&state, &req).await.is_err() {
        return HttpResponse::Unauthorized().json(serde_json::json!({"error": "sign in"}));
    }
    let text = clean_query(q.q.as_deref());
    let store = state.store.clone();
    let found = web::block(move || -> Result<Vec<Customer>, Error> {
        let mut conn = store.conn()?;
        customers::search_customers(&mut conn, Some(&text), None, SUGGESTIONS)
    })
    .await;
    match found {
        Ok(Ok(list)) => {
            let lines: Vec<CustomerLine> = list.iter().map(CustomerLine::from).collect();
            HttpResponse::Ok().json(lines)
        }
        Ok(Err(e)) => {
            tracing::error!(error = %e.log_chain(), "console search failed");
            HttpResponse::ServiceUnavailable().json(serde_json::json!({"error": "search failed"}))
        }
        Err(_) => {
            HttpResponse::ServiceUnavailable().json(serde_json::json!({"error": "search failed"}))
        }
    }
}

/// `?before=cre_…&granted=cre_…`
#[derive(Debug, Default, Deserialize)]
pub struct CustomerQuery {
    before: Option<String>,
    granted: Option<String>,
}

/// One line of a breakdown: a label and its figure.
#[derive(Debug, Serialize)]
struct Figure {
    label: &'static str,
    value: String,
}

/// An entry as the page shows it.
#[derive(Debug, Serialize)]
struct EntryLine {
    id: String,
    kind: String,
    period: String,
    amount: String,
    currency: String,
    created_at_local: String,
    created_by: String,
    explanation: String,
    reason: Option<String>,
    reference: Option<String>,
    incidents: String,
    reverses: Option<String>,
    reversed_by: Option<String>,
    policy_version: Option<i64>,
    plan_id: Option<String>,
    breakdown: Vec<Figure>,
}

/// The breakdown's figures, in reading order (`key`, label, unit after the figure).
const BREAKDOWN: &[(&str, &str, &str)] = &[
    ("timezone", "Time zone", ""),
    ("period_seconds", "Period length", " s"),
    ("denominator_seconds", "Measured over", " s"),
    ("outage_seconds", "Outage", " s"),
    ("excluded_seconds", "Excluded (maintenance)", " s"),
    ("downtime_seconds", "Downtime counted", " s"),
    ("uptime_percent", "Uptime", " %"),
    ("rule", "Rule", ""),
    ("tier", "Tier", ""),
    ("credit_percent", "Credit percent", " %"),
    ("affected_days", "Affected days", ""),
    ("days_in_period", "Days in period", ""),
    ("days_credited", "Days credited", ""),
    ("fee", "Fee of the period", " CUR"),
    ("fee_during_downtime", "Fee during downtime", " CUR"),
    ("uncapped_credit", "Credit before the cap", " CUR"),
    ("capped_credit", "Credit after the cap", " CUR"),
    ("rounding", "Rounding", ""),
    ("credit", "Credit, rounded", " CUR"),
];

fn show(v: &serde_json::Value) -> Option<String> {
    match v {
        serde_json::Value::Null => None,
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        serde_json::Value::Bool(b) => Some(b.to_string()),
        serde_json::Value::Array(a) if a.is_empty() => None,
        other => Some(other.to_string()),
    }
}

/// The breakdown as labelled figures: the period in the customer's local time with its
/// offset, uptime, tier, fee, and the arithmetic that led to the credit.
fn figures(b: &serde_json::Value, currency: &str) -> Vec<Figure> {
    let mut out = Vec::new();
    if b.is_null() {
        return out;
    }
    if let (Some(start), Some(end)) = (show(&b["start"]), show(&b["end"])) {
        out.push(Figure {
            label: "Period (local)",
            value: format!("{start} → {end}"),
        });
    }
    for (key, label, unit) in BREAKDOWN {
        if let Some(v) = show(&b[*key]) {
            let unit = unit.replace("CUR", currency);
            out.push(Figure {
                label,
                value: format!("{v}{unit}"),
            });
        }
    }
    if let Some(w) = show(&b["warnings"]) {
        out.push(Figure {
            label: "Warnings",
            value: w,
        });
    }
    if let Some(x) = show(&b["explanation"]) {
        out.push(Figure {
            label: "Arithmetic",
            value: x,
        });
    }
    out
}

fn entry_line(e: &Entry, v: EntryView, customer: &Customer) -> EntryLine {
    let breakdown = figures(&v.breakdown, &v.currency);
    EntryLine {
        created_at_local: format_local(e.created_at, customer.timezone),
        incidents: v.incident_ids.join(", "),
        breakdown,
        id: v.id,
        kind: v.kind,
        period: v.period,
        amount: v.amount,
        currency: v.currency,
        created_by: v.created_by,
        explanation: v.explanation,
        reason: v.reason,
        reference: v.reference,
        reverses: v.reverses,
        reversed_by: v.reversed_by,
        policy_version: v.policy_version,
        plan_id: v.plan_id,
    }
}

/// What the customer page shows.
#[derive(Debug, Serialize)]
struct CustomerPage {
    id: String,
    name: String,
    email: Option<String>,
    timezone: String,
    now_local: String,
    plan_id: String,
    plan_name: Option<String>,
    plan_price: Option<String>,
    billing_cycle: Option<String>,
    balances: Vec<Balance>,
    entries: Vec<EntryLine>,
    older: Option<String>,
}

fn load_page(conn: &mut Conn, id: &str, before: Option<i64>) -> Result<CustomerPage, Error> {
    let now = super::now();
    let cu = customers::load_customer(conn, id)?.ok_or_else(|| Error::not_found("customer", id))?;
    let plan_id = cu.plan_at(now).to_string();
    let plan = plans::load_plan(conn, &plan_id)?;
    let version = plan.as_ref().map(|p| p.version_at(now));
    let balances = ledger::customer_balances(conn, id)?;
    let mut entries = ledger::customer_entries_page(conn, id, before, ENTRIES_PAGE + 1)?;
    let more = entries.len() > ENTRIES_PAGE;
    entries.truncate(ENTRIES_PAGE);
    let views = ledger::entry_views(conn, &entries)?;
    let older = more
        .then(|| entries.last().map(|e| entry_id(e.id)))
        .flatten();
    let lines = entries
        .iter()
        .zip(views)
        .map(|(e, v)| entry_line(e, v, &cu))
        .collect();
    Ok(CustomerPage {
        id: cu.id.clone(),
        name: cu.name.clone(),
        email: cu.email.clone(),
        timezone: cu.timezone.name().to_string(),
        now_local: format_local(now, cu.timezone),
        plan_id,
        plan_name: version.map(|v| v.name.clone()),
        plan_price: version.map(|v| format!("{} {}", v.currency.format(v.plan.price), v.currency)),
        billing_cycle: version.map(|v| v.plan.billing_cycle.as_str().to_string()),
        balances,
        entries: lines,
        older,
    })
}

/// The goodwill form: `grant` is `days` or `amount`, `value` its figure.
#[derive(Debug, Default, Clone, Deserialize, Serialize)]
pub struct GoodwillForm {
    #[serde(default)]
    grant: String,
    #[serde(default)]
    value: String,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    period: String,
    #[serde(default)]
    reference: String,
    #[serde(default, skip_serializing)]
    csrf: Option<String>,
}

impl GoodwillForm {
    /// The API's request form of the same gesture (checked by the same code).
    fn input(&self) -> GoodwillInput {
        let value = Some(serde_json::Value::String(self.value.trim().to_string()));
        let optional = |s: &str| Some(s.trim().to_string()).filter(|s| !s.is_empty());
        let (days, amount) = if self.grant == "amount" {
            (None, value)
        } else {
            (value, None)
        };
        GoodwillInput {
            days,
            amount,
            currency: None,
            reason: self.reason.trim().to_string(),
            period: optional(&self.period),
            reference: optional(&self.reference),
        }
    }
}

async fn render_customer(
    state: &web::Data<AppState>,
    s: &Signed,
    id: String,
    q: CustomerQuery,
    status: StatusCode,
    goodwill: (GoodwillForm, Vec<Problem>),
) -> HttpResponse {
    let before = match q.before.as_deref().map(parse_entry_id) {
        Some(None) => {
            let e = Error::unparseable("before", "is not an entry id");
            return state.console.fail(Some(s), e.into());
        }
        Some(b) => b,
        None => None,
    };
    let store = state.store.clone();
    let loaded = web::block(move || {
        let mut conn = store.conn()?;
        load_page(&mut conn, &id, before)
    })
    .await;
    let page = match settled(loaded) {
        Ok(p) => p,
        Err(f) => return state.console.fail(Some(s), f),
    };
    let granted = q.granted.filter(|g| parse_entry_id(g).is_some());
    let title = format!("Customer {}", page.name);
    state.console.page(
        status,
        "customer.html",
        Some(s),
        context! {
            title => title,
            customer => Value::from_serialize(&page),
            may_credit => s.caller.role.may(Access::Credit),
            form => Value::from_serialize(&goodwill.0),
            problems => goodwill.1,
            granted => granted,
        },
    )
}

/// `GET /customers/{id}`
pub async fn get_customer(
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<String>,
    q: web::Query<CustomerQuery>,
) -> HttpResponse {
    let s = match signed(&state, &req).await {
        Ok(s) => s,
        Err(f) => return state.console.fail(None, f),
    };
    let blank = GoodwillForm {
        grant: "days".into(),
        ..GoodwillForm::default()
    };
    render_customer(
        &state,
        &s,
        id.into_inner(),
        q.into_inner(),
        StatusCode::OK,
        (blank, Vec::new()),
    )
    .await
}

/// `POST /customers/{id}/goodwill`: billing and admin only; the form's problems show on the
/// customer page, the form kept.
pub async fn post_goodwill(
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
    let f = match form::<GoodwillForm>(&body)
        .and_then(|f| check_form(&req, &s.csrf, f.csrf.as_deref()).map(|()| f))
        .and_then(|f| require(&s, Access::Credit, "grant goodwill credits").map(|()| f))
    {
        Ok(f) => f,
        Err(e) => return state.console.fail(Some(&s), e),
    };
    let cmd = match f.input().check(&id) {
        Ok(c) => c,
        Err(v) => return form_problems(&state, &s, id, f, Error::from(v)).await,
    };
    let store = state.store.clone();
    let actor = s.caller.name.clone();
    let counter = state.metrics.credits_minor.clone();
    let done = web::block(move || {
        let mut conn = store.conn()?;
        let e = ledger::goodwill(&mut conn, &cmd, &actor, super::now())?;
        let minor = to_minor(e.amount, e.currency.minor_units()).unwrap_or(0);
        counter
            .with_label_values(&[e.currency.code()])
            .inc_by(u64::try_from(minor).unwrap_or(0));
        Ok::<_, Error>(e)
    })
    .await;
    match done {
        Ok(Ok(e)) => HttpResponse::SeeOther()
            .insert_header((
                header::LOCATION,
                format!("/customers/{id}?granted={}", entry_id(e.id)),
            ))
            .finish(),
        Ok(Err(e @ (Error::Invalid(_) | Error::Conflict { .. }))) => {
            form_problems(&state, &s, id, f, e).await
        }
        Ok(Err(e)) => state.console.fail(Some(&s), e.into()),
        Err(e) => state.console.fail(Some(&s), e.into()),
    }
}

/// The customer page again with the form's problems beside it (422, or 409 for a taken
/// reference).
async fn form_problems(
    state: &web::Data<AppState>,
    s: &Signed,
    id: String,
    f: GoodwillForm,
    e: Error,
) -> HttpResponse {
    let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::UNPROCESSABLE_ENTITY);
    let problems = e
        .field_errors()
        .into_iter()
        .map(|p| Problem {
            field: p.field,
            message: p.message,
        })
        .collect();
    render_customer(
        state,
        s,
        id,
        CustomerQuery::default(),
        status,
        (f, problems),
    )
    .await
}
