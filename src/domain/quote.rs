//! The quote request (`POST /v1/quote`, `sla-credit quote`): its wire form, the checks
//! that turn it into a `CreditInput`, and the response. Every rejected field is named by its path
//! from the request root, e.g. `outages[3].end: must be after start`.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::breakdown::Breakdown;
use super::credit::{CreditInput, CreditResult, Incident};
use super::error::{field_error, Errors, FieldError, ValidationErrors};
use super::fee::{AnnualSplit, BillingCycle, FeeItem, FeeSource, Plan, PlanSegment};
use super::interval::{Span, Window};
use super::money::Currency;
use super::period::PeriodLabel;
use super::policy::{value_decimal, value_money, Policy, PolicySpec};
use super::presets;
use super::time::{parse_instant, parse_zone};
use chrono_tz::Tz;
use rust_decimal::Decimal;

/// At most this many windows (outages, exclusions and active together) per request (§5).
pub const MAX_WINDOWS: usize = 100_000;

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct QuoteRequest {
    pub currency: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan: Option<PlanSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan_history: Option<Vec<PlanSegmentSpec>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fees: Option<Vec<FeeItemSpec>>,
    pub policy: PolicySpec,
    pub outages: Vec<OutageSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exclusions: Option<Vec<WindowSpec>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active: Option<Vec<WindowSpec>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period: Option<String>,
}

/// `{price, billing_cycle, annual_split?}`
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PlanSpec {
    pub price: Value,
    pub billing_cycle: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annual_split: Option<String>,
}

/// `{since, price, billing_cycle, annual_split?}`
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PlanSegmentSpec {
    pub since: String,
    pub price: Value,
    pub billing_cycle: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annual_split: Option<String>,
}

/// `{period, amount}`
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FeeItemSpec {
    pub period: String,
    pub amount: Value,
}

/// `{start, end, impact?}`
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct OutageSpec {
    pub start: String,
    pub end: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub impact: Option<Value>,
}

/// `{start, end}`
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct WindowSpec {
    pub start: String,
    pub end: String,
}

/// The quote response: the total and one breakdown per period (borrowed from the result).
#[derive(Debug, Clone, Serialize)]
pub struct QuoteResponse<'a> {
    pub currency: &'static str,
    pub total: String,
    pub periods: Vec<&'a Breakdown>,
}

impl<'a> From<&'a CreditResult> for QuoteResponse<'a> {
    fn from(r: &'a CreditResult) -> Self {
        QuoteResponse {
            currency: r.currency.code(),
            total: r.currency.format(r.total),
            periods: r.periods.iter().map(|p| &p.breakdown).collect(),
        }
    }
}

/// Reads a quote request from JSON text: parse, resolve a policy preset, check every field.
pub fn parse_quote(text: &str) -> Result<CreditInput, ValidationErrors> {
    if let Some(checked) = check_plain_quote(text.as_bytes()) {
        return checked;
    }
    let value: Value = serde_json::from_str(text)
        .map_err(|e| ValidationErrors::one("body", format!("is not valid JSON: {e}")))?;
    check_quote(value)
}

/// The common request, read straight into its wire form without a JSON tree in between:
/// valid JSON, every field known, and a policy written out rather than named as a preset.
/// `None` for anything else (a preset, a syntax error, an unknown or duplicate field), which
/// [`check_quote`] then reads, so every error is worded as it always is. Both paths give the
/// same request for the same text: a policy that names a preset cannot read as a written one
/// (`preset` is not one of its fields).
pub fn check_plain_quote(bytes: &[u8]) -> Option<Result<CreditInput, ValidationErrors>> {
    // The text is checked to be UTF-8 once, whole: reading bytes, serde_json checks each
    // string on its own, which costs more for many short ones.
    let text = std::str::from_utf8(bytes).ok()?;
    serde_json::from_str::<QuoteRequest>(text)
        .ok()
        .map(|r| r.check())
}

/// Checks a quote request already read as JSON: resolve a policy preset, check every field.
pub fn check_quote(mut value: Value) -> Result<CreditInput, ValidationErrors> {
    let mut preset_error = None;
    if let Some(policy) = value.get_mut("policy") {
        let (resolved, error) = presets::resolve_or_stand_in(policy, "policy");
        *policy = resolved;
        preset_error = error;
    }
    let checked = from_value_at::<QuoteRequest>(value, "").and_then(|r| r.check());
    match (preset_error, checked) {
        (None, checked) => checked,
        (Some(e), Ok(_)) => Err(ValidationErrors(vec![e])),
        (Some(e), Err(mut others)) => {
            others.0.insert(0, e);
            Err(others)
        }
    }
}

/// Deserializes a JSON value, naming the failing field by its path under `at`.
pub fn from_value_at<T: serde::de::DeserializeOwned>(
    value: Value,
    at: &str,
) -> Result<T, ValidationErrors> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let mut path = e.path().to_string();
        if path == "." {
            path.clear();
        }
        let inner = e.into_inner().to_string();
        // Name the field itself for a missing or unknown key.
        let named = ["missing field `", "unknown field `"]
            .iter()
            .find_map(|p| inner.strip_prefix(p))
            .and_then(|rest| rest.split('`').next())
            .map(str::to_string);
        let mut field = join_path(at, &path);
        if let Some(name) = named {
            if !field.ends_with(&name) {
                field = join_path(&field, &name);
            }
        }
        if field.is_empty() {
            field = "body".into();
        }
        let message = inner
            .split(" at line ")
            .next()
            .unwrap_or(&inner)
            .to_string();
        let code = if inner.starts_with("missing field") {
            "required"
        } else if inner.starts_with("unknown field") {
            "unknown_field"
        } else {
            "invalid"
        };
        ValidationErrors::coded(field, code, message)
    })
}

fn join_path(a: &str, b: &str) -> String {
    match (a.is_empty(), b.is_empty()) {
        (true, _) => b.to_string(),
        (false, true) => a.to_string(),
        (false, false) if b.starts_with('[') => format!("{a}{b}"),
        _ => format!("{a}.{b}"),
    }
}

/// Checks a plan's fields; `at` is its path.
pub fn check_plan(
    price: &Value,
    billing_cycle: &str,
    annual_split: Option<&str>,
    at: &str,
    e: &mut Errors,
) -> Option<Plan> {
    let price = e.take(value_money(price, JoinPath(at, "price")));
    let cycle = e.take(
        BillingCycle::parse(billing_cycle)
            .map_err(|m| field_error(join_path(at, "billing_cycle"), m)),
    );
    let split = match annual_split {
        None => Some(AnnualSplit::default()),
        Some(s) => {
            e.take(AnnualSplit::parse(s).map_err(|m| field_error(join_path(at, "annual_split"), m)))
        }
    };
    Some(Plan {
        price: price?,
        billing_cycle: cycle?,
        annual_split: split?,
    })
}

/// `a.b`, or `b` alone under the root: [`join_path`] written out only when an error names it.
struct JoinPath<'a>(&'a str, &'a str);

impl std::fmt::Display for JoinPath<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            "" => f.write_str(self.1),
            a => write!(f, "{a}.{}", self.1),
        }
    }
}

/// Checks a `[start, end)` pair; `at` is the window's path (written out only for an error).
pub fn check_span(
    start: &str,
    end: &str,
    at: impl std::fmt::Display,
    e: &mut Errors,
) -> Option<Span> {
    let s = e.take(parse_instant(start).map_err(|m| field_error(format!("{at}.start"), m)));
    let t = e.take(parse_instant(end).map_err(|m| field_error(format!("{at}.end"), m)));
    let (s, t) = (s?, t?);
    match Span::new(s, t) {
        Some(span) => Some(span),
        None => {
            e.push(format!("{at}.end"), "must be after start");
            None
        }
    }
}

/// An impact in (0, 1]; absent means 1.
pub fn check_impact(v: Option<&Value>, at: impl std::fmt::Display) -> Result<Decimal, FieldError> {
    match v {
        None => Ok(Decimal::ONE),
        Some(v) => {
            let d = value_decimal(v, &at)?;
            if d <= Decimal::ZERO || d > Decimal::ONE {
                return Err(field_error(
                    at.to_string(),
                    "must be greater than 0 and at most 1",
                ));
            }
            Ok(d.normalize())
        }
    }
}

impl QuoteRequest {
    /// Every check of docs/rules.md §1–§5; all problems are listed together.
    pub fn check(&self) -> Result<CreditInput, ValidationErrors> {
        let mut e = Errors::new();
        let currency =
            e.take(Currency::parse(&self.currency).map_err(|m| field_error("currency", m)));
        let timezone = match &self.timezone {
            None => Some(chrono_tz::UTC),
            Some(z) => e.take(parse_zone(z).map_err(|m| field_error("timezone", m))),
        };
        let policy = match Policy::from_spec(&self.policy, "policy") {
            Ok(p) => Some(p),
            Err(ValidationErrors(list)) => {
                for fe in list {
                    e.push(fe.field, fe.message);
                }
                None
            }
        };

        let given: Vec<&str> = [
            ("plan", self.plan.is_some()),
            ("plan_history", self.plan_history.is_some()),
            ("fees", self.fees.is_some()),
        ]
        .iter()
        .filter(|(_, present)| *present)
        .map(|(name, _)| *name)
        .collect();
        let fees = match given.as_slice() {
            [] => {
                e.push(
                    "plan",
                    "one fee source is required: plan, plan_history or fees",
                );
                None
            }
            [_] => self.check_fees(zone_of(&self.policy, timezone), &mut e),
            [.., last] => {
                e.push(
                    *last,
                    format!("give exactly one fee source, not {}", given.join(" and ")),
                );
                None
            }
        };

        let window_count = self.outages.len()
            + self.exclusions.as_ref().map_or(0, Vec::len)
            + self.active.as_ref().map_or(0, Vec::len);
        if window_count > MAX_WINDOWS {
            e.push(
                "outages",
                format!("at most {MAX_WINDOWS} windows (outages, exclusions and active together), got {window_count}"),
            );
            return Err(finish_errors(e));
        }
        let mut windows = Vec::with_capacity(self.outages.len());
        for (i, o) in self.outages.iter().enumerate() {
            let span = check_span(&o.start, &o.end, format_args!("outages[{i}]"), &mut e);
            let impact = e.take(check_impact(
                o.impact.as_ref(),
                format_args!("outages[{i}].impact"),
            ));
            if let (Some(span), Some(impact)) = (span, impact) {
                windows.push(Window { span, impact });
            }
        }
        let spans = |list: &Option<Vec<WindowSpec>>, name: &str, e: &mut Errors| {
            list.as_ref().map(|l| {
                l.iter()
                    .enumerate()
                    .filter_map(|(i, w)| {
                        check_span(&w.start, &w.end, format_args!("{name}[{i}]"), e)
                    })
                    .collect::<Vec<Span>>()
            })
        };
        let exclusions = spans(&self.exclusions, "exclusions", &mut e).unwrap_or_default();
        let active = spans(&self.active, "active", &mut e);

        let zone = match (&policy, timezone) {
            (Some(p), Some(tz)) => Some(p.timezone.unwrap_or(tz)),
            _ => None,
        };
        let period = match (&self.period, &policy, zone) {
            (Some(label), Some(policy), Some(zone)) => check_period(label, policy, zone, &mut e),
            _ => None,
        };

        let (Some(currency), Some(timezone), Some(policy), Some(fees)) =
            (currency, timezone, policy, fees)
        else {
            return Err(finish_errors(e));
        };
        if !e.is_empty() {
            return Err(finish_errors(e));
        }
        let zone = policy.timezone.unwrap_or(timezone);
        // `period` names where a fixed-days grant lands when there is no outage (docs/rules.md §5); with
        // outages, the periods they touch are the result.
        let period = period.filter(|_| windows.is_empty());
        let incidents = match windows.iter().map(|w| w.span.start).min() {
            Some(start) => vec![Incident { start, windows }],
            None => match period {
                Some(p) => vec![Incident {
                    start: p.in_zone(zone).start,
                    windows: Vec::new(),
                }],
                None => Vec::new(),
            },
        };
        Ok(CreditInput {
            currency,
            timezone,
            fees,
            policy,
            incidents,
            exclusions,
            active,
            periods: period.into_iter().collect(),
        })
    }

    /// The fee source; `zone` (when known) places invoiced periods, which must overlap the
    /// accepted instants there.
    fn check_fees(&self, zone: Option<Tz>, e: &mut Errors) -> Option<FeeSource> {
        if let Some(plan) = &self.plan {
            return check_plan(
                &plan.price,
                &plan.billing_cycle,
                plan.annual_split.as_deref(),
                "plan",
                e,
            )
            .map(FeeSource::Plan);
        }
        if let Some(history) = &self.plan_history {
            if history.is_empty() {
                e.push("plan_history", "must list at least one plan");
                return None;
            }
            let mut segments = Vec::with_capacity(history.len());
            let mut seen = BTreeSet::new();
            for (i, s) in history.iter().enumerate() {
                let at = format!("plan_history[{i}]");
                let since = e.take(
                    parse_instant(&s.since).map_err(|m| field_error(format!("{at}.since"), m)),
                );
                let plan = check_plan(
                    &s.price,
                    &s.billing_cycle,
                    s.annual_split.as_deref(),
                    &at,
                    e,
                );
                if let Some(since) = since {
                    if !seen.insert(since) {
                        e.push(format!("{at}.since"), "two plans start at the same instant");
                    }
                }
                if let (Some(since), Some(plan)) = (since, plan) {
                    segments.push(PlanSegment { since, plan });
                }
            }
            segments.sort_by_key(|s| s.since);
            return e.is_empty().then_some(FeeSource::History(segments));
        }
        if let Some(items) = &self.fees {
            let mut out = Vec::with_capacity(items.len());
            let mut months: BTreeSet<PeriodLabel> = BTreeSet::new();
            for (i, item) in items.iter().enumerate() {
                let at = format!("fees[{i}]");
                let parsed = match zone {
                    Some(tz) => PeriodLabel::parse_in_zone(&item.period, tz),
                    None => PeriodLabel::parse(&item.period),
                };
                let period = e.take(parsed.map_err(|m| field_error(format!("{at}.period"), m)));
                let amount = e.take(value_money(&item.amount, format!("{at}.amount")));
                if let Some(p) = period {
                    if p.months().iter().any(|m| !months.insert(*m)) {
                        e.push(
                            format!("{at}.period"),
                            format!("{} overlaps another fee item", item.period),
                        );
                    }
                }
                if let (Some(period), Some(amount)) = (period, amount) {
                    out.push(FeeItem { period, amount });
                }
            }
            return Some(FeeSource::Fees(out));
        }
        None
    }
}

/// The request's `period`: a label of the policy's kind overlapping the accepted instants in
/// the zone of the computation (docs/rules.md §1, §5).
fn check_period(label: &str, policy: &Policy, zone: Tz, e: &mut Errors) -> Option<PeriodLabel> {
    match PeriodLabel::parse_in_zone(label, zone) {
        Ok(p) if p.kind() == policy.period => Some(p),
        Ok(_) => {
            let example = match policy.period {
                super::period::PeriodKind::Month => "2026-01",
                super::period::PeriodKind::Quarter => "2026-Q1",
            };
            e.push(
                "period",
                format!(
                    "{label:?} is not a {} label like {example}",
                    policy.period.as_str()
                ),
            );
            None
        }
        Err(m) => {
            e.push("period", m);
            None
        }
    }
}

/// The zone of the calendar units: the policy's `timezone` when it names a valid one, else the
/// request's (docs/rules.md §1).
fn zone_of(policy: &PolicySpec, timezone: Option<Tz>) -> Option<Tz> {
    match &policy.timezone {
        Some(z) => parse_zone(z).ok(),
        None => timezone,
    }
}

fn finish_errors(e: Errors) -> ValidationErrors {
    match e.into_result() {
        Err(v) => v,
        Ok(()) => ValidationErrors::one("body", "is not a valid quote request"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn general(text: &str) -> Result<CreditInput, ValidationErrors> {
        check_quote(serde_json::from_str(text).expect("valid JSON"))
    }

    #[test]
    fn a_written_policy_reads_the_same_by_either_path() {
        // The fixtures are compiled in: the domain does no I/O, not even in its tests.
        for (name, text) in [
            (
                "olark-2-days",
                include_str!("../../fixtures/requests/olark-2-days.json"),
            ),
            (
                "la-march-743h",
                include_str!("../../fixtures/requests/la-march-743h.json"),
            ),
            (
                "maintenance-excluded",
                include_str!("../../fixtures/requests/maintenance-excluded.json"),
            ),
        ] {
            let plain = check_plain_quote(text.as_bytes()).expect("a plain request");
            assert_eq!(plain, general(text), "{name}");
            assert!(plain.is_ok(), "{name}");
        }
        // A plain request whose values are wrong is checked on this path, worded the same.
        let wrong = r#"{"currency": "USD", "plan": {"price": "-1", "billing_cycle": "monthly"},
            "policy": {"rule": {"kind": "days_of_service", "days": 2}},
            "outages": [{"start": "2024-01-16T05:06:00Z", "end": "2024-01-16T04:00:00Z"}]}"#;
        let plain = check_plain_quote(wrong.as_bytes()).expect("well formed");
        assert_eq!(plain, general(wrong));
        assert!(plain.is_err());
    }

    #[test]
    fn presets_unknown_fields_and_bad_json_take_the_general_path() {
        let outages =
            r#""outages": [{"start": "2024-01-16T05:06:00Z", "end": "2024-01-16T19:00:00Z"}]"#;
        let plan = r#""plan": {"price": "29.00", "billing_cycle": "monthly"}"#;
        for text in [
            format!(r#"{{"currency": "USD", {plan}, "policy": "atlassian", {outages}}}"#),
            format!(
                r#"{{"currency": "USD", {plan}, "policy": {{"preset": "atlassian"}}, {outages}}}"#
            ),
            format!(
                r#"{{"currency": "USD", {plan}, "policy": {{"rule": {{"kind": "days_of_service", "days": 2}}}}, {outages}, "colour": 1}}"#
            ),
            format!(
                r#"{{"currency": "USD", "currency": "EUR", {plan}, "policy": {{"rule": {{"kind": "days_of_service", "days": 2}}}}, {outages}}}"#
            ),
            r#"{"currency": "USD","#.to_string(),
        ] {
            assert!(check_plain_quote(text.as_bytes()).is_none(), "{text}");
        }
    }
}
