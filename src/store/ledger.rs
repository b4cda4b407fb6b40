//! The credit ledger (credit-rules §6): entries are appended, never updated or deleted (the
//! database refuses both). Balances are derived, summed in Rust with exact decimals — never by
//! SQL. Goodwill and reversal entries live here; settlement entries come from [`super::settle`].

use std::collections::{BTreeMap, HashMap};

use diesel::prelude::*;
use rust_decimal::Decimal;
use serde::Serialize;
use serde_json::Value;

use crate::domain::exact::round_q;
use crate::domain::money::{Currency, RoundingMode};
use crate::domain::period::PeriodLabel;
use crate::domain::settlement::{goodwill_days, period_fee, sum_amounts};
use crate::domain::time::{format_utc, Nanos};
use crate::domain::{ENGINE_VERSION, TZDB_VERSION};

use super::convert::{from_minor, read_ts, to_minor, ts};
use super::customers::{load_customer, Customer};
use super::models::{BreakdownRow, EntryRow};
use super::plans::{load_plans, PlanInfo, PlanVersion};
use super::schema::{credit_breakdowns, ledger_entries, plan_versions};
use super::settle::{fee_source, version_for_period};
use super::sqlite::{is_unique_violation, write_tx, Conn};
use super::StoreError;

/// Rows per multi-row INSERT: 20 columns × 1,000 rows stays under SQLite's 32,766 variables.
pub const ENTRY_INSERT_CHUNK: usize = 1_000;

/// What an entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EntryKind {
    /// A settlement delta: target − already booked `sla_credit` (the only kind in that sum).
    SlaCredit,
    Goodwill,
    Reversal,
}

impl EntryKind {
    pub fn as_str(&self) -> &'static str {
        match self {
            EntryKind::SlaCredit => "sla_credit",
            EntryKind::Goodwill => "goodwill",
            EntryKind::Reversal => "reversal",
        }
    }

    pub fn parse(s: &str) -> Result<Self, String> {
        match s {
            "sla_credit" => Ok(EntryKind::SlaCredit),
            "goodwill" => Ok(EntryKind::Goodwill),
            "reversal" => Ok(EntryKind::Reversal),
            _ => Err(format!("unknown entry kind {s:?}")),
        }
    }
}

/// A ledger entry, read back.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub id: i64,
    pub kind: EntryKind,
    pub customer_id: String,
    pub period: String,
    pub amount: Decimal,
    pub currency: Currency,
    pub incident_ids: Vec<String>,
    pub reason: Option<String>,
    pub created_at: Nanos,
    pub created_by: String,
    pub reverses: Option<i64>,
    pub plan_id: Option<String>,
    pub policy_version: Option<i64>,
    pub rounding: Option<String>,
    pub explanation: String,
    pub breakdown_sha256: Option<String>,
    pub as_of: Option<Nanos>,
    pub tzdb_version: String,
    pub engine_version: String,
}

impl TryFrom<EntryRow> for Entry {
    type Error = StoreError;
    fn try_from(r: EntryRow) -> Result<Self, StoreError> {
        let bad = |m: String| StoreError::Corrupt(format!("ledger entry {}: {m}", r.id));
        let currency = Currency::parse(&r.currency).map_err(bad)?;
        let minor_units = u32::try_from(r.minor_units).map_err(|e| bad(e.to_string()))?;
        Ok(Entry {
            id: r.id,
            kind: EntryKind::parse(&r.kind).map_err(bad)?,
            amount: from_minor(r.amount_minor, minor_units),
            currency,
            incident_ids: serde_json::from_str(&r.incident_ids).map_err(|e| bad(e.to_string()))?,
            created_at: read_ts(&r.created_at, "ledger_entries.created_at")?,
            as_of: r
                .as_of
                .as_deref()
                .map(|t| read_ts(t, "ledger_entries.as_of"))
                .transpose()?,
            customer_id: r.customer_id,
            period: r.period,
            reason: r.reason,
            created_by: r.created_by,
            reverses: r.reverses,
            plan_id: r.plan_id,
            policy_version: r.policy_version,
            rounding: r.rounding,
            explanation: r.explanation,
            breakdown_sha256: r.breakdown_sha256,
            tzdb_version: r.tzdb_version,
            engine_version: r.engine_version,
        })
    }
}

/// The JSON view of an entry (api.md), with its breakdown and policy as applied.
#[derive(Debug, Clone, Serialize)]
pub struct EntryView {
    pub id: String,
    pub kind: String,
    pub customer_id: String,
    pub period: String,
    pub amount: String,
    pub currency: String,
    pub incident_ids: Vec<String>,
    pub reason: Option<String>,
    pub created_at: String,
    pub created_by: String,
    pub reverses: Option<String>,
    pub plan_id: Option<String>,
    pub policy_version: Option<i64>,
    pub rounding: Option<String>,
    pub explanation: String,
    pub breakdown: Value,
    pub policy: Value,
    pub as_of: Option<String>,
    pub tzdb_version: String,
    pub engine_version: String,
}

/// A customer's balance in one currency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Balance {
    pub currency: String,
    /// Exact sum of the entries, with the currency's minor digits.
    pub total: String,
    #[serde(skip)]
    pub amount: Decimal,
}

/// Balances per currency, summed in Rust with exact decimals (checked: an overflow is an
/// error, never a wrong figure).
pub fn balances(entries: &[Entry]) -> Result<Vec<Balance>, StoreError> {
    let mut by_currency: BTreeMap<&'static str, (Currency, Vec<Decimal>)> = BTreeMap::new();
    for e in entries {
        by_currency
            .entry(e.currency.code())
            .or_insert_with(|| (e.currency, Vec::new()))
            .1
            .push(e.amount);
    }
    by_currency
        .into_values()
        .map(|(currency, amounts)| {
            let amount = sum_amounts(&amounts)
                .ok_or_else(|| StoreError::Corrupt("balance overflows".into()))?;
            Ok(Balance {
                currency: currency.code().to_string(),
                total: currency.format(amount),
                amount,
            })
        })
        .collect()
}

/// A customer's entries, newest first.
pub fn entries_for_customer(conn: &mut Conn, customer_id: &str) -> Result<Vec<Entry>, StoreError> {
    let rows: Vec<EntryRow> = ledger_entries::table
        .filter(ledger_entries::customer_id.eq(customer_id))
        .order(ledger_entries::id.desc())
        .select(EntryRow::as_select())
        .load(conn)?;
    rows.into_iter().map(Entry::try_from).collect()
}

/// One entry.
pub fn load_entry(conn: &mut Conn, id: i64) -> Result<Option<Entry>, StoreError> {
    let row: Option<EntryRow> = ledger_entries::table
        .find(id)
        .select(EntryRow::as_select())
        .first(conn)
        .optional()?;
    row.map(Entry::try_from).transpose()
}

/// Entries as JSON, with their breakdowns and policies joined in.
pub fn entry_views(conn: &mut Conn, entries: &[Entry]) -> Result<Vec<EntryView>, StoreError> {
    let shas: Vec<&str> = entries
        .iter()
        .filter_map(|e| e.breakdown_sha256.as_deref())
        .collect();
    let mut bodies: HashMap<String, Value> = HashMap::new();
    for chunk in shas.chunks(10_000) {
        let rows: Vec<BreakdownRow> = credit_breakdowns::table
            .filter(credit_breakdowns::sha256.eq_any(chunk))
            .select(BreakdownRow::as_select())
            .load(conn)?;
        for r in rows {
            let v =
                serde_json::from_str(&r.body).map_err(|e| StoreError::Corrupt(e.to_string()))?;
            bodies.insert(r.sha256, v);
        }
    }
    let mut policies: HashMap<(String, i64), Value> = HashMap::new();
    for e in entries {
        if let (Some(p), Some(v)) = (&e.plan_id, e.policy_version) {
            if policies.contains_key(&(p.clone(), v)) {
                continue;
            }
            let text: String = plan_versions::table
                .find((p, v))
                .select(plan_versions::policy)
                .first(conn)?;
            let value =
                serde_json::from_str(&text).map_err(|e| StoreError::Corrupt(e.to_string()))?;
            policies.insert((p.clone(), v), value);
        }
    }
    Ok(entries
        .iter()
        .map(|e| EntryView {
            id: e.id.to_string(),
            kind: e.kind.as_str().to_string(),
            customer_id: e.customer_id.clone(),
            period: e.period.clone(),
            amount: e.currency.format(e.amount),
            currency: e.currency.code().to_string(),
            incident_ids: e.incident_ids.clone(),
            reason: e.reason.clone(),
            created_at: format_utc(e.created_at),
            created_by: e.created_by.clone(),
            reverses: e.reverses.map(|r| r.to_string()),
            plan_id: e.plan_id.clone(),
            policy_version: e.policy_version,
            rounding: e.rounding.clone(),
            explanation: e.explanation.clone(),
            breakdown: e
                .breakdown_sha256
                .as_ref()
                .and_then(|s| bodies.get(s).cloned())
                .unwrap_or(Value::Null),
            policy: match (&e.plan_id, e.policy_version) {
                (Some(p), Some(v)) => policies
                    .get(&(p.clone(), v))
                    .cloned()
                    .unwrap_or(Value::Null),
                _ => Value::Null,
            },
            as_of: e.as_of.map(format_utc),
            tzdb_version: e.tzdb_version.clone(),
            engine_version: e.engine_version.clone(),
        })
        .collect())
}

/// The next free entry id. Only meaningful inside a write transaction (the write lock is
/// held, so nobody else appends in between).
pub fn next_entry_id(conn: &mut Conn) -> Result<i64, StoreError> {
    let max: Option<i64> = ledger_entries::table
        .select(diesel::dsl::max(ledger_entries::id))
        .first(conn)?;
    Ok(max.unwrap_or(0) + 1)
}

/// Appends rows, many per statement.
pub fn insert_entries(conn: &mut Conn, rows: &[EntryRow]) -> Result<(), StoreError> {
    for chunk in rows.chunks(ENTRY_INSERT_CHUNK) {
        diesel::insert_into(ledger_entries::table)
            .values(chunk)
            .execute(conn)?;
    }
    Ok(())
}

/// Stores breakdowns by content; one already stored is kept as it is.
pub fn insert_breakdowns(conn: &mut Conn, rows: &[BreakdownRow]) -> Result<(), StoreError> {
    for chunk in rows.chunks(1_000) {
        diesel::insert_or_ignore_into(credit_breakdowns::table)
            .values(chunk)
            .execute(conn)?;
    }
    Ok(())
}

/// A goodwill gesture (credit-rules §6): N days of a period's fee, or an amount.
#[derive(Debug, Clone, PartialEq)]
pub struct GoodwillRequest {
    pub customer_id: String,
    pub days: Option<u32>,
    pub amount: Option<Decimal>,
    /// Must be the customer's currency when given.
    pub currency: Option<String>,
    pub reason: String,
    /// Default: the customer's current period.
    pub period: Option<String>,
}

/// Appends a goodwill entry. It is outside the settlement sum: it never shrinks a contractual
/// credit, and a later settlement ignores it.
pub fn goodwill(
    conn: &mut Conn,
    req: &GoodwillRequest,
    actor: &str,
    now: Nanos,
) -> Result<Entry, StoreError> {
    if req.reason.trim().is_empty() {
        return Err(StoreError::invalid("reason", "must not be empty"));
    }
    write_tx(conn, |c| {
        let customer = load_customer(c, &req.customer_id)?.ok_or_else(|| {
            StoreError::not_found("customer", format!("no customer {:?}", req.customer_id))
        })?;
        let plans = load_plans(c)?;
        let label = goodwill_period(&customer, &plans, req.period.as_deref(), now)?;
        let version = version_for_period(&customer, &plans, label)?;
        if version.policy.period != label.kind() {
            return Err(StoreError::invalid(
                "period",
                format!(
                    "the customer's policy measures by {}",
                    version.policy.period.as_str()
                ),
            ));
        }
        let currency = version.currency;
        if let Some(code) = &req.currency {
            if code != currency.code() {
                return Err(StoreError::invalid(
                    "currency",
                    format!("the customer is billed in {}", currency.code()),
                ));
            }
        }
        let zone = version.policy.timezone.unwrap_or(customer.timezone);
        let fees = fee_source(&customer, &plans)?;
        let (amount, explanation) = match (req.days, req.amount) {
            (Some(days), None) => {
                if !(1..=366).contains(&days) {
                    return Err(StoreError::invalid(
                        "days",
                        "must be a whole number from 1 to 366",
                    ));
                }
                let amount =
                    goodwill_days(&fees, zone, label, days, currency, version.policy.rounding)
                        .ok_or_else(|| {
                            StoreError::invalid("days", "the amount exceeds the supported range")
                        })?;
                let fee = round_q(
                    &period_fee(&fees, zone, label),
                    currency.minor_units(),
                    RoundingMode::HalfUp,
                )
                .unwrap_or_default();
                let dip = label.in_zone(zone).local_days(zone);
                let text = format!(
                    "Goodwill: {days} {} × {} {c} ÷ {dip} days = {} {c}",
                    if days == 1 { "day" } else { "days" },
                    currency.format(fee),
                    currency.format(amount),
                    c = currency.code()
                );
                (amount, text)
            }
            (None, Some(amount)) => {
                if amount <= Decimal::ZERO {
                    return Err(StoreError::invalid("amount", "must be greater than 0"));
                }
                (
                    amount,
                    format!("Goodwill: {} {}", currency.format(amount), currency.code()),
                )
            }
            _ => {
                return Err(StoreError::invalid(
                    "days",
                    "give exactly one of days or amount",
                ))
            }
        };
        let amount_minor = to_minor(amount, currency.minor_units()).ok_or_else(|| {
            StoreError::invalid(
                if req.amount.is_some() {
                    "amount"
                } else {
                    "days"
                },
                format!(
                    "must be a whole number of {} minor units, within range",
                    currency.code()
                ),
            )
        })?;
        if amount_minor == 0 {
            return Err(StoreError::invalid(
                "days",
                "the period's fee is 0: nothing to grant",
            ));
        }
        let row = EntryRow {
            id: next_entry_id(c)?,
            kind: EntryKind::Goodwill.as_str().into(),
            customer_id: customer.id.clone(),
            period: label.to_string(),
            amount_minor,
            currency: currency.code().into(),
            minor_units: i64::from(currency.minor_units()),
            incident_ids: "[]".into(),
            reason: Some(req.reason.clone()),
            created_at: ts(now),
            created_by: actor.to_string(),
            reverses: None,
            plan_id: Some(version.plan_id.clone()),
            policy_version: Some(version.version),
            rounding: Some(version.policy.rounding.as_str().into()),
            explanation,
            breakdown_sha256: None,
            as_of: None,
            tzdb_version: TZDB_VERSION.into(),
            engine_version: ENGINE_VERSION.into(),
        };
        let id = row.id;
        insert_entries(c, &[row])?;
        load_entry(c, id)?.ok_or_else(|| StoreError::Corrupt("entry vanished".into()))
    })
}

fn goodwill_period(
    customer: &Customer,
    plans: &HashMap<String, PlanInfo>,
    period: Option<&str>,
    now: Nanos,
) -> Result<PeriodLabel, StoreError> {
    match period {
        Some(p) => PeriodLabel::parse(p).map_err(|m| StoreError::invalid("period", m)),
        None => {
            let version: &PlanVersion = plans
                .get(customer.plan_at(now))
                .map(|p| p.version_at(now))
                .ok_or_else(|| {
                    StoreError::Corrupt(format!("customer {} is on a missing plan", customer.id))
                })?;
            let zone = version.policy.timezone.unwrap_or(customer.timezone);
            Ok(PeriodLabel::containing(version.policy.period, zone, now))
        }
    }
}

/// Appends the reversal of an entry: the same amount with the opposite sign, same customer,
/// period and currency. An entry is reversed at most once (a UNIQUE key on `reverses`), and a
/// reversal is not itself reversed. A reversed `sla_credit` stays reversed: reversals are
/// outside the settlement sum.
pub fn reverse(
    conn: &mut Conn,
    entry_id: i64,
    reason: &str,
    actor: &str,
    now: Nanos,
) -> Result<Entry, StoreError> {
    if reason.trim().is_empty() {
        return Err(StoreError::invalid("reason", "must not be empty"));
    }
    write_tx(conn, |c| {
        let original = load_entry(c, entry_id)?
            .ok_or_else(|| StoreError::not_found("entry", format!("no ledger entry {entry_id}")))?;
        if original.kind == EntryKind::Reversal {
            return Err(StoreError::invalid(
                "entry",
                "a reversal cannot be reversed",
            ));
        }
        let minor_units = original.currency.minor_units();
        let amount_minor = to_minor(-original.amount, minor_units)
            .ok_or_else(|| StoreError::Corrupt(format!("entry {entry_id}: amount out of range")))?;
        let row = EntryRow {
            id: next_entry_id(c)?,
            kind: EntryKind::Reversal.as_str().into(),
            customer_id: original.customer_id.clone(),
            period: original.period.clone(),
            amount_minor,
            currency: original.currency.code().into(),
            minor_units: i64::from(minor_units),
            incident_ids: serde_json::to_string(&original.incident_ids)
                .map_err(|e| StoreError::Corrupt(e.to_string()))?,
            reason: Some(reason.to_string()),
            created_at: ts(now),
            created_by: actor.to_string(),
            reverses: Some(entry_id),
            plan_id: original.plan_id.clone(),
            policy_version: original.policy_version,
            rounding: original.rounding.clone(),
            explanation: format!(
                "Reversal of entry {entry_id}: {} {}",
                original.currency.format(-original.amount),
                original.currency.code()
            ),
            breakdown_sha256: None,
            as_of: None,
            tzdb_version: TZDB_VERSION.into(),
            engine_version: ENGINE_VERSION.into(),
        };
        let id = row.id;
        match insert_entries(c, &[row]) {
            Err(StoreError::Database(e)) if is_unique_violation(&e) => {
                return Err(StoreError::conflict(
                    "entry",
                    format!("entry {entry_id} is already reversed"),
                ))
            }
            r => r?,
        }
        load_entry(c, id)?.ok_or_else(|| StoreError::Corrupt("entry vanished".into()))
    })
}
