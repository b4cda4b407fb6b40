//! Plans and their versions. A plan's currency is fixed; any other change (price, cycle,
//! policy) appends a version in force from its `effective_at`, so credits already booked keep
//! the version — and the policy as applied — that computed them.

use std::collections::HashMap;

use diesel::prelude::*;

use crate::domain::book::{PlanInfo, PlanVersion};
use crate::domain::fee::{AnnualSplit, BillingCycle, Plan};
use crate::domain::money::Currency;
use crate::domain::policy::{Policy, PolicySpec};
use crate::domain::time::Nanos;
use crate::wire::plans::{NewPlan, PlanUpdate};
use crate::wire::ConflictKind;

use super::convert::{read_ts, ts};
use super::models::{PlanRow, PlanVersionRow};
use super::schema::{plan_versions, plans};
use super::sqlite::{is_unique_violation, write_tx, Conn};
use crate::wire::Error;

fn policy_json(policy: &Policy) -> Result<String, Error> {
    serde_json::to_string(&policy.to_spec()).map_err(|e| Error::internal(e.to_string()))
}

fn version_row(
    plan_id: &str,
    version: i64,
    name: &str,
    plan: &Plan,
    policy: &Policy,
    effective_at: Nanos,
    now: Nanos,
) -> Result<PlanVersionRow, Error> {
    Ok(PlanVersionRow {
        plan_id: plan_id.to_string(),
        version,
        name: name.to_string(),
        price: plan.price.normalize().to_string(),
        billing_cycle: plan.billing_cycle.as_str().to_string(),
        annual_split: plan.annual_split.as_str().to_string(),
        policy: policy_json(policy)?,
        effective_at: ts(effective_at),
        created_at: ts(now),
    })
}

/// Adds a plan; its first version is in force from 1970 (it applies to every past period).
pub fn add_plan(conn: &mut Conn, new: &NewPlan, now: Nanos) -> Result<PlanInfo, Error> {
    write_tx(conn, |c| {
        let row = PlanRow {
            id: new.id.clone(),
            currency: new.currency.code().to_string(),
            created_at: ts(now),
        };
        match diesel::insert_into(plans::table).values(&row).execute(c) {
            Err(e) if is_unique_violation(&e) => {
                return Err(Error::conflict(
                    ConflictKind::IdTaken,
                    "id",
                    format!("plan {:?} already exists", new.id),
                ))
            }
            r => r?,
        };
        let v = version_row(&new.id, 1, &new.name, &new.plan, &new.policy, 0, now)?;
        diesel::insert_into(plan_versions::table)
            .values(&v)
            .execute(c)?;
        load_plan(c, &new.id)?.ok_or_else(|| Error::internal("plan vanished"))
    })
}

/// Appends the version an update makes, unless it would change nothing: answers the plan
/// and whether a version was added (a PUT identical to the current version adds none).
pub fn update_plan(
    conn: &mut Conn,
    id: &str,
    update: &PlanUpdate,
    now: Nanos,
) -> Result<(PlanInfo, bool), Error> {
    write_tx(conn, |c| {
        let info = load_plan(c, id)?.ok_or_else(|| Error::not_found("plan", id))?;
        let latest = info.latest();
        let Some(next) = update.apply(latest, now)? else {
            return Ok((info, false));
        };
        let v = version_row(
            id,
            latest.version + 1,
            &next.name,
            &next.plan,
            &next.policy,
            next.effective_at,
            now,
        )?;
        diesel::insert_into(plan_versions::table)
            .values(&v)
            .execute(c)?;
        let info = load_plan(c, id)?.ok_or_else(|| Error::internal("plan vanished"))?;
        Ok((info, true))
    })
}

/// Every plan, ordered by id, one page after a cursor.
pub fn list_plans(
    conn: &mut Conn,
    after: Option<&str>,
    limit: usize,
) -> Result<Vec<PlanInfo>, Error> {
    let mut q = plans::table
        .order(plans::id.asc())
        .limit(i64::try_from(limit).unwrap_or(i64::MAX))
        .into_boxed();
    if let Some(a) = after {
        q = q.filter(plans::id.gt(a.to_string()));
    }
    let rows: Vec<PlanRow> = q.select(PlanRow::as_select()).load(conn)?;
    let ids: Vec<&str> = rows.iter().map(|r| r.id.as_str()).collect();
    let mut named = load_plans_named(conn, &ids)?;
    Ok(rows.iter().filter_map(|r| named.remove(&r.id)).collect())
}

fn version_from_row(row: PlanVersionRow, currency: Currency) -> Result<PlanVersion, Error> {
    let bad =
        |m: String| Error::internal(format!("plan {} version {}: {m}", row.plan_id, row.version));
    let price =
        rust_decimal::Decimal::from_str_exact(&row.price).map_err(|e| bad(e.to_string()))?;
    let billing_cycle = BillingCycle::parse(&row.billing_cycle).map_err(bad)?;
    let annual_split = AnnualSplit::parse(&row.annual_split).map_err(bad)?;
    let spec: PolicySpec = serde_json::from_str(&row.policy).map_err(|e| bad(e.to_string()))?;
    let policy = Policy::from_spec(&spec, "policy").map_err(|e| bad(e.to_string()))?;
    let effective_at = read_ts(&row.effective_at, "plan_versions.effective_at")?;
    Ok(PlanVersion {
        plan_id: row.plan_id,
        version: row.version,
        name: row.name,
        currency,
        plan: Plan {
            price,
            billing_cycle,
            annual_split,
        },
        policy,
        policy_json: row.policy,
        effective_at,
    })
}

fn assemble(
    rows: Vec<PlanRow>,
    versions: Vec<PlanVersionRow>,
) -> Result<HashMap<String, PlanInfo>, Error> {
    let mut out: HashMap<String, PlanInfo> = HashMap::with_capacity(rows.len());
    for r in rows {
        let currency = Currency::parse(&r.currency)
            .map_err(|m| Error::internal(format!("plan {}: {m}", r.id)))?;
        out.insert(
            r.id.clone(),
            PlanInfo {
                id: r.id,
                currency,
                versions: Vec::new(),
            },
        );
    }
    for v in versions {
        let Some(info) = out.get_mut(&v.plan_id) else {
            return Err(Error::internal(format!(
                "version of unknown plan {}",
                v.plan_id
            )));
        };
        let version = version_from_row(v, info.currency)?;
        info.versions.push(version);
    }
    for info in out.values_mut() {
        if info.versions.is_empty() {
            return Err(Error::internal(format!("plan {} has no version", info.id)));
        }
        info.versions.sort_by_key(|v| v.effective_at);
    }
    Ok(out)
}

/// One plan with its versions.
pub fn load_plan(conn: &mut Conn, id: &str) -> Result<Option<PlanInfo>, Error> {
    let rows: Vec<PlanRow> = plans::table
        .filter(plans::id.eq(id))
        .select(PlanRow::as_select())
        .load(conn)?;
    let versions: Vec<PlanVersionRow> = plan_versions::table
        .filter(plan_versions::plan_id.eq(id))
        .select(PlanVersionRow::as_select())
        .load(conn)?;
    Ok(assemble(rows, versions)?.remove(id))
}

/// Every plan with its versions.
pub fn load_plans(conn: &mut Conn) -> Result<HashMap<String, PlanInfo>, Error> {
    let rows: Vec<PlanRow> = plans::table.select(PlanRow::as_select()).load(conn)?;
    let versions: Vec<PlanVersionRow> = plan_versions::table
        .select(PlanVersionRow::as_select())
        .load(conn)?;
    assemble(rows, versions)
}

/// The named plans with their versions: a batch of customers needs only its own plans, and a
/// book of custom-priced contracts has as many plans as customers.
pub fn load_plans_named(conn: &mut Conn, ids: &[&str]) -> Result<HashMap<String, PlanInfo>, Error> {
    let mut rows: Vec<PlanRow> = Vec::with_capacity(ids.len());
    let mut versions: Vec<PlanVersionRow> = Vec::with_capacity(ids.len());
    // Well under SQLite's limit of bound parameters per statement.
    for chunk in ids.chunks(10_000) {
        rows.extend(
            plans::table
                .filter(plans::id.eq_any(chunk))
                .select(PlanRow::as_select())
                .load::<PlanRow>(conn)?,
        );
        versions.extend(
            plan_versions::table
                .filter(plan_versions::plan_id.eq_any(chunk))
                .select(PlanVersionRow::as_select())
                .load::<PlanVersionRow>(conn)?,
        );
    }
    assemble(rows, versions)
}
