//! Credits: goodwill gestures, reversals and settlements (the request forms of
//! `POST /v1/customers/{id}/credits`, `POST /v1/credits/{id}/reversal`,
//! `POST /v1/incidents/{id}/credits` and their command-line twins), their checks into
//! commands, and the views of ledger entries, balances and settlement reports.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::Value;
use std::sync::Arc;

use crate::domain::book::EntryKind;
use crate::domain::error::{field_error, Errors};
use crate::domain::ids::check_id;
use crate::domain::money::{parse_money, Currency};
use crate::domain::period::PeriodLabel;
use crate::domain::policy::value_decimal;
use crate::domain::time::Nanos;
use crate::domain::ValidationErrors;

use super::check::{check_instant, check_text, decimal_text};

/// Goodwill: `{days, reason, period?, reference?}` or `{amount, currency?, reason, period?,
/// reference?}`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GoodwillInput {
    #[serde(default)]
    pub days: Option<Value>,
    #[serde(default)]
    pub amount: Option<Value>,
    #[serde(default)]
    pub currency: Option<String>,
    pub reason: String,
    #[serde(default)]
    pub period: Option<String>,
    /// A natural key: unique per customer.
    #[serde(default)]
    pub reference: Option<String>,
}

/// What a goodwill gesture grants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grant {
    /// N days of the period's fee (docs/rules.md §6).
    Days(u32),
    /// A plain amount in the customer's currency.
    Amount(Decimal),
}

/// A checked goodwill gesture.
#[derive(Debug, Clone, PartialEq)]
pub struct GoodwillCommand {
    pub customer_id: String,
    pub grant: Grant,
    /// Must be the customer's currency when given.
    pub currency: Option<Currency>,
    pub reason: String,
    /// Default: the customer's current period.
    pub period: Option<PeriodLabel>,
    pub reference: Option<String>,
}

/// A whole number of days from 1 to 366; an exactly whole decimal (`2.0`) counts.
pub fn check_days(v: &Value, field: &str) -> Result<u32, crate::domain::FieldError> {
    let d = value_decimal(v, field)?;
    let whole = d.normalize();
    if whole.scale() != 0 {
        return Err(field_error(field, "must be a whole number from 1 to 366"));
    }
    match u32::try_from(whole.mantissa()) {
        Ok(n) if (1..=366).contains(&n) => Ok(n),
        _ => {
            Err(field_error(field, "must be a whole number from 1 to 366")
                .with_code("out_of_range"))
        }
    }
}

impl GoodwillInput {
    pub fn check(&self, customer_id: &str) -> Result<GoodwillCommand, ValidationErrors> {
        let mut e = Errors::new();
        e.take(check_id(customer_id, "customer_id"));
        let grant = match (&self.days, &self.amount) {
            (Some(d), None) => e.take(check_days(d, "days")).map(Grant::Days),
            (None, Some(a)) => {
                let amount = decimal_text(a)
                    .ok_or_else(|| field_error("amount", "must be a decimal string like \"25.00\""))
                    .and_then(|t| parse_money(&t).map_err(|m| field_error("amount", m)));
                match e.take(amount) {
                    Some(a) if a <= Decimal::ZERO => {
                        e.push("amount", "must be greater than 0");
                        None
                    }
                    a => a.map(Grant::Amount),
                }
            }
            (Some(_), Some(_)) => {
                e.push("days", "give exactly one of days or amount");
                None
            }
            (None, None) => {
                e.push_error(field_error("days", "give days or amount").with_code("required"));
                None
            }
        };
        let currency = self
            .currency
            .as_ref()
            .and_then(|c| e.take(Currency::parse(c).map_err(|m| field_error("currency", m))));
        if let (Some(Grant::Days(_)), Some(_)) = (grant, &self.currency) {
            e.push("currency", "is only given with amount");
        }
        check_text(&self.reason, "reason", &mut e);
        let period = self
            .period
            .as_ref()
            .and_then(|p| e.take(PeriodLabel::parse(p).map_err(|m| field_error("period", m))));
        if let Some(r) = &self.reference {
            e.take(check_id(r, "reference"));
        }
        match grant {
            Some(grant) => e.finish(GoodwillCommand {
                customer_id: customer_id.to_string(),
                grant,
                currency,
                reason: self.reason.clone(),
                period,
                reference: self.reference.clone(),
            }),
            None => Err(e.into_errors("body")),
        }
    }
}

/// `{reason}`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReversalInput {
    pub reason: String,
}

impl ReversalInput {
    pub fn check(&self) -> Result<String, ValidationErrors> {
        let mut e = Errors::new();
        check_text(&self.reason, "reason", &mut e);
        e.finish(self.reason.clone())
    }
}

/// `{dry_run, as_of?, limit?}`
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SettleInput {
    #[serde(default)]
    pub dry_run: bool,
    #[serde(default)]
    pub as_of: Option<String>,
    #[serde(default)]
    pub limit: Option<u32>,
    /// A dry run's further lines: the `next_after` of the previous answer.
    #[serde(default)]
    pub after: Option<String>,
}

/// A checked settlement request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettleCommand {
    pub dry_run: bool,
    /// Outage time counts up to here; never later than now for a real run.
    pub as_of: Nanos,
}

impl SettleInput {
    pub fn check(&self, now: Nanos) -> Result<SettleCommand, ValidationErrors> {
        let mut e = Errors::new();
        let as_of = match &self.as_of {
            None => Some(now),
            Some(t) => e.take(check_instant(t, "as_of")),
        };
        if let Some(at) = as_of {
            if !self.dry_run && at > now {
                e.push_error(
                    field_error("as_of", "must not be later than now for a real settlement")
                        .with_code("out_of_range"),
                );
            }
        }
        if let Some(l) = self.limit {
            if !(1..=500).contains(&l) {
                e.push_error(
                    field_error("limit", "must be from 1 to 500").with_code("out_of_range"),
                );
            }
        }
        match as_of {
            Some(as_of) => e.finish(SettleCommand {
                dry_run: self.dry_run,
                as_of,
            }),
            None => Err(e.into_errors("body")),
        }
    }
}

/// The view of a ledger entry, with its breakdown and the policy as applied.
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
    pub reference: Option<String>,
    pub created_at: String,
    pub created_by: String,
    pub reverses: Option<String>,
    pub reversed_by: Option<String>,
    pub settlement_id: Option<String>,
    pub export_id: Option<String>,
    pub plan_id: Option<String>,
    pub policy_version: Option<i64>,
    pub rounding: Option<String>,
    pub explanation: String,
    /// Shared, not copied, by the entries of a page that have the same one.
    pub breakdown: Arc<Value>,
    /// The policy as applied, as JSON rendered once and shared, not copied or rendered
    /// again, by the entries of a page that have the same one.
    pub policy: Arc<RawValue>,
    pub as_of: Option<String>,
    pub tzdb_version: String,
    pub engine_version: String,
}

impl EntryView {
    /// The entry as compact JSON: the bytes `serde_json::to_writer` gives for it, written field
    /// by field (a support-view page is mostly entries; the test holds both writers to the
    /// same output, and its literal stops compiling when a field is added).
    pub fn write_json(&self, out: &mut Vec<u8>) {
        use super::json_text::{optional_integer, optional_string, string};
        let texts = [
            (&b"{\"id\":"[..], &self.id),
            (b",\"kind\":", &self.kind),
            (b",\"customer_id\":", &self.customer_id),
            (b",\"period\":", &self.period),
            (b",\"amount\":", &self.amount),
            (b",\"currency\":", &self.currency),
        ];
        for (key, value) in texts {
            out.extend_from_slice(key);
            string(out, value);
        }
        out.extend_from_slice(b",\"incident_ids\":[");
        for (i, id) in self.incident_ids.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            string(out, id);
        }
        out.push(b']');
        let optional = [
            (&b",\"reason\":"[..], self.reason.as_deref()),
            (b",\"reference\":", self.reference.as_deref()),
            (b",\"created_at\":", Some(self.created_at.as_str())),
            (b",\"created_by\":", Some(self.created_by.as_str())),
            (b",\"reverses\":", self.reverses.as_deref()),
            (b",\"reversed_by\":", self.reversed_by.as_deref()),
            (b",\"settlement_id\":", self.settlement_id.as_deref()),
            (b",\"export_id\":", self.export_id.as_deref()),
            (b",\"plan_id\":", self.plan_id.as_deref()),
        ];
        for (key, value) in optional {
            out.extend_from_slice(key);
            optional_string(out, value);
        }
        out.extend_from_slice(b",\"policy_version\":");
        optional_integer(out, self.policy_version);
        out.extend_from_slice(b",\"rounding\":");
        optional_string(out, self.rounding.as_deref());
        out.extend_from_slice(b",\"explanation\":");
        string(out, &self.explanation);
        out.extend_from_slice(b",\"breakdown\":");
        if self.breakdown.is_null() {
            out.extend_from_slice(b"null");
        } else {
            // Writing into a Vec cannot fail, and a JSON value always serializes.
            let _ = serde_json::to_writer(&mut *out, &*self.breakdown);
        }
        out.extend_from_slice(b",\"policy\":");
        out.extend_from_slice(self.policy.get().as_bytes());
        out.extend_from_slice(b",\"as_of\":");
        optional_string(out, self.as_of.as_deref());
        out.extend_from_slice(b",\"tzdb_version\":");
        string(out, &self.tzdb_version);
        out.extend_from_slice(b",\"engine_version\":");
        string(out, &self.engine_version);
        out.push(b'}');
    }
}

/// The compact view of an entry (the command line's default listing).
#[derive(Debug, Clone, Serialize)]
pub struct EntryLine {
    pub id: String,
    pub kind: String,
    pub period: String,
    pub amount: String,
    pub currency: String,
    pub created_at: String,
    pub explanation: String,
}

impl From<&EntryView> for EntryLine {
    fn from(v: &EntryView) -> Self {
        EntryLine {
            id: v.id.clone(),
            kind: v.kind.clone(),
            period: v.period.clone(),
            amount: v.amount.clone(),
            currency: v.currency.clone(),
            created_at: v.created_at.clone(),
            explanation: v.explanation.clone(),
        }
    }
}

/// A customer's balance in one currency: every entry's sum, what of it is in an export
/// batch, and the rest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Balance {
    pub currency: String,
    pub total: String,
    pub exported: String,
    pub pending: String,
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
    /// Whether the delta is not zero (an entry appended, or for a dry run, one it would).
    #[serde(skip)]
    pub changes: bool,
}

/// A total per currency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Total {
    pub currency: String,
    pub amount: String,
}

/// A settlement's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SettlementReport {
    /// The recorded settlement (`stl_…`) of a real incident-wide run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub incident_id: Option<String>,
    pub dry_run: bool,
    pub as_of: String,
    /// Customers whose periods were settled.
    pub customers: usize,
    /// (customer, period) targets computed.
    pub periods: usize,
    /// Entries appended; 0 for a dry run, whose lines show the deltas it would append.
    pub entries_appended: usize,
    /// Sum of the deltas per currency (appended, or for a dry run, that would be).
    pub totals: Vec<Total>,
    pub data: Vec<SettlementLine>,
}

/// The prefix of a recorded settlement's public id.
pub const SETTLEMENT_PREFIX: &str = "stl_";

/// A recorded settlement's public id (`stl_7`).
pub fn settlement_id(n: i64) -> String {
    crate::domain::ids::prefixed_id(SETTLEMENT_PREFIX, n)
}

/// Reads a recorded settlement's public id.
pub fn parse_settlement_id(text: &str) -> Option<i64> {
    let digits = text.strip_prefix(SETTLEMENT_PREFIX)?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok().filter(|n| *n > 0)
}

/// A recorded settlement (`GET /v1/settlements/{id}`): who ran it, when, as of which
/// instant, and what it found. `status` is `finished`, or `incomplete` when a batch failed
/// after earlier batches had been written (a re-run settles the rest).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SettlementView {
    pub id: String,
    pub incident_id: String,
    pub status: &'static str,
    pub created_at: String,
    pub created_by: String,
    pub as_of: String,
    pub finished_at: Option<String>,
    pub customers: Option<i64>,
    pub periods: Option<i64>,
    pub entries_appended: Option<i64>,
    pub totals: Vec<Total>,
    pub tzdb_version: String,
    pub engine_version: String,
}

/// The answer of `POST /v1/incidents/{id}/credits`: the report with one page of its lines.
#[derive(Debug, Clone, Serialize)]
pub struct SettlementAnswer {
    /// The recorded settlement; null for a dry run.
    pub id: Option<String>,
    pub incident_id: String,
    pub dry_run: bool,
    pub as_of: String,
    pub customers: usize,
    pub periods: usize,
    pub entries_appended: usize,
    pub totals: Vec<Total>,
    pub data: Vec<SettlementLine>,
    pub has_more: bool,
    pub next_after: Option<String>,
}

/// The filters of `GET /v1/ledger`: customer, kind, and `created_at` in `[from, to)`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LedgerFilter {
    pub customer_id: Option<String>,
    pub kind: Option<EntryKind>,
    pub from: Option<Nanos>,
    pub to: Option<Nanos>,
}

impl LedgerFilter {
    /// Checks the query parameters (each optional).
    pub fn check(
        customer_id: Option<&str>,
        kind: Option<&str>,
        from: Option<&str>,
        to: Option<&str>,
    ) -> Result<LedgerFilter, ValidationErrors> {
        let mut e = Errors::new();
        if let Some(c) = customer_id {
            e.take(check_id(c, "customer_id"));
        }
        let kind =
            kind.and_then(|k| e.take(EntryKind::parse(k).map_err(|m| field_error("kind", m))));
        let from = from.and_then(|t| e.take(check_instant(t, "from")));
        let to = to.and_then(|t| e.take(check_instant(t, "to")));
        e.finish(LedgerFilter {
            customer_id: customer_id.map(str::to_string),
            kind,
            from,
            to,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(odd: bool) -> EntryView {
        let s = |t: &str| t.to_string();
        let policy = RawValue::from_string(
            r#"{"rule":{"kind":"uptime_tiers"},"cap":{"percent":"100"}}"#.into(),
        )
        .expect("json");
        EntryView {
            id: s("cre_12"),
            kind: s("sla_credit"),
            customer_id: s(if odd { "acme \"quoted\"\\" } else { "acme" }),
            period: s("2026-01"),
            amount: s("-12.50"),
            currency: s("USD"),
            incident_ids: if odd {
                vec![s("INC-1"), s("INC\t2")]
            } else {
                vec![]
            },
            reason: odd.then(|| s("=SUM(A1)\nline two ×")),
            reference: odd.then(|| s("ref-1")),
            created_at: s("2026-02-01T00:00:00.000000123Z"),
            created_by: s("billing"),
            reverses: odd.then(|| s("cre_3")),
            reversed_by: None,
            settlement_id: odd.then(|| s("stl_4")),
            export_id: None,
            plan_id: odd.then(|| s("basic")),
            policy_version: odd.then_some(-3),
            rounding: odd.then(|| s("half_up")),
            explanation: s("2 days × 29.00 USD ÷ 31 days = 1.87 USD"),
            breakdown: Arc::new(if odd {
                serde_json::json!({"period": "2026-01", "warnings": ["tier_gap"], "n": 1.5})
            } else {
                Value::Null
            }),
            policy: Arc::from(policy),
            as_of: odd.then(|| s("2026-01-31T23:00:00Z")),
            tzdb_version: s("2025b"),
            engine_version: s("0.1.0"),
        }
    }

    #[test]
    fn an_entry_written_as_serde_json_writes_it() {
        for odd in [false, true] {
            let e = entry(odd);
            let mut ours = Vec::new();
            e.write_json(&mut ours);
            let theirs = serde_json::to_vec(&e).expect("json");
            assert_eq!(
                String::from_utf8_lossy(&ours),
                String::from_utf8_lossy(&theirs)
            );
        }
    }
}
