//! Settlement (credit-rules §6). Credits are owed per (customer, measurement period): the
//! **target** of a period is the engine's credit for it from every outage incident in the
//! customer's scope (maintenance in scope as exclusions), the customer's plan history and zone,
//! and the policy version in force at the period's start. Settling appends an `sla_credit`
//! entry of target − (sum of `sla_credit` entries already booked for that customer and period)
//! when that is not zero. Goodwill and reversals are outside the sum.
//!
//! Work is done in batches of customers. Each batch is one write transaction (`BEGIN
//! IMMEDIATE`): it reads the inputs and the booked sums under the write lock, computes, and
//! appends — so a batch is wholly written or not at all, and two settlements of the same
//! customers run one after the other, the second finding nothing left to append. Within a
//! batch, customers with the same plan history, zone, policy version and incidents share one
//! computation, and rows go in with multi-row INSERTs.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use chrono_tz::Tz;
use diesel::prelude::*;
use rust_decimal::Decimal;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::domain::fee::{FeeSource, PlanSegment};
use crate::domain::interval::{Span, Window};
use crate::domain::money::Currency;
use crate::domain::period::PeriodLabel;
use crate::domain::settlement::{settlement_delta, sum_amounts};
use crate::domain::time::{format_utc, Nanos};
use crate::domain::{compute, CreditInput, Incident, ENGINE_VERSION, TZDB_VERSION};

use super::convert::{from_minor, to_minor, ts};
use super::customers::{customer_ids, load_customer_range, Customer};
use super::incidents::{load_incident, load_overlapping, StoredIncident};
use super::input::{IncidentKind, Scope};
use super::ledger::{insert_breakdowns, insert_entries, next_entry_id, EntryKind};
use super::models::{BreakdownRow, EntryRow};
use super::plans::{load_plans_named, PlanInfo, PlanVersion};
use super::schema::ledger_entries;
use super::sqlite::{read_tx, write_tx, Conn};
use super::StoreError;

/// Customers per transaction by default.
pub const DEFAULT_BATCH_SIZE: usize = 5_000;

/// How a settlement runs.
#[derive(Debug, Clone)]
pub struct SettleOptions {
    /// Ongoing incidents count up to this instant.
    pub as_of: Nanos,
    /// The clock, for `created_at`.
    pub now: Nanos,
    /// Who appends (an API key's name, or `cli`).
    pub actor: String,
    /// Compute and report, write nothing.
    pub dry_run: bool,
    /// Customers per transaction.
    pub batch_size: usize,
    /// Keep one line per (customer, period) in the report.
    pub keep_lines: bool,
}

impl SettleOptions {
    pub fn new(now: Nanos) -> Self {
        SettleOptions {
            as_of: now,
            now,
            actor: "cli".into(),
            dry_run: false,
            batch_size: DEFAULT_BATCH_SIZE,
            keep_lines: true,
        }
    }
}

/// One (customer, period) of a settlement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SettlementLine {
    pub customer_id: String,
    pub period: String,
    pub currency: String,
    pub target: String,
    pub booked: String,
    pub delta: String,
    pub entry_id: Option<String>,
}

/// A settlement's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SettlementReport {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub incident_id: Option<String>,
    pub dry_run: bool,
    pub as_of: String,
    /// Customers whose periods were settled.
    pub customers: usize,
    /// (customer, period) targets computed.
    pub periods: usize,
    pub entries_appended: usize,
    /// Sum of the appended deltas per currency.
    pub totals: Vec<Total>,
    pub data: Vec<SettlementLine>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Total {
    pub currency: String,
    pub amount: String,
}

/// Settles every period an incident touches for every customer in its scope (and any period
/// an earlier settlement booked from it, so a shortened incident gives back what it no longer
/// owes).
pub fn settle_incident(
    conn: &mut Conn,
    incident_id: &str,
    opts: &SettleOptions,
) -> Result<SettlementReport, StoreError> {
    let (incident, ids) = read_tx(conn, |c| {
        let incident = load_incident(c, incident_id)?.ok_or_else(|| {
            StoreError::not_found("incident", format!("no incident {incident_id:?}"))
        })?;
        let ids = match &incident.scope {
            Scope::Customers(ids) => ids.clone(),
            Scope::All | Scope::Plans(_) => customer_ids(c)?,
        };
        Ok((incident, ids))
    })?;
    let mut acc = Accumulator::new(Some(incident.id.clone()), opts);
    for chunk in ids.chunks(opts.batch_size.max(1)) {
        run_batch(conn, chunk, &Work::Incident(&incident.id), opts, &mut acc)?;
    }
    Ok(acc.finish())
}

/// Settles one (customer, period).
pub fn settle_customer_period(
    conn: &mut Conn,
    customer_id: &str,
    period: PeriodLabel,
    opts: &SettleOptions,
) -> Result<SettlementReport, StoreError> {
    let mut acc = Accumulator::new(None, opts);
    let ids = [customer_id.to_string()];
    run_batch(conn, &ids, &Work::Period(period), opts, &mut acc)?;
    if acc.customers == 0 {
        return Err(StoreError::not_found(
            "customer",
            format!("no customer {customer_id:?}"),
        ));
    }
    Ok(acc.finish())
}

enum Work<'a> {
    Incident(&'a str),
    Period(PeriodLabel),
}

struct Accumulator {
    report: SettlementReport,
    totals: BTreeMap<&'static str, (Currency, Decimal)>,
    customers: usize,
}

impl Accumulator {
    fn new(incident_id: Option<String>, opts: &SettleOptions) -> Self {
        Accumulator {
            report: SettlementReport {
                incident_id,
                dry_run: opts.dry_run,
                as_of: format_utc(opts.as_of),
                customers: 0,
                periods: 0,
                entries_appended: 0,
                totals: Vec::new(),
                data: Vec::new(),
            },
            totals: BTreeMap::new(),
            customers: 0,
        }
    }

    fn finish(mut self) -> SettlementReport {
        self.report.customers = self.customers;
        self.report.totals = self
            .totals
            .into_values()
            .map(|(c, amount)| Total {
                currency: c.code().to_string(),
                amount: c.format(amount),
            })
            .collect();
        self.report
    }
}

/// The plan history as a fee source: one segment per plan change, split again wherever a plan
/// version changes the price (credit-rules §2).
pub fn fee_source(
    customer: &Customer,
    plans: &HashMap<String, PlanInfo>,
) -> Result<FeeSource, StoreError> {
    let mut segments = Vec::new();
    for (i, (since, plan_id)) in customer.history.iter().enumerate() {
        let until = customer.history.get(i + 1).map_or(Nanos::MAX, |(t, _)| *t);
        let info = plan(plans, plan_id)?;
        segments.push(PlanSegment {
            since: *since,
            plan: info.version_at(*since).plan,
        });
        for v in &info.versions {
            if v.effective_at > *since && v.effective_at < until {
                segments.push(PlanSegment {
                    since: v.effective_at,
                    plan: v.plan,
                });
            }
        }
    }
    segments.sort_by_key(|s| s.since);
    segments.dedup_by_key(|s| s.since);
    Ok(FeeSource::History(segments))
}

fn plan<'p>(plans: &'p HashMap<String, PlanInfo>, id: &str) -> Result<&'p PlanInfo, StoreError> {
    plans
        .get(id)
        .ok_or_else(|| StoreError::Corrupt(format!("unknown plan {id:?}")))
}

/// The plan version in force at an instant for a customer.
fn version_at<'p>(
    customer: &Customer,
    plans: &'p HashMap<String, PlanInfo>,
    at: Nanos,
) -> Result<&'p PlanVersion, StoreError> {
    Ok(plan(plans, customer.plan_at(at))?.version_at(at))
}

/// The policy version in force at a period's start (credit-rules §6): the customer's plan at
/// that instant, and that plan's version then. The period starts at local midnight in the
/// customer's zone, or in the policy's own zone when the policy fixes one.
pub fn version_for_period<'p>(
    customer: &Customer,
    plans: &'p HashMap<String, PlanInfo>,
    label: PeriodLabel,
) -> Result<&'p PlanVersion, StoreError> {
    let start = label.in_zone(customer.timezone).start;
    let v = version_at(customer, plans, start)?;
    match v.policy.timezone {
        Some(z) if z != customer.timezone => version_at(customer, plans, label.in_zone(z).start),
        _ => Ok(v),
    }
}

/// The periods an instant range touches for a customer, by the policy in force at its start.
fn labels_touched(
    customer: &Customer,
    plans: &HashMap<String, PlanInfo>,
    span: Span,
) -> Result<Vec<PeriodLabel>, StoreError> {
    let v = version_at(customer, plans, span.start)?;
    let zone = v.policy.timezone.unwrap_or(customer.timezone);
    let mut p = PeriodLabel::containing(v.policy.period, zone, span.start);
    let last = PeriodLabel::containing(v.policy.period, zone, span.end - 1);
    let mut out = vec![p];
    while p < last {
        p = p.next();
        out.push(p);
    }
    Ok(out)
}

/// What one computation depends on; customers with equal keys share the result.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct TargetKey {
    zone: Tz,
    label: PeriodLabel,
    plan_id: String,
    version: i64,
    history: Vec<(Nanos, String)>,
    incidents: Vec<usize>,
}

/// A computed target.
#[derive(Debug, Clone)]
struct Target {
    credit: Decimal,
    currency: Currency,
    plan_id: String,
    version: i64,
    rounding: &'static str,
    explanation: String,
    breakdown_sha256: String,
    breakdown_json: String,
    incident_ids_json: String,
}

fn compute_target(
    customer: &Customer,
    label: PeriodLabel,
    version: &PlanVersion,
    plans: &HashMap<String, PlanInfo>,
    incidents: &[&StoredIncident],
    as_of: Nanos,
) -> Result<Target, StoreError> {
    let mut outages = Vec::new();
    let mut exclusions = Vec::new();
    let mut ids = Vec::with_capacity(incidents.len());
    for inc in incidents {
        let Some(span) = inc.span(as_of) else {
            continue;
        };
        ids.push(inc.id.clone());
        match inc.kind {
            IncidentKind::Outage => outages.push(Incident {
                start: inc.started_at,
                windows: vec![Window {
                    span,
                    impact: inc.impact,
                }],
            }),
            IncidentKind::Maintenance => exclusions.push(span),
        }
    }
    let input = CreditInput {
        currency: version.currency,
        timezone: customer.timezone,
        fees: fee_source(customer, plans)?,
        policy: version.policy.clone(),
        incidents: outages,
        exclusions,
        active: None,
        periods: vec![label],
    };
    let result =
        compute(&input).map_err(|e| StoreError::invalid("period", format!("{label}: {e}")))?;
    let pc = result
        .periods
        .into_iter()
        .find(|p| p.label == label)
        .ok_or_else(|| StoreError::Corrupt(format!("the engine returned no {label}")))?;
    let breakdown_json =
        serde_json::to_string(&pc.breakdown).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let breakdown_sha256 = hex(&Sha256::digest(breakdown_json.as_bytes()));
    Ok(Target {
        credit: pc.credit,
        currency: version.currency,
        plan_id: version.plan_id.clone(),
        version: version.version,
        rounding: version.policy.rounding.as_str(),
        explanation: pc.breakdown.explanation.clone(),
        breakdown_sha256,
        breakdown_json,
        incident_ids_json: serde_json::to_string(&ids)
            .map_err(|e| StoreError::Corrupt(e.to_string()))?,
    })
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// A booked `sla_credit` entry, as the sum needs it.
#[derive(Queryable)]
struct BookedRow {
    customer_id: String,
    period: String,
    amount_minor: i64,
    minor_units: i64,
    currency: String,
    incident_ids: String,
}

/// One batch: one transaction.
fn run_batch(
    conn: &mut Conn,
    ids: &[String],
    work: &Work<'_>,
    opts: &SettleOptions,
    acc: &mut Accumulator,
) -> Result<(), StoreError> {
    let (Some(first), Some(last)) = (ids.first(), ids.last()) else {
        return Ok(());
    };
    let body = |c: &mut Conn| -> Result<BatchOut, StoreError> {
        batch_body(c, ids, first, last, work, opts)
    };
    let out = if opts.dry_run {
        read_tx(conn, body)?
    } else {
        write_tx(conn, body)?
    };
    acc.customers += out.customers;
    acc.report.periods += out.periods;
    acc.report.entries_appended += out.appended;
    for (currency, amount) in out.totals {
        let slot = acc
            .totals
            .entry(currency.code())
            .or_insert((currency, Decimal::ZERO));
        slot.1 = sum_amounts(&[slot.1, amount])
            .ok_or_else(|| StoreError::Corrupt("total overflows".into()))?;
    }
    acc.report.data.extend(out.lines);
    Ok(())
}

struct BatchOut {
    customers: usize,
    periods: usize,
    appended: usize,
    totals: Vec<(Currency, Decimal)>,
    lines: Vec<SettlementLine>,
}

fn batch_body(
    c: &mut Conn,
    ids: &[String],
    first: &str,
    last: &str,
    work: &Work<'_>,
    opts: &SettleOptions,
) -> Result<BatchOut, StoreError> {
    let wanted: HashSet<&str> = ids.iter().map(String::as_str).collect();
    let mut customers = load_customer_range(c, first, last)?;
    customers.retain(|cu| wanted.contains(cu.id.as_str()));
    let plan_ids: BTreeSet<&str> = customers
        .iter()
        .flat_map(|cu| cu.history.iter().map(|(_, p)| p.as_str()))
        .collect();
    let plans = load_plans_named(c, &plan_ids.into_iter().collect::<Vec<_>>())?;

    // Booked sla_credit entries of these customers: one range scan.
    let booked_rows: Vec<BookedRow> = ledger_entries::table
        .filter(ledger_entries::customer_id.between(first, last))
        .filter(ledger_entries::kind.eq(EntryKind::SlaCredit.as_str()))
        .select((
            ledger_entries::customer_id,
            ledger_entries::period,
            ledger_entries::amount_minor,
            ledger_entries::minor_units,
            ledger_entries::currency,
            ledger_entries::incident_ids,
        ))
        .load(c)?;
    let mut booked: HashMap<(&str, &str), Vec<(Decimal, &str)>> = HashMap::new();
    let mut referenced: HashMap<&str, BTreeSet<&str>> = HashMap::new();
    let incident_id: Option<&str> = match work {
        Work::Incident(id) => Some(id),
        Work::Period(_) => None,
    };
    let needle = incident_id
        .map(|id| serde_json::to_string(id).map_err(|e| StoreError::Corrupt(e.to_string())))
        .transpose()?;
    for r in &booked_rows {
        let mu = u32::try_from(r.minor_units).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        booked
            .entry((r.customer_id.as_str(), r.period.as_str()))
            .or_default()
            .push((from_minor(r.amount_minor, mu), r.currency.as_str()));
        // Periods an earlier settlement booked from this incident are settled again too.
        if let (Some(id), Some(needle)) = (incident_id, &needle) {
            if r.incident_ids.contains(needle.as_str()) {
                let list: Vec<String> = serde_json::from_str(&r.incident_ids)
                    .map_err(|e| StoreError::Corrupt(e.to_string()))?;
                if list.iter().any(|i| i == id) {
                    referenced
                        .entry(r.customer_id.as_str())
                        .or_default()
                        .insert(r.period.as_str());
                }
            }
        }
    }

    // The (customer, period) pairs to settle, with the policy version of each.
    let incident = match work {
        Work::Incident(id) => Some(
            load_incident(c, id)?
                .ok_or_else(|| StoreError::not_found("incident", format!("no incident {id:?}")))?,
        ),
        Work::Period(_) => None,
    };
    let mut items: Vec<(usize, PeriodLabel, &PlanVersion)> = Vec::new();
    let mut range: Option<Span> = None;
    let mut settled_customers = 0usize;
    for (ci, cu) in customers.iter().enumerate() {
        let mut labels: BTreeSet<PeriodLabel> = BTreeSet::new();
        match work {
            Work::Period(label) => {
                labels.insert(*label);
            }
            Work::Incident(_) => {
                if let Some(inc) = &incident {
                    if inc.concerns(cu) {
                        if let Some(span) = inc.span(opts.as_of) {
                            labels.extend(labels_touched(cu, &plans, span)?);
                        }
                    }
                }
                if let Some(periods) = referenced.get(cu.id.as_str()) {
                    for p in periods {
                        let label = PeriodLabel::parse(p).map_err(|m| {
                            StoreError::Corrupt(format!("ledger period {p:?}: {m}"))
                        })?;
                        labels.insert(label);
                    }
                }
            }
        }
        if labels.is_empty() {
            continue;
        }
        settled_customers += 1;
        for label in labels {
            let v = version_for_period(cu, &plans, label)?;
            if v.policy.period != label.kind() {
                if let Work::Period(_) = work {
                    return Err(StoreError::invalid(
                        "period",
                        format!(
                            "{label} is not a {} label: the policy in force measures by {}",
                            v.policy.period.as_str(),
                            v.policy.period.as_str()
                        ),
                    ));
                }
                // The policy changed its period kind; settle the period of its kind instead.
                let zone = v.policy.timezone.unwrap_or(cu.timezone);
                let relabel =
                    PeriodLabel::containing(v.policy.period, zone, label.in_zone(zone).start);
                let v2 = version_for_period(cu, &plans, relabel)?;
                push_item(&mut items, &mut range, cu, ci, relabel, v2);
                continue;
            }
            push_item(&mut items, &mut range, cu, ci, label, v);
        }
    }
    items.dedup_by(|a, b| a.0 == b.0 && a.1 == b.1);

    let incidents = match range {
        Some(r) => load_overlapping(c, r, opts.as_of)?,
        None => Vec::new(),
    };

    // Compute (shared by equal keys), compare with what is booked, and build the rows.
    let mut memo: HashMap<TargetKey, Target> = HashMap::new();
    let mut next_id = if opts.dry_run { 0 } else { next_entry_id(c)? };
    let created_at = ts(opts.now);
    let as_of = ts(opts.as_of);
    let mut rows: Vec<EntryRow> = Vec::new();
    let mut new_breakdowns: BTreeMap<String, String> = BTreeMap::new();
    let mut totals: BTreeMap<&'static str, (Currency, Decimal)> = BTreeMap::new();
    let mut lines = Vec::new();
    let mut appended = 0usize;
    for (ci, label, version) in &items {
        let cu = &customers[*ci];
        let zone = version.policy.timezone.unwrap_or(cu.timezone);
        let zp = label.in_zone(zone);
        let period_span = Span {
            start: zp.start,
            end: zp.end.max(zp.start + 1),
        };
        let relevant: Vec<usize> = incidents
            .iter()
            .enumerate()
            .filter(|(_, i)| {
                i.concerns(cu) && i.span(opts.as_of).is_some_and(|s| s.overlaps(&period_span))
            })
            .map(|(k, _)| k)
            .collect();
        let key = TargetKey {
            zone: cu.timezone,
            label: *label,
            plan_id: version.plan_id.clone(),
            version: version.version,
            history: cu.history.clone(),
            incidents: relevant,
        };
        if !memo.contains_key(&key) {
            let list: Vec<&StoredIncident> = key.incidents.iter().map(|k| &incidents[*k]).collect();
            let t = compute_target(cu, *label, version, &plans, &list, opts.as_of)?;
            memo.insert(key.clone(), t);
        }
        let Some(target) = memo.get(&key) else {
            continue;
        };
        let label_text = label.to_string();
        let already: Vec<(Decimal, &str)> = booked
            .get(&(cu.id.as_str(), label_text.as_str()))
            .cloned()
            .unwrap_or_default();
        if let Some((_, other)) = already
            .iter()
            .find(|(_, cur)| *cur != target.currency.code())
        {
            return Err(StoreError::conflict(
                "customer",
                format!(
                    "{} {label_text}: credits are booked in {other}, the plan bills in {}",
                    cu.id, target.currency
                ),
            ));
        }
        let amounts: Vec<Decimal> = already.iter().map(|(a, _)| *a).collect();
        let booked_sum = sum_amounts(&amounts)
            .ok_or_else(|| StoreError::Corrupt("booked sum overflows".into()))?;
        let delta = settlement_delta(target.credit, &amounts);
        let mut entry_id = None;
        if let Some(delta) = delta {
            appended += 1;
            let mu = target.currency.minor_units();
            let amount_minor = to_minor(delta, mu).ok_or_else(|| {
                StoreError::Corrupt(format!("delta {delta} does not fit {}", target.currency))
            })?;
            let explanation = if booked_sum.is_zero() {
                target.explanation.clone()
            } else {
                format!(
                    "{}; {} {c} already booked, this entry: {} {c}",
                    target.explanation,
                    target.currency.format(booked_sum),
                    target.currency.format(delta),
                    c = target.currency.code()
                )
            };
            let slot = totals
                .entry(target.currency.code())
                .or_insert((target.currency, Decimal::ZERO));
            slot.1 = sum_amounts(&[slot.1, delta])
                .ok_or_else(|| StoreError::Corrupt("total overflows".into()))?;
            if !opts.dry_run {
                new_breakdowns
                    .entry(target.breakdown_sha256.clone())
                    .or_insert_with(|| target.breakdown_json.clone());
                rows.push(EntryRow {
                    id: next_id,
                    kind: EntryKind::SlaCredit.as_str().into(),
                    customer_id: cu.id.clone(),
                    period: label_text.clone(),
                    amount_minor,
                    currency: target.currency.code().into(),
                    minor_units: i64::from(mu),
                    incident_ids: target.incident_ids_json.clone(),
                    reason: None,
                    created_at: created_at.clone(),
                    created_by: opts.actor.clone(),
                    reverses: None,
                    plan_id: Some(target.plan_id.clone()),
                    policy_version: Some(target.version),
                    rounding: Some(target.rounding.into()),
                    explanation,
                    breakdown_sha256: Some(target.breakdown_sha256.clone()),
                    as_of: Some(as_of.clone()),
                    tzdb_version: TZDB_VERSION.into(),
                    engine_version: ENGINE_VERSION.into(),
                });
                entry_id = Some(next_id.to_string());
                next_id += 1;
            }
        }
        if opts.keep_lines {
            lines.push(SettlementLine {
                customer_id: cu.id.clone(),
                period: label_text,
                currency: target.currency.code().into(),
                target: target.currency.format(target.credit),
                booked: target.currency.format(booked_sum),
                delta: target.currency.format(delta.unwrap_or(Decimal::ZERO)),
                entry_id,
            });
        }
    }
    if !opts.dry_run && !rows.is_empty() {
        let breakdowns: Vec<BreakdownRow> = new_breakdowns
            .into_iter()
            .map(|(sha256, body)| BreakdownRow { sha256, body })
            .collect();
        insert_breakdowns(c, &breakdowns)?;
        insert_entries(c, &rows)?;
    }
    Ok(BatchOut {
        customers: settled_customers,
        periods: items.len(),
        appended,
        totals: totals.into_values().collect(),
        lines,
    })
}

fn push_item<'p>(
    items: &mut Vec<(usize, PeriodLabel, &'p PlanVersion)>,
    range: &mut Option<Span>,
    cu: &Customer,
    ci: usize,
    label: PeriodLabel,
    v: &'p PlanVersion,
) {
    let zone = v.policy.timezone.unwrap_or(cu.timezone);
    let zp = label.in_zone(zone);
    let span = Span {
        start: zp.start,
        end: zp.end.max(zp.start + 1),
    };
    *range = Some(match *range {
        None => span,
        Some(r) => Span {
            start: r.start.min(span.start),
            end: r.end.max(span.end),
        },
    });
    items.push((ci, label, v));
}
