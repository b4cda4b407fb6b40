//! Customers and their plan history. The plan in force at an instant is the latest plan change
//! at or before it. All of a customer's plans share one currency, so every (customer, period)
//! has one currency.

use std::collections::{HashMap, HashSet};

use diesel::prelude::*;

use crate::domain::book::Customer;
use crate::domain::time::{parse_zone, Nanos};
use crate::wire::customers::NewCustomer;
use crate::wire::ConflictKind;

use super::convert::{read_ts, ts};
use super::models::{CustomerRow, PlanChangeRow};
use super::plans::{load_plan, load_plans};
use super::schema::{customers, plan_changes};
use super::sqlite::{is_unique_violation, write_tx, Conn};
use crate::wire::Error;

/// Rows per multi-row INSERT (SQLite allows 32,766 bound values per statement).
const INSERT_CHUNK: usize = 1_000;

/// The rows one new customer is stored as.
pub(crate) fn rows_for(new: &NewCustomer, now: Nanos) -> (CustomerRow, PlanChangeRow) {
    (
        CustomerRow {
            id: new.id.clone(),
            name: new.name.clone(),
            email: new.email.clone(),
            timezone: new.timezone.name().to_string(),
            created_at: ts(now),
        },
        PlanChangeRow {
            customer_id: new.id.clone(),
            effective_at: ts(new.plan_since),
            plan_id: new.plan_id.clone(),
            created_at: ts(now),
        },
    )
}

/// Adds one customer on a plan.
pub fn add_customer(conn: &mut Conn, new: &NewCustomer, now: Nanos) -> Result<Customer, Error> {
    write_tx(conn, |c| {
        if load_plan(c, &new.plan_id)?.is_none() {
            return Err(Error::missing_reference(
                "plan_id",
                format!("no plan {:?}", new.plan_id),
            ));
        }
        let (row, change) = rows_for(new, now);
        match diesel::insert_into(customers::table)
            .values(&row)
            .execute(c)
        {
            Err(e) if is_unique_violation(&e) => {
                return Err(Error::conflict(
                    ConflictKind::IdTaken,
                    "id",
                    format!("customer {:?} already exists", new.id),
                ))
            }
            r => r?,
        };
        diesel::insert_into(plan_changes::table)
            .values(&change)
            .execute(c)?;
        load_customer(c, &new.id)?.ok_or_else(|| Error::internal("customer vanished"))
    })
}

/// Adds many customers in one transaction (imports, tests, benchmarks): all or none.
pub fn add_customers(conn: &mut Conn, list: &[NewCustomer], now: Nanos) -> Result<usize, Error> {
    write_tx(conn, |c| {
        let plans = load_plans(c)?;
        let mut seen = HashSet::with_capacity(list.len());
        for (i, n) in list.iter().enumerate() {
            if !plans.contains_key(&n.plan_id) {
                return Err(Error::missing_reference(
                    format!("[{i}].plan_id"),
                    format!("no plan {:?}", n.plan_id),
                ));
            }
            if !seen.insert(n.id.as_str()) {
                return Err(Error::conflict(
                    ConflictKind::IdTaken,
                    format!("[{i}].id"),
                    format!("customer {:?} is listed twice", n.id),
                ));
            }
        }
        for chunk in list.chunks(INSERT_CHUNK) {
            let (rows, changes): (Vec<_>, Vec<_>) = chunk.iter().map(|n| rows_for(n, now)).unzip();
            match diesel::insert_into(customers::table)
                .values(&rows)
                .execute(c)
            {
                Err(e) if is_unique_violation(&e) => {
                    return Err(Error::conflict(
                        ConflictKind::IdTaken,
                        "id",
                        "a customer id already exists",
                    ))
                }
                r => r?,
            };
            diesel::insert_into(plan_changes::table)
                .values(&changes)
                .execute(c)?;
        }
        Ok(list.len())
    })
}

/// Moves a customer to another plan from an instant (a plan change mid-period splits the fee).
pub fn change_plan(
    conn: &mut Conn,
    customer_id: &str,
    plan_id: &str,
    at: Nanos,
    now: Nanos,
) -> Result<Customer, Error> {
    write_tx(conn, |c| {
        let customer = load_customer(c, customer_id)?
            .ok_or_else(|| Error::not_found("customer", customer_id))?;
        let plan = load_plan(c, plan_id)?
            .ok_or_else(|| Error::missing_reference("plan_id", format!("no plan {plan_id:?}")))?;
        let current = load_plan(c, customer.plan_id())?.ok_or_else(|| {
            Error::internal(format!("customer {customer_id} is on a missing plan"))
        })?;
        if current.currency != plan.currency {
            return Err(Error::invalid(
                "plan_id",
                format!(
                    "plan {plan_id:?} is billed in {}, the customer's plans in {}",
                    plan.currency, current.currency
                ),
            ));
        }
        let row = PlanChangeRow {
            customer_id: customer_id.to_string(),
            effective_at: ts(at),
            plan_id: plan_id.to_string(),
            created_at: ts(now),
        };
        match diesel::insert_into(plan_changes::table)
            .values(&row)
            .execute(c)
        {
            Err(e) if is_unique_violation(&e) => {
                return Err(Error::conflict(
                    ConflictKind::State,
                    "effective_at",
                    "the customer already has a plan change at that instant",
                ))
            }
            r => r?,
        };
        load_customer(c, customer_id)?.ok_or_else(|| Error::internal("customer vanished"))
    })
}

fn assemble(rows: Vec<CustomerRow>, changes: Vec<PlanChangeRow>) -> Result<Vec<Customer>, Error> {
    let mut by_id: HashMap<String, Vec<(Nanos, String)>> = HashMap::with_capacity(rows.len());
    for ch in changes {
        let at = read_ts(&ch.effective_at, "plan_changes.effective_at")?;
        by_id
            .entry(ch.customer_id)
            .or_default()
            .push((at, ch.plan_id));
    }
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let timezone = parse_zone(&r.timezone)
            .map_err(|m| Error::internal(format!("customer {}: {m}", r.id)))?;
        let mut history = by_id.remove(&r.id).unwrap_or_default();
        if history.is_empty() {
            return Err(Error::internal(format!("customer {} has no plan", r.id)));
        }
        history.sort();
        out.push(Customer {
            id: r.id,
            name: r.name,
            email: r.email,
            timezone,
            history,
        });
    }
    Ok(out)
}

/// One customer with their plan history.
pub fn load_customer(conn: &mut Conn, id: &str) -> Result<Option<Customer>, Error> {
    let rows: Vec<CustomerRow> = customers::table
        .filter(customers::id.eq(id))
        .select(CustomerRow::as_select())
        .load(conn)?;
    let changes: Vec<PlanChangeRow> = plan_changes::table
        .filter(plan_changes::customer_id.eq(id))
        .select(PlanChangeRow::as_select())
        .load(conn)?;
    Ok(assemble(rows, changes)?.pop())
}

/// Customers with ids in `[first, last]`, ordered by id, with their plan histories: two range
/// scans, whatever the number of customers.
pub fn load_customer_range(
    conn: &mut Conn,
    first: &str,
    last: &str,
) -> Result<Vec<Customer>, Error> {
    let rows: Vec<CustomerRow> = customers::table
        .filter(customers::id.between(first, last))
        .order(customers::id)
        .select(CustomerRow::as_select())
        .load(conn)?;
    let changes: Vec<PlanChangeRow> = plan_changes::table
        .filter(plan_changes::customer_id.between(first, last))
        .select(PlanChangeRow::as_select())
        .load(conn)?;
    assemble(rows, changes)
}

/// Every customer id, in order.
pub fn customer_ids(conn: &mut Conn) -> Result<Vec<String>, Error> {
    Ok(customers::table
        .select(customers::id)
        .order(customers::id)
        .load(conn)?)
}

/// Customers ordered by id, one page after a cursor; `q` keeps those whose id, name or e-mail
/// starts with it (case-insensitive for ASCII).
pub fn search_customers(
    conn: &mut Conn,
    q: Option<&str>,
    after: Option<&str>,
    limit: usize,
) -> Result<Vec<Customer>, Error> {
    let mut query = customers::table
        .order(customers::id.asc())
        .limit(i64::try_from(limit).unwrap_or(i64::MAX))
        .into_boxed();
    if let Some(a) = after {
        query = query.filter(customers::id.gt(a.to_string()));
    }
    if let Some(q) = q.filter(|q| !q.is_empty()) {
        let escaped: String = q
            .chars()
            .flat_map(|ch| match ch {
                '%' | '_' | '\\' => vec!['\\', ch],
                _ => vec![ch],
            })
            .collect();
        let pattern = format!("{escaped}%");
        query = query.filter(
            customers::id
                .like(pattern.clone())
                .escape('\\')
                .or(customers::name.like(pattern.clone()).escape('\\'))
                .or(customers::email.like(pattern).escape('\\')),
        );
    }
    let rows: Vec<CustomerRow> = query.select(CustomerRow::as_select()).load(conn)?;
    let ids: Vec<&str> = rows.iter().map(|r| r.id.as_str()).collect();
    let mut changes: Vec<PlanChangeRow> = Vec::new();
    for chunk in ids.chunks(10_000) {
        changes.extend(
            plan_changes::table
                .filter(plan_changes::customer_id.eq_any(chunk))
                .select(PlanChangeRow::as_select())
                .load::<PlanChangeRow>(conn)?,
        );
    }
    assemble(rows, changes)
}
