//! Credits: the support view of a customer, goodwill, one entry, reversals, and the ledger
//! feed billing systems poll (commit order).

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use crate::domain::ids::{entry_id, parse_entry_id};
use crate::store::convert::to_minor;
use crate::store::sqlite::read_tx;
use crate::store::{customers, ledger};
use crate::wire::credits::{Balance, EntryView, GoodwillInput, LedgerFilter, ReversalInput};
use crate::wire::customers::CustomerView;
use crate::wire::Error;

use super::error::ApiError;
use super::support::{json, json_body, now, read, write, Listing, Page, PageQuery};
use super::{caller, AppState};

/// `GET /v1/customers/{id}/credits`: the form [`support_body`] writes.
#[cfg(test)]
#[derive(serde::Serialize)]
struct SupportView {
    customer: CustomerView,
    balances: Vec<Balance>,
    #[serde(flatten)]
    page: Listing<EntryView>,
}

/// The support view's body, as `serde_json` writes a `SupportView`. An entry renders to about
/// a kilobyte: the body is written into one buffer of that size, the entries field by field
/// (`EntryView::write_json`, most of a page).
fn support_body(
    customer: &CustomerView,
    balances: &[Balance],
    page: &Listing<EntryView>,
) -> Result<Vec<u8>, Error> {
    let mut body = Vec::with_capacity(1024 * (page.data.len() + 1));
    let fail = |e| Error::internal_from("rendering JSON", e);
    body.extend_from_slice(b"{\"customer\":");
    serde_json::to_writer(&mut body, customer).map_err(fail)?;
    body.extend_from_slice(b",\"balances\":");
    serde_json::to_writer(&mut body, balances).map_err(fail)?;
    body.extend_from_slice(b",\"data\":[");
    for (i, v) in page.data.iter().enumerate() {
        if i > 0 {
            body.push(b',');
        }
        v.write_json(&mut body);
    }
    body.extend_from_slice(if page.has_more {
        b"],\"has_more\":true,\"next_after\":"
    } else {
        b"],\"has_more\":false,\"next_after\":"
    });
    crate::wire::json_text::optional_string(&mut body, page.next_after.as_deref());
    body.push(b'}');
    Ok(body)
}

fn entry_key(cursor: Option<&str>) -> Result<Option<i64>, ApiError> {
    cursor
        .map(|c| {
            parse_entry_id(c).ok_or_else(|| {
                ApiError::Wire(Error::unparseable("after", "is not a cursor of this list"))
            })
        })
        .transpose()
}

pub async fn get_customer_credits(
    state: web::Data<AppState>,
    id: web::Path<String>,
    q: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let page = Page::check(
        q.limit.as_deref(),
        q.after.as_deref(),
        &format!("credits/{id}"),
    )?;
    let before = entry_key(page.after.as_deref())?;
    let limit = page.limit;
    // One read transaction: the customer, the page and the balances come from one snapshot.
    let (customer, balances, views) = read(&state, move |c| {
        read_tx(c, |c| {
            let cu = customers::load_customer(c, &id)?
                .ok_or_else(|| Error::not_found("customer", id.as_str()))?;
            // One row more than the page tells whether there is a next page.
            let (amounts, views) = ledger::customer_page(c, &id, before, limit + 1)?;
            // A first page that holds every entry gives the balances without a second read.
            let balances = if before.is_none() && amounts.len() <= limit {
                ledger::page_balances(&amounts, &views)?
            } else {
                ledger::customer_balances(c, &id)?
            };
            Ok((cu, balances, views))
        })
    })
    .await?;
    let page = page.answer(views, |v| v.id.clone());
    let body = support_body(&CustomerView::from(&customer), &balances, &page)?;
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .body(body))
}

pub async fn post_goodwill(
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let who = caller(&req)?;
    let cmd = json_body::<GoodwillInput>(&req, &body)?
        .check(&id)
        .map_err(Error::from)?;
    let counter = state.metrics.credits_minor.clone();
    let actor = who.name.clone();
    write(&state, &req, &who, &body, move |c| {
        let entry = ledger::goodwill(c, &cmd, &actor, now())?;
        let minor = to_minor(entry.amount, entry.currency.minor_units()).unwrap_or(0);
        counter
            .with_label_values(&[entry.currency.code()])
            .inc_by(u64::try_from(minor).unwrap_or(0));
        let view = ledger::entry_views(c, std::slice::from_ref(&entry))?;
        Ok(json(StatusCode::CREATED, &view[0])?
            .with_header("location", format!("/v1/credits/{}", entry_id(entry.id))))
    })
    .await
}

fn path_entry(text: &str) -> Result<i64, ApiError> {
    parse_entry_id(text).ok_or_else(|| ApiError::Wire(Error::not_found("entry", text)))
}

pub async fn get_entry(
    state: web::Data<AppState>,
    entry: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = path_entry(&entry)?;
    let view = read(&state, move |c| {
        let e =
            ledger::load_entry(c, id)?.ok_or_else(|| Error::not_found("entry", entry_id(id)))?;
        let mut v = ledger::entry_views(c, &[e])?;
        v.pop()
            .ok_or_else(|| Error::internal("entry view vanished"))
    })
    .await?;
    Ok(HttpResponse::Ok().json(view))
}

pub async fn post_reversal(
    state: web::Data<AppState>,
    req: HttpRequest,
    entry: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let who = caller(&req)?;
    let reason = json_body::<ReversalInput>(&req, &body)?
        .check()
        .map_err(Error::from)?;
    let id = path_entry(&entry)?;
    let actor = who.name.clone();
    write(&state, &req, &who, &body, move |c| {
        let e = ledger::reverse(c, id, &reason, &actor, now())?;
        let view = ledger::entry_views(c, std::slice::from_ref(&e))?;
        Ok(json(StatusCode::CREATED, &view[0])?
            .with_header("location", format!("/v1/credits/{}", entry_id(e.id))))
    })
    .await
}

/// `?customer_id=&kind=&from=&to=&limit=&after=`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LedgerQuery {
    customer_id: Option<String>,
    kind: Option<String>,
    from: Option<String>,
    to: Option<String>,
    limit: Option<String>,
    after: Option<String>,
}

pub async fn list_ledger(
    state: web::Data<AppState>,
    q: web::Query<LedgerQuery>,
) -> Result<HttpResponse, ApiError> {
    let filter = LedgerFilter::check(
        q.customer_id.as_deref(),
        q.kind.as_deref(),
        q.from.as_deref(),
        q.to.as_deref(),
    )
    .map_err(|e| ApiError::Wire(Error::Unparseable(e)))?;
    let binding = format!(
        "ledger?{:?}|{:?}|{:?}|{:?}",
        q.customer_id, q.kind, q.from, q.to
    );
    let page = Page::check(q.limit.as_deref(), q.after.as_deref(), &binding)?;
    let after = entry_key(page.after.as_deref())?;
    let limit = page.limit;
    let views = read(&state, move |c| {
        let entries = ledger::list_entries(c, &filter, after, limit + 1)?;
        ledger::entry_views(c, &entries)
    })
    .await?;
    Ok(HttpResponse::Ok().json(page.answer(views, |v| v.id.clone())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::value::RawValue;
    use std::sync::Arc;

    fn entry(id: &str, reason: Option<&str>) -> EntryView {
        let s = |t: &str| t.to_string();
        EntryView {
            id: s(id),
            kind: s("goodwill"),
            customer_id: s("acme"),
            period: s("2026-01"),
            amount: s("64.52"),
            currency: s("USD"),
            incident_ids: vec![s("INC-1")],
            reason: reason.map(s),
            reference: None,
            created_at: s("2026-02-01T00:00:00Z"),
            created_by: s("billing"),
            reverses: None,
            reversed_by: Some(s("cre_9")),
            settlement_id: None,
            export_id: Some(s("exp_1")),
            plan_id: Some(s("basic")),
            policy_version: Some(2),
            rounding: Some(s("half_up")),
            explanation: s("2 days × 1000.00 USD ÷ 31 days = 64.52 USD"),
            breakdown: Arc::new(serde_json::Value::Null),
            policy: Arc::from(
                RawValue::from_string(r#"{"rule":{"kind":"days_of_service"}}"#.into())
                    .expect("json"),
            ),
            as_of: None,
            tzdb_version: s("2025b"),
            engine_version: s("0.1.0"),
        }
    }

    #[test]
    fn the_support_body_is_what_serde_json_writes() {
        let customer = CustomerView {
            id: "acme".into(),
            name: "Acme \"Corp\"".into(),
            email: None,
            timezone: "America/Los_Angeles".into(),
            plan_id: "basic".into(),
            plan_since: "2026-01-01T08:00:00Z".into(),
            plan_since_local: "2026-01-01T00:00:00-08:00".into(),
            plan_history: vec![],
        };
        let balances = vec![Balance {
            currency: "USD".into(),
            total: "64.52".into(),
            exported: "64.52".into(),
            pending: "0.00".into(),
        }];
        let pages = [
            (vec![], false, None),
            (
                vec![entry("cre_2", Some("Apology\nfor INC-1"))],
                false,
                Some("c2"),
            ),
            (
                vec![entry("cre_3", None), entry("cre_2", Some("x"))],
                true,
                Some("c3"),
            ),
        ];
        for (data, has_more, next_after) in pages {
            let page = Listing {
                data,
                has_more,
                next_after: next_after.map(str::to_string),
            };
            let ours = support_body(&customer, &balances, &page).expect("renders");
            let view = SupportView {
                customer: customer.clone(),
                balances: balances.clone(),
                page,
            };
            let theirs = serde_json::to_vec(&view).expect("renders");
            assert_eq!(
                String::from_utf8_lossy(&ours),
                String::from_utf8_lossy(&theirs)
            );
        }
    }
}
