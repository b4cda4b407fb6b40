//! Recorded settlements (docs/restitution.md): the record of a real incident-wide settlement
//! (who, when, as of which instant), its result (counts and totals per currency, in minor
//! units, summed in Rust), and its lines, one per (customer, period), written batch by batch
//! beside the entries they explain. Append-only: the database's triggers refuse UPDATE and
//! DELETE.

use std::collections::HashMap;

use diesel::prelude::*;
use rust_decimal::Decimal;

use crate::domain::book::{Customer, EntryKind, IncidentRecord};
use crate::domain::ids::entry_id;
use crate::domain::money::Currency;
use crate::domain::scope::IncidentKind;
use crate::domain::time::Nanos;
use crate::domain::{ENGINE_VERSION, TZDB_VERSION};
use crate::wire::credits::{
    parse_settlement_id, settlement_id, EntryView, SettlementLine, SettlementView, Total,
};
use crate::wire::{ConflictKind, Error};

use super::convert::{from_minor, read_ts, to_minor, ts};
use super::customers::load_customer;
use super::incidents::load_incident;
use super::schema::{settlement_lines, settlement_results, settlement_totals, settlements};
use super::sqlite::Conn;

/// A settlement's record.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = settlements, check_for_backend(diesel::sqlite::Sqlite))]
pub struct SettlementRow {
    pub id: i64,
    pub incident_id: String,
    pub created_at: String,
    pub created_by: String,
    pub as_of: String,
    pub tzdb_version: String,
    pub engine_version: String,
}

/// A finished settlement's counts.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = settlement_results, check_for_backend(diesel::sqlite::Sqlite))]
pub struct SettlementResultRow {
    pub settlement_id: i64,
    pub customers: i64,
    pub periods: i64,
    pub entries_appended: i64,
    pub finished_at: String,
}

/// A finished settlement's total in one currency.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = settlement_totals, check_for_backend(diesel::sqlite::Sqlite))]
pub struct SettlementTotalRow {
    pub settlement_id: i64,
    pub currency: String,
    pub minor_units: i64,
    pub amount_minor: i64,
}

/// One (customer, period) of a settlement.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = settlement_lines, check_for_backend(diesel::sqlite::Sqlite))]
pub struct SettlementLineRow {
    pub settlement_id: i64,
    pub customer_id: String,
    pub period: String,
    pub currency: String,
    pub minor_units: i64,
    pub target_minor: i64,
    pub booked_minor: i64,
    pub delta_minor: i64,
    pub entry_id: Option<i64>,
}

/// The next free settlement id; only meaningful inside a write transaction.
pub fn next_settlement_id(conn: &mut Conn) -> Result<i64, Error> {
    let max: Option<i64> = settlements::table
        .select(diesel::dsl::max(settlements::id))
        .first(conn)?;
    Ok(max.unwrap_or(0) + 1)
}

/// Appends a settlement's record.
pub fn insert_settlement(
    conn: &mut Conn,
    id: i64,
    incident_id: &str,
    actor: &str,
    now: Nanos,
    as_of: Nanos,
) -> Result<(), Error> {
    diesel::insert_into(settlements::table)
        .values(SettlementRow {
            id,
            incident_id: incident_id.to_string(),
            created_at: ts(now),
            created_by: actor.to_string(),
            as_of: ts(as_of),
            tzdb_version: TZDB_VERSION.into(),
            engine_version: ENGINE_VERSION.into(),
        })
        .execute(conn)?;
    Ok(())
}

/// One settlement line as a row of [`JsonRows`](super::entries::JsonRows): customer, period, currency, minor units,
/// target, booked and delta in minor units, and the appended entry (if any).
#[derive(Debug, serde::Serialize)]
pub struct LineJson<'a>(
    pub &'a str,
    pub &'a str,
    pub &'a str,
    pub i64,
    pub i64,
    pub i64,
    pub i64,
    pub Option<i64>,
);

const APPEND_LINES: &str = "INSERT INTO settlement_lines (settlement_id, customer_id, period, \
     currency, minor_units, target_minor, booked_minor, delta_minor, entry_id) \
     SELECT ?2, value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4, value ->> 5, \
     value ->> 6, value ->> 7 FROM jsonb_each(?1)";

/// Appends a chunk of [`LineJson`] rows of settlement `id` (`json` is their closed array) in
/// one statement (see [`JsonRows`](super::entries::JsonRows)).
pub fn append_lines(conn: &mut Conn, id: i64, json: &str) -> Result<(), Error> {
    use diesel::sql_types::{BigInt, Text};
    diesel::sql_query(APPEND_LINES)
        .bind::<Text, _>(json)
        .bind::<BigInt, _>(id)
        .execute(conn)?;
    Ok(())
}

/// What a finished settlement found.
#[derive(Debug, Clone)]
pub struct Finished<'a> {
    pub customers: usize,
    pub periods: usize,
    pub entries_appended: usize,
    pub totals: &'a [(Currency, Decimal)],
    pub at: Nanos,
}

/// Appends a settlement's result and totals.
pub fn insert_result(conn: &mut Conn, id: i64, done: &Finished<'_>) -> Result<(), Error> {
    let count = |n: usize| i64::try_from(n).map_err(|e| Error::internal_from("count", e));
    diesel::insert_into(settlement_results::table)
        .values(SettlementResultRow {
            settlement_id: id,
            customers: count(done.customers)?,
            periods: count(done.periods)?,
            entries_appended: count(done.entries_appended)?,
            finished_at: ts(done.at),
        })
        .execute(conn)?;
    let mut rows = Vec::with_capacity(done.totals.len());
    for (currency, amount) in done.totals {
        let mu = currency.minor_units();
        rows.push(SettlementTotalRow {
            settlement_id: id,
            currency: currency.code().into(),
            minor_units: i64::from(mu),
            amount_minor: to_minor(*amount, mu).ok_or_else(|| {
                Error::internal(format!("total {amount} {currency} out of range"))
            })?,
        });
    }
    diesel::insert_into(settlement_totals::table)
        .values(&rows)
        .execute(conn)?;
    Ok(())
}

fn money(currency: &str, minor_units: i64, amount_minor: i64) -> Result<String, Error> {
    let c = Currency::parse(currency).map_err(|m| Error::internal(format!("currency: {m}")))?;
    let mu = u32::try_from(minor_units).map_err(|e| Error::internal_from("minor units", e))?;
    Ok(c.format(from_minor(amount_minor, mu)))
}

/// A recorded settlement.
pub fn load_settlement(conn: &mut Conn, id: i64) -> Result<Option<SettlementView>, Error> {
    let Some(row) = settlements::table
        .find(id)
        .select(SettlementRow::as_select())
        .first(conn)
        .optional()?
    else {
        return Ok(None);
    };
    let result: Option<SettlementResultRow> = settlement_results::table
        .find(id)
        .select(SettlementResultRow::as_select())
        .first(conn)
        .optional()?;
    let totals: Vec<SettlementTotalRow> = settlement_totals::table
        .filter(settlement_totals::settlement_id.eq(id))
        .order(settlement_totals::currency)
        .select(SettlementTotalRow::as_select())
        .load(conn)?;
    let totals = totals
        .iter()
        .map(|t| {
            Ok(Total {
                currency: t.currency.clone(),
                amount: money(&t.currency, t.minor_units, t.amount_minor)?,
            })
        })
        .collect::<Result<Vec<_>, Error>>()?;
    let utc = |text: &str, what: &str| -> Result<String, Error> {
        read_ts(text, what).map(crate::domain::time::format_utc)
    };
    Ok(Some(SettlementView {
        id: settlement_id(row.id),
        incident_id: row.incident_id,
        status: if result.is_some() {
            "finished"
        } else {
            "incomplete"
        },
        created_at: utc(&row.created_at, "settlement created_at")?,
        created_by: row.created_by,
        as_of: utc(&row.as_of, "settlement as_of")?,
        finished_at: result
            .as_ref()
            .map(|r| utc(&r.finished_at, "settlement finished_at"))
            .transpose()?,
        customers: result.as_ref().map(|r| r.customers),
        periods: result.as_ref().map(|r| r.periods),
        entries_appended: result.as_ref().map(|r| r.entries_appended),
        totals,
        tzdb_version: row.tzdb_version,
        engine_version: row.engine_version,
    }))
}

/// A page of a settlement's lines, ordered by customer id then period, after `(customer,
/// period)`.
pub fn lines_page(
    conn: &mut Conn,
    id: i64,
    after: Option<(&str, &str)>,
    limit: usize,
) -> Result<Vec<SettlementLine>, Error> {
    let mut q = settlement_lines::table
        .filter(settlement_lines::settlement_id.eq(id))
        .into_boxed();
    if let Some((customer, period)) = after {
        q = q.filter(
            settlement_lines::customer_id.gt(customer.to_string()).or(
                settlement_lines::customer_id
                    .eq(customer.to_string())
                    .and(settlement_lines::period.gt(period.to_string())),
            ),
        );
    }
    let rows: Vec<SettlementLineRow> = q
        .order((settlement_lines::customer_id, settlement_lines::period))
        .limit(i64::try_from(limit).unwrap_or(i64::MAX))
        .select(SettlementLineRow::as_select())
        .load(conn)?;
    rows.into_iter()
        .map(|r| {
            Ok(SettlementLine {
                target: money(&r.currency, r.minor_units, r.target_minor)?,
                booked: money(&r.currency, r.minor_units, r.booked_minor)?,
                delta: money(&r.currency, r.minor_units, r.delta_minor)?,
                entry_id: r.entry_id.map(entry_id),
                changes: r.delta_minor != 0,
                customer_id: r.customer_id,
                period: r.period,
                currency: r.currency,
            })
        })
        .collect()
}

/// The settlement that appended each of these entries, where one did.
pub fn settlements_of_entries(conn: &mut Conn, ids: &[i64]) -> Result<HashMap<i64, i64>, Error> {
    let mut out = HashMap::new();
    for chunk in ids.chunks(10_000) {
        let pairs: Vec<(Option<i64>, i64)> = settlement_lines::table
            .filter(settlement_lines::entry_id.eq_any(chunk))
            .select((settlement_lines::entry_id, settlement_lines::settlement_id))
            .load(conn)?;
        out.extend(pairs.into_iter().filter_map(|(e, s)| e.map(|e| (e, s))));
    }
    Ok(out)
}

/// What the notice of one entry is written from: the entry, its customer, and the incident
/// it restitutes — the settlement's incident where a recorded settlement appended it, else
/// the latest-starting outage it names.
pub fn notice_inputs(
    conn: &mut Conn,
    id: i64,
) -> Result<(EntryView, Customer, IncidentRecord), Error> {
    let entry = super::ledger::load_entry(conn, id)?
        .ok_or_else(|| Error::not_found("entry", entry_id(id)))?;
    if entry.kind != EntryKind::SlaCredit {
        return Err(Error::conflict(
            ConflictKind::State,
            "entry_id",
            format!(
                "{} is a {} entry: notices are written for sla_credit entries",
                entry_id(id),
                entry.kind.as_str()
            ),
        ));
    }
    let view = super::ledger::entry_views(conn, std::slice::from_ref(&entry))?
        .pop()
        .ok_or_else(|| Error::internal("entry view vanished"))?;
    let customer = load_customer(conn, &entry.customer_id)?
        .ok_or_else(|| Error::not_found("customer", entry.customer_id.as_str()))?;
    let settled: Option<String> = match view.settlement_id.as_deref().and_then(parse_settlement_id)
    {
        Some(sid) => settlements::table
            .find(sid)
            .select(settlements::incident_id)
            .first(conn)
            .optional()?,
        None => None,
    };
    let mut incident: Option<IncidentRecord> = None;
    if let Some(iid) = settled {
        incident = load_incident(conn, &iid)?;
    }
    if incident.is_none() {
        for iid in &entry.incident_ids {
            if let Some(i) = load_incident(conn, iid)? {
                let later = incident
                    .as_ref()
                    .is_none_or(|c| i.started_at >= c.started_at);
                if i.kind == IncidentKind::Outage && later {
                    incident = Some(i);
                }
            }
        }
    }
    let incident = incident.ok_or_else(|| {
        Error::conflict(
            ConflictKind::State,
            "entry_id",
            format!(
                "{} names no stored outage to write a notice about",
                entry_id(id)
            ),
        )
    })?;
    Ok((view, customer, incident))
}

/// Customers with entries appended by a recorded settlement of an incident, in id order.
pub fn settled_customers(conn: &mut Conn, incident_id: &str) -> Result<Vec<String>, Error> {
    let ids: Vec<i64> = settlements::table
        .filter(settlements::incident_id.eq(incident_id))
        .select(settlements::id)
        .load(conn)?;
    let mut customers: Vec<String> = settlement_lines::table
        .filter(settlement_lines::settlement_id.eq_any(&ids))
        .filter(settlement_lines::entry_id.is_not_null())
        .select(settlement_lines::customer_id)
        .distinct()
        .load(conn)?;
    customers.sort();
    Ok(customers)
}

/// A customer's entries appended by recorded settlements of an incident, oldest first.
pub fn settled_entries(
    conn: &mut Conn,
    incident_id: &str,
    customer_id: &str,
) -> Result<Vec<EntryView>, Error> {
    let ids: Vec<i64> = settlements::table
        .filter(settlements::incident_id.eq(incident_id))
        .select(settlements::id)
        .load(conn)?;
    let mut entry_ids: Vec<Option<i64>> = settlement_lines::table
        .filter(settlement_lines::settlement_id.eq_any(&ids))
        .filter(settlement_lines::customer_id.eq(customer_id))
        .filter(settlement_lines::entry_id.is_not_null())
        .select(settlement_lines::entry_id)
        .load(conn)?;
    entry_ids.sort();
    let mut entries = Vec::with_capacity(entry_ids.len());
    for id in entry_ids.into_iter().flatten() {
        if let Some(e) = super::ledger::load_entry(conn, id)? {
            entries.push(e);
        }
    }
    super::ledger::entry_views(conn, &entries)
}
