//! Plans and their versions. A plan's currency is fixed; any other change (price, cycle,
//! policy) appends a version in force from its `effective_at`, so credits already booked keep
//! the version — and the policy as applied — that computed them.

use std::collections::HashMap;

use diesel::prelude::*;
use serde::Serialize;
use serde_json::Value;

use crate::domain::error::Errors;
use crate::domain::fee::{AnnualSplit, BillingCycle, Plan};
use crate::domain::money::Currency;
use crate::domain::policy::{Policy, PolicySpec};
use crate::domain::quote::check_plan;
use crate::domain::time::{parse_instant, Nanos};

use super::convert::{read_ts, ts};
use super::input::{check_policy, check_price_digits, NewPlan, PlanUpdateInput};
use super::models::{PlanRow, PlanVersionRow};
use super::schema::{plan_versions, plans};
use super::sqlite::{is_unique_violation, write_tx, Conn};
use super::StoreError;

/// One version of a plan, ready for the engine.
#[derive(Debug, Clone, PartialEq)]
pub struct PlanVersion {
    pub plan_id: String,
    pub version: i64,
    pub name: String,
    pub currency: Currency,
    pub plan: Plan,
    pub policy: Policy,
    /// The policy as applied (`Policy::to_spec()`), as stored.
    pub policy_json: String,
    /// In force from this instant until the next version's.
    pub effective_at: Nanos,
}

/// A plan with every version, oldest first (never empty).
#[derive(Debug, Clone, PartialEq)]
pub struct PlanInfo {
    pub id: String,
    pub currency: Currency,
    pub versions: Vec<PlanVersion>,
}

impl PlanInfo {
    /// The version in force at an instant (version 1 before any later one).
    pub fn version_at(&self, at: Nanos) -> &PlanVersion {
        let idx = self.versions.partition_point(|v| v.effective_at <= at);
        &self.versions[idx.saturating_sub(1)]
    }

    pub fn latest(&self) -> &PlanVersion {
        &self.versions[self.versions.len() - 1]
    }
}

/// The JSON view of a plan version (api.md plan fields plus `version`).
#[derive(Debug, Clone, Serialize)]
pub struct PlanView {
    pub id: String,
    pub name: String,
    pub version: i64,
    pub price: String,
    pub currency: String,
    pub billing_cycle: String,
    pub annual_split: String,
    pub policy: Value,
    pub effective_at: String,
}

impl From<&PlanVersion> for PlanView {
    fn from(v: &PlanVersion) -> Self {
        PlanView {
            id: v.plan_id.clone(),
            name: v.name.clone(),
            version: v.version,
            price: v.currency.format(v.plan.price),
            currency: v.currency.code().to_string(),
            billing_cycle: v.plan.billing_cycle.as_str().to_string(),
            annual_split: v.plan.annual_split.as_str().to_string(),
            policy: serde_json::from_str(&v.policy_json).unwrap_or(Value::Null),
            effective_at: crate::domain::time::format_utc(v.effective_at),
        }
    }
}

fn policy_json(policy: &Policy) -> Result<String, StoreError> {
    serde_json::to_string(&policy.to_spec()).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn version_row(
    plan_id: &str,
    version: i64,
    name: &str,
    plan: &Plan,
    policy: &Policy,
    effective_at: Nanos,
    now: Nanos,
) -> Result<PlanVersionRow, StoreError> {
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
pub fn add_plan(conn: &mut Conn, new: &NewPlan, now: Nanos) -> Result<PlanInfo, StoreError> {
    write_tx(conn, |c| {
        let row = PlanRow {
            id: new.id.clone(),
            currency: new.currency.code().to_string(),
            created_at: ts(now),
        };
        match diesel::insert_into(plans::table).values(&row).execute(c) {
            Err(e) if is_unique_violation(&e) => {
                return Err(StoreError::conflict(
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
        load_plan(c, &new.id)?.ok_or_else(|| StoreError::Corrupt("plan vanished".into()))
    })
}

/// Appends a version: the fields given replace the latest version's.
pub fn update_plan(
    conn: &mut Conn,
    id: &str,
    input: &PlanUpdateInput,
    now: Nanos,
) -> Result<PlanInfo, StoreError> {
    write_tx(conn, |c| {
        let info = load_plan(c, id)?
            .ok_or_else(|| StoreError::not_found("id", format!("no plan {id:?}")))?;
        let latest = info.latest().clone();
        let mut e = Errors::new();
        let price = input
            .price
            .clone()
            .unwrap_or_else(|| Value::String(latest.plan.price.to_string()));
        let cycle = input
            .billing_cycle
            .clone()
            .unwrap_or_else(|| latest.plan.billing_cycle.as_str().to_string());
        let split = input
            .annual_split
            .clone()
            .unwrap_or_else(|| latest.plan.annual_split.as_str().to_string());
        let plan = check_plan(&price, &cycle, Some(&split), "", &mut e);
        let policy = match &input.policy {
            None => Some(latest.policy.clone()),
            Some(v) => match check_policy(v, "policy") {
                Ok(p) => Some(p),
                Err(list) => {
                    for fe in list.0 {
                        e.push(fe.field, fe.message);
                    }
                    None
                }
            },
        };
        let effective_at = match &input.effective_at {
            None => Some(now),
            Some(t) => e.take(
                parse_instant(t).map_err(|m| crate::domain::error::field_error("effective_at", m)),
            ),
        };
        if let Some(at) = effective_at {
            if at <= latest.effective_at {
                e.push(
                    "effective_at",
                    format!("must be after version {}'s", latest.version),
                );
            }
        }
        if let Some(p) = &plan {
            check_price_digits(p.price, info.currency, &mut e);
        }
        let name = input.name.clone().unwrap_or_else(|| latest.name.clone());
        if name.trim().is_empty() {
            e.push("name", "must not be empty");
        }
        e.into_result()?;
        let (Some(plan), Some(policy), Some(at)) = (plan, policy, effective_at) else {
            return Err(StoreError::invalid("body", "is not valid"));
        };
        let v = version_row(id, latest.version + 1, &name, &plan, &policy, at, now)?;
        diesel::insert_into(plan_versions::table)
            .values(&v)
            .execute(c)?;
        load_plan(c, id)?.ok_or_else(|| StoreError::Corrupt("plan vanished".into()))
    })
}

fn version_from_row(row: PlanVersionRow, currency: Currency) -> Result<PlanVersion, StoreError> {
    let bad = |m: String| {
        StoreError::Corrupt(format!("plan {} version {}: {m}", row.plan_id, row.version))
    };
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
) -> Result<HashMap<String, PlanInfo>, StoreError> {
    let mut out: HashMap<String, PlanInfo> = HashMap::with_capacity(rows.len());
    for r in rows {
        let currency = Currency::parse(&r.currency)
            .map_err(|m| StoreError::Corrupt(format!("plan {}: {m}", r.id)))?;
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
            return Err(StoreError::Corrupt(format!(
                "version of unknown plan {}",
                v.plan_id
            )));
        };
        let version = version_from_row(v, info.currency)?;
        info.versions.push(version);
    }
    for info in out.values_mut() {
        if info.versions.is_empty() {
            return Err(StoreError::Corrupt(format!(
                "plan {} has no version",
                info.id
            )));
        }
        info.versions.sort_by_key(|v| v.effective_at);
    }
    Ok(out)
}

/// One plan with its versions.
pub fn load_plan(conn: &mut Conn, id: &str) -> Result<Option<PlanInfo>, StoreError> {
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
pub fn load_plans(conn: &mut Conn) -> Result<HashMap<String, PlanInfo>, StoreError> {
    let rows: Vec<PlanRow> = plans::table.select(PlanRow::as_select()).load(conn)?;
    let versions: Vec<PlanVersionRow> = plan_versions::table
        .select(PlanVersionRow::as_select())
        .load(conn)?;
    assemble(rows, versions)
}

/// The named plans with their versions: a batch of customers needs only its own plans, and a
/// book of custom-priced contracts has as many plans as customers.
pub fn load_plans_named(
    conn: &mut Conn,
    ids: &[&str],
) -> Result<HashMap<String, PlanInfo>, StoreError> {
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
