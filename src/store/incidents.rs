//! Incidents: outages (downtime) and maintenance (exclusions), each for a scope of customers.
//! An ongoing incident has no `ended_at`; a settlement counts it up to its `as_of` instant.

use std::collections::HashMap;

use diesel::prelude::*;
use rust_decimal::Decimal;

use crate::domain::book::IncidentRecord;
use crate::domain::interval::Span;
use crate::domain::scope::{IncidentKind, Scope};
use crate::domain::time::Nanos;
use crate::wire::incidents::{CheckedPatch, NewIncident};
use crate::wire::ConflictKind;

use super::convert::{read_ts, ts};
use super::models::{IncidentCustomerRow, IncidentPlanRow, IncidentRow};
use super::schema::{customers, incident_customers, incident_plans, incidents, plans};
use super::sqlite::{is_unique_violation, write_tx, Conn};
use crate::wire::Error;

/// Records an incident; every id its scope names must exist.
pub fn add_incident(
    conn: &mut Conn,
    new: &NewIncident,
    now: Nanos,
) -> Result<IncidentRecord, Error> {
    write_tx(conn, |c| {
        let row = IncidentRow {
            id: new.id.clone(),
            title: new.title.clone(),
            kind: new.kind.as_str().to_string(),
            started_at: ts(new.started_at),
            ended_at: new.ended_at.map(ts),
            impact: new.impact.normalize().to_string(),
            summary: new.summary.clone(),
            scope: new.scope.as_str().to_string(),
            created_at: ts(now),
            updated_at: ts(now),
        };
        match diesel::insert_into(incidents::table)
            .values(&row)
            .execute(c)
        {
            Err(e) if is_unique_violation(&e) => {
                return Err(Error::conflict(
                    ConflictKind::IdTaken,
                    "id",
                    format!("incident {:?} already exists", new.id),
                ))
            }
            r => r?,
        };
        match &new.scope {
            Scope::All => {}
            Scope::Plans(ids) => {
                let known: Vec<String> = plans::table
                    .filter(plans::id.eq_any(ids))
                    .select(plans::id)
                    .load(c)?;
                if let Some(missing) = ids.iter().find(|id| !known.contains(id)) {
                    return Err(Error::missing_reference(
                        "scope.plans",
                        format!("no plan {missing:?}"),
                    ));
                }
                let rows: Vec<IncidentPlanRow> = ids
                    .iter()
                    .map(|p| IncidentPlanRow {
                        incident_id: new.id.clone(),
                        plan_id: p.clone(),
                    })
                    .collect();
                diesel::insert_into(incident_plans::table)
                    .values(&rows)
                    .execute(c)?;
            }
            Scope::Customers(ids) => {
                let mut known: Vec<String> = Vec::with_capacity(ids.len());
                for chunk in ids.chunks(10_000) {
                    known.extend(
                        customers::table
                            .filter(customers::id.eq_any(chunk))
                            .select(customers::id)
                            .load::<String>(c)?,
                    );
                }
                known.sort();
                if let Some(missing) = ids.iter().find(|id| known.binary_search(id).is_err()) {
                    return Err(Error::missing_reference(
                        "scope.customers",
                        format!("no customer {missing:?}"),
                    ));
                }
                for chunk in ids.chunks(1_000) {
                    let rows: Vec<IncidentCustomerRow> = chunk
                        .iter()
                        .map(|id| IncidentCustomerRow {
                            incident_id: new.id.clone(),
                            customer_id: id.clone(),
                        })
                        .collect();
                    diesel::insert_into(incident_customers::table)
                        .values(&rows)
                        .execute(c)?;
                }
            }
        }
        load_incident(c, &new.id)?.ok_or_else(|| Error::internal("incident vanished"))
    })
}

/// Sets `ended_at`, `impact` or `summary` of an incident (PATCH). Settling again afterwards
/// appends the difference this makes.
pub fn update_incident(
    conn: &mut Conn,
    id: &str,
    patch: &CheckedPatch,
    now: Nanos,
) -> Result<IncidentRecord, Error> {
    write_tx(conn, |c| {
        let current = load_incident(c, id)?.ok_or_else(|| Error::not_found("incident", id))?;
        if let Some(end) = patch.ended_at {
            if end <= current.started_at {
                return Err(Error::invalid("ended_at", "must be after started_at"));
            }
        }
        let ended_at = patch.ended_at.or(current.ended_at).map(ts);
        let impact = patch
            .impact
            .unwrap_or(current.impact)
            .normalize()
            .to_string();
        let summary = patch.summary.clone().or(current.summary);
        diesel::update(incidents::table.filter(incidents::id.eq(id)))
            .set((
                incidents::ended_at.eq(ended_at),
                incidents::impact.eq(impact),
                incidents::summary.eq(summary),
                incidents::updated_at.eq(ts(now)),
            ))
            .execute(c)?;
        load_incident(c, id)?.ok_or_else(|| Error::internal("incident vanished"))
    })
}

fn from_rows(rows: Vec<IncidentRow>, conn: &mut Conn) -> Result<Vec<IncidentRecord>, Error> {
    let scoped: Vec<&str> = rows
        .iter()
        .filter(|r| r.scope != "all")
        .map(|r| r.id.as_str())
        .collect();
    let mut plan_scope: HashMap<String, Vec<String>> = HashMap::new();
    let mut customer_scope: HashMap<String, Vec<String>> = HashMap::new();
    if !scoped.is_empty() {
        let ps: Vec<IncidentPlanRow> = incident_plans::table
            .filter(incident_plans::incident_id.eq_any(&scoped))
            .select(IncidentPlanRow::as_select())
            .load(conn)?;
        for p in ps {
            plan_scope.entry(p.incident_id).or_default().push(p.plan_id);
        }
        let cs: Vec<IncidentCustomerRow> = incident_customers::table
            .filter(incident_customers::incident_id.eq_any(&scoped))
            .select(IncidentCustomerRow::as_select())
            .load(conn)?;
        for c in cs {
            customer_scope
                .entry(c.incident_id)
                .or_default()
                .push(c.customer_id);
        }
    }
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let bad = |m: String| Error::internal(format!("incident {}: {m}", r.id));
        let kind = IncidentKind::parse(&r.kind).map_err(bad)?;
        let impact = Decimal::from_str_exact(&r.impact).map_err(|e| bad(e.to_string()))?;
        let scope = match r.scope.as_str() {
            "all" => Scope::All,
            "plans" => {
                let mut ids = plan_scope.remove(&r.id).unwrap_or_default();
                ids.sort();
                Scope::Plans(ids)
            }
            "customers" => {
                let mut ids = customer_scope.remove(&r.id).unwrap_or_default();
                ids.sort();
                Scope::Customers(ids)
            }
            other => return Err(bad(format!("unknown scope {other:?}"))),
        };
        out.push(IncidentRecord {
            started_at: read_ts(&r.started_at, "incidents.started_at")?,
            ended_at: r
                .ended_at
                .as_deref()
                .map(|t| read_ts(t, "incidents.ended_at"))
                .transpose()?,
            id: r.id,
            title: r.title,
            kind,
            impact,
            summary: r.summary,
            scope,
        });
    }
    Ok(out)
}

/// One incident.
pub fn load_incident(conn: &mut Conn, id: &str) -> Result<Option<IncidentRecord>, Error> {
    let rows: Vec<IncidentRow> = incidents::table
        .filter(incidents::id.eq(id))
        .select(IncidentRow::as_select())
        .load(conn)?;
    Ok(from_rows(rows, conn)?.pop())
}

/// Every incident whose window (an ongoing one up to `as_of`) overlaps `range`, by start.
pub fn load_overlapping(
    conn: &mut Conn,
    range: Span,
    as_of: Nanos,
) -> Result<Vec<IncidentRecord>, Error> {
    let rows: Vec<IncidentRow> = incidents::table
        .filter(incidents::started_at.lt(ts(range.end)))
        .filter(
            incidents::ended_at
                .is_null()
                .or(incidents::ended_at.gt(ts(range.start))),
        )
        .order((incidents::started_at, incidents::id))
        .select(IncidentRow::as_select())
        .load(conn)?;
    let mut out = from_rows(rows, conn)?;
    out.retain(|i| i.span(as_of).is_some_and(|s| s.overlaps(&range)));
    Ok(out)
}

/// Incidents ordered by id, one page after a cursor.
pub fn list_incidents(
    conn: &mut Conn,
    after: Option<&str>,
    limit: usize,
) -> Result<Vec<IncidentRecord>, Error> {
    let mut q = incidents::table
        .order(incidents::id.asc())
        .limit(i64::try_from(limit).unwrap_or(i64::MAX))
        .into_boxed();
    if let Some(a) = after {
        q = q.filter(incidents::id.gt(a.to_string()));
    }
    let rows: Vec<IncidentRow> = q.select(IncidentRow::as_select()).load(conn)?;
    from_rows(rows, conn)
}
