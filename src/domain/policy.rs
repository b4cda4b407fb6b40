//! SLA policies (docs/rules.md §3–§5): the wire form `PolicySpec` as clients write it, and the
//! checked `Policy` the engine runs. Past `Policy::from_spec`, nobody re-checks a bound.

use chrono_tz::Tz;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::cmp::Ordering;

use super::error::{field_error, Errors, FieldError, Sub, ValidationErrors};
use super::exact::{q_dec, Q};
use super::money::{parse_decimal, parse_money, RoundingMode};
use super::period::PeriodKind;
use super::time::parse_zone;
use std::fmt::Display;

/// A policy as clients write it: scalars stay JSON values so that a decimal is read
/// exactly from its text and every error names its field.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicySpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<RuleSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_percent: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exclusion_mode: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub denominator: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub downtime_unit_seconds: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partial_units: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cap: Option<CapSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub minimum: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rounding: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleSpec {
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tiers: Option<Vec<TierSpec>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub multiplier: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub excess_only: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub days: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub day_basis: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TierSpec {
    pub uptime: String,
    pub credit_percent: Value,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CapSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub percent: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub days: Option<Value>,
}

/// Policy `exclusion_mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ExclusionMode {
    /// Excluded time is not downtime; the denominator is unchanged.
    #[default]
    NotDowntime,
    /// Excluded time also leaves the denominator.
    ShrinkPeriod,
}

/// Policy `denominator`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Denominator {
    #[default]
    Period,
    /// Only time inside the `active` windows counts.
    Active,
}

/// Policy `partial_units`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PartialUnits {
    #[default]
    RoundUp,
    RoundDown,
}

/// `day_basis` of a days rule: the real local days, or 30 a month (90 a quarter).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DayBasis {
    #[default]
    Actual,
    Thirty,
}

/// An interval over uptime percent in interval notation: `[99.0, 99.99)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PercentInterval {
    pub low: Decimal,
    pub low_closed: bool,
    pub high: Decimal,
    pub high_closed: bool,
    /// As the contract wrote it.
    pub text: String,
}

impl PercentInterval {
    pub fn parse(text: &str) -> Result<Self, String> {
        let t = text.trim();
        let err = || format!("{text:?} is not an interval like \"[99.0, 99.99)\"");
        let low_closed = match t.chars().next() {
            Some('[') => true,
            Some('(') => false,
            _ => return Err(err()),
        };
        let high_closed = match t.chars().last() {
            Some(']') => true,
            Some(')') => false,
            _ => return Err(err()),
        };
        let inner = &t[1..t.len() - 1];
        let (a, b) = inner.split_once(',').ok_or_else(err)?;
        let low = parse_decimal(a).map_err(|_| err())?;
        let high = parse_decimal(b).map_err(|_| err())?;
        let hundred = Decimal::ONE_HUNDRED;
        if low < Decimal::ZERO || high > hundred {
            return Err("tier bounds must be within [0, 100]".into());
        }
        if low > high || (low == high && !(low_closed && high_closed)) {
            return Err(format!("{text:?} is empty"));
        }
        Ok(PercentInterval {
            low,
            low_closed,
            high,
            high_closed,
            text: text.to_string(),
        })
    }

    pub fn contains(&self, u: &Q) -> bool {
        let low = q_dec(self.low);
        let high = q_dec(self.high);
        let above_low = match u.cmp(&low) {
            Ordering::Greater => true,
            Ordering::Equal => self.low_closed,
            Ordering::Less => false,
        };
        let below_high = match u.cmp(&high) {
            Ordering::Less => true,
            Ordering::Equal => self.high_closed,
            Ordering::Greater => false,
        };
        above_low && below_high
    }

    /// Every point of the interval is above `u`.
    pub fn lies_above(&self, u: &Q) -> bool {
        let low = q_dec(self.low);
        *u < low || (*u == low && !self.low_closed)
    }

    /// Every point of the interval is below `u`.
    pub fn lies_below(&self, u: &Q) -> bool {
        let high = q_dec(self.high);
        *u > high || (*u == high && !self.high_closed)
    }

    fn overlaps(&self, other: &PercentInterval) -> bool {
        let (a, b) = if (self.low, !self.low_closed) <= (other.low, !other.low_closed) {
            (self, other)
        } else {
            (other, self)
        };
        // a starts first; they overlap when b starts before a ends.
        match b.low.cmp(&a.high) {
            Ordering::Less => true,
            Ordering::Equal => b.low_closed && a.high_closed,
            Ordering::Greater => false,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tier {
    pub uptime: PercentInterval,
    pub credit_percent: Decimal,
}

/// Policy `rule` (docs/rules.md §4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rule {
    UptimeTiers {
        tiers: Vec<Tier>,
    },
    DowntimeMultiple {
        multiplier: Decimal,
        excess_only: bool,
    },
    DaysOfService {
        /// Fixed days granted once per incident; `None` = the affected local days.
        days: Option<u32>,
        day_basis: DayBasis,
    },
}

impl Rule {
    pub fn kind(&self) -> &'static str {
        match self {
            Rule::UptimeTiers { .. } => "uptime_tiers",
            Rule::DowntimeMultiple { .. } => "downtime_multiple",
            Rule::DaysOfService { .. } => "days_of_service",
        }
    }
}

/// A checked policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    pub rule: Rule,
    pub period: PeriodKind,
    pub timezone: Option<Tz>,
    pub target_percent: Option<Decimal>,
    pub exclusion_mode: ExclusionMode,
    pub denominator: Denominator,
    pub downtime_unit_seconds: Option<u32>,
    pub partial_units: PartialUnits,
    pub cap_percent: Decimal,
    pub cap_days: Option<u32>,
    pub minimum: Option<Decimal>,
    pub rounding: RoundingMode,
}

/// Reads a decimal held as a JSON string or number, exactly from its text.
pub fn value_decimal(v: &Value, field: impl Display) -> Result<Decimal, FieldError> {
    let text = match v {
        Value::String(s) => s.as_str(),
        Value::Number(n) => n.as_str(),
        _ => {
            return Err(field_error(
                field.to_string(),
                "must be a decimal string like \"10.5\"",
            ))
        }
    };
    parse_decimal(text).map_err(|m| field_error(field.to_string(), m))
}

/// Reads money (non-negative, at most 10^15) from a JSON string or number.
pub fn value_money(v: &Value, field: impl Display) -> Result<Decimal, FieldError> {
    let text = match v {
        Value::String(s) => s.as_str(),
        Value::Number(n) => n.as_str(),
        _ => {
            return Err(field_error(
                field.to_string(),
                "must be a decimal string like \"49.00\"",
            ))
        }
    };
    parse_money(text).map_err(|m| field_error(field.to_string(), m))
}

/// Reads a whole number in `[low, high]` from a JSON number (or a string holding one). An
/// exactly whole decimal counts (`2.0`, `1E+1`); `1.5` does not (docs/rules.md §5).
pub fn value_whole(v: &Value, field: impl Display, low: u32, high: u32) -> Result<u32, FieldError> {
    let text = match v {
        Value::String(s) => s.as_str(),
        Value::Number(n) => n.as_str(),
        _ => return Err(field_error(field.to_string(), "must be a whole number")),
    };
    let range = || {
        field_error(
            field.to_string(),
            format!("must be a whole number from {low} to {high}"),
        )
    };
    match exact_whole(text.trim()) {
        Some(Whole::Value(n)) if (u64::from(low)..=u64::from(high)).contains(&n) => Ok(n as u32),
        Some(_) => Err(range()),
        None => Err(field_error(
            field.to_string(),
            format!("{text:?} is not a whole number (from {low} to {high})"),
        )),
    }
}

/// What a decimal text is as a whole number.
#[derive(Debug, PartialEq, Eq)]
enum Whole {
    Value(u64),
    /// Whole, but negative or beyond `u64`.
    OutOfRange,
}

/// Reads `[sign] digits [. digits] [(e|E) [sign] digits]` exactly; `None` unless it is a
/// number whose value is a whole number.
fn exact_whole(text: &str) -> Option<Whole> {
    let (negative, body) = match text.as_bytes().first()? {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    let (mantissa, exponent) = match body.find(['e', 'E']) {
        Some(i) => (&body[..i], &body[i + 1..]),
        None => (body, "0"),
    };
    let (int_part, frac_part) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    let exp_digits = exponent.strip_prefix(['+', '-']).unwrap_or(exponent);
    if int_part.len() + frac_part.len() == 0
        || !all_digits(int_part)
        || !all_digits(frac_part)
        || exp_digits.is_empty()
        || !all_digits(exp_digits)
    {
        return None;
    }
    // An exponent beyond any bound only matters for its sign: clamp it.
    let exp_abs: i64 = if exp_digits.trim_start_matches('0').len() > 6 {
        1_000_000
    } else {
        exp_digits.parse().unwrap_or(0)
    };
    let exp = if exponent.starts_with('-') {
        -exp_abs
    } else {
        exp_abs
    };
    let digits: String = format!("{int_part}{frac_part}");
    let digits = digits.trim_start_matches('0');
    if digits.is_empty() {
        return Some(Whole::Value(0));
    }
    // value = digits × 10^(exp − fraction length)
    let mut shift = exp - frac_part.len() as i64;
    let mut digits = digits;
    while shift < 0 {
        digits = digits.strip_suffix('0')?;
        shift += 1;
    }
    if negative {
        return Some(Whole::OutOfRange);
    }
    if digits.len() as i64 + shift > 19 {
        return Some(Whole::OutOfRange);
    }
    let base: u64 = digits.parse().ok()?;
    let value = 10u64
        .checked_pow(shift as u32)
        .and_then(|p| base.checked_mul(p));
    Some(value.map_or(Whole::OutOfRange, Whole::Value))
}

/// A decimal within `[0, high]`.
fn bounded(v: &Value, field: impl Display, high: u32) -> Result<Decimal, FieldError> {
    let d = value_decimal(v, &field)?;
    if d < Decimal::ZERO || d > Decimal::from(high) {
        return Err(field_error(
            field.to_string(),
            format!("must be between 0 and {high}"),
        ));
    }
    Ok(d)
}

fn choice<T>(
    value: &Option<String>,
    field: impl FnOnce() -> String,
    parse: impl Fn(&str) -> Option<T>,
    allowed: &str,
    errors: &mut Errors,
) -> Option<T>
where
    T: Default,
{
    match value {
        None => Some(T::default()),
        Some(s) => match parse(s) {
            Some(v) => Some(v),
            None => {
                errors.push(field(), format!("must be one of {allowed}"));
                None
            }
        },
    }
}

impl Policy {
    /// Checks a policy; `at` is the path of the policy object (`policy`), used in errors.
    pub fn from_spec(spec: &PolicySpec, at: &str) -> Result<Policy, ValidationErrors> {
        let mut e = Errors::new();
        let f = |name: &'static str| Sub(&at, name);

        let target_percent = spec
            .target_percent
            .as_ref()
            .and_then(|v| e.take(bounded(v, f("target_percent"), 100)));
        let rule = match &spec.rule {
            None => {
                e.push(f("rule"), "is required (or name a preset)");
                None
            }
            Some(r) => rule_from_spec(r, &f("rule"), target_percent.is_some(), &mut e),
        };
        let period = choice(
            &spec.period,
            || f("period").into(),
            |s| match s {
                "month" => Some(PeriodKind::Month),
                "quarter" => Some(PeriodKind::Quarter),
                _ => None,
            },
            "month, quarter",
            &mut e,
        );
        let timezone = match &spec.timezone {
            None => None,
            Some(z) => e.take(parse_zone(z).map_err(|m| field_error(f("timezone"), m))),
        };
        let exclusion_mode = choice(
            &spec.exclusion_mode,
            || f("exclusion_mode").into(),
            |s| match s {
                "not_downtime" => Some(ExclusionMode::NotDowntime),
                "shrink_period" => Some(ExclusionMode::ShrinkPeriod),
                _ => None,
            },
            "not_downtime, shrink_period",
            &mut e,
        );
        let denominator = choice(
            &spec.denominator,
            || f("denominator").into(),
            |s| match s {
                "period" => Some(Denominator::Period),
                "active" => Some(Denominator::Active),
                _ => None,
            },
            "period, active",
            &mut e,
        );
        let downtime_unit_seconds = spec
            .downtime_unit_seconds
            .as_ref()
            .and_then(|v| e.take(value_whole(v, f("downtime_unit_seconds"), 1, 86_400)));
        let partial_units = choice(
            &spec.partial_units,
            || f("partial_units").into(),
            |s| match s {
                "round_up" => Some(PartialUnits::RoundUp),
                "round_down" => Some(PartialUnits::RoundDown),
                _ => None,
            },
            "round_up, round_down",
            &mut e,
        );
        let (mut cap_percent, mut cap_days) = (Some(Decimal::ONE_HUNDRED), None);
        if let Some(cap) = &spec.cap {
            if let Some(p) = &cap.percent {
                cap_percent = e.take(bounded(p, f("cap.percent"), 1000));
            }
            if let Some(d) = &cap.days {
                cap_days = e.take(value_whole(d, f("cap.days"), 1, 366));
            }
        }
        let minimum = spec
            .minimum
            .as_ref()
            .and_then(|v| e.take(value_money(v, f("minimum"))));
        let rounding = match &spec.rounding {
            None => Some(RoundingMode::default()),
            Some(s) => e.take(s.parse().map_err(|m: String| field_error(f("rounding"), m))),
        };
        e.into_result()?;
        match (
            rule,
            period,
            exclusion_mode,
            denominator,
            partial_units,
            cap_percent,
            rounding,
        ) {
            (
                Some(rule),
                Some(period),
                Some(exclusion_mode),
                Some(denominator),
                Some(partial_units),
                Some(cap_percent),
                Some(rounding),
            ) => Ok(Policy {
                rule,
                period,
                timezone,
                target_percent,
                exclusion_mode,
                denominator,
                downtime_unit_seconds,
                partial_units,
                cap_percent,
                cap_days,
                minimum,
                rounding,
            }),
            // Every `None` above recorded an error, so this is never reached.
            _ => Err(ValidationErrors::one(at, "is not a valid policy")),
        }
    }

    /// The policy as applied, every default written out: what a stored credit keeps so that
    /// its figure can be recomputed later.
    pub fn to_spec(&self) -> PolicySpec {
        let s = |d: &Decimal| Value::String(d.to_string());
        let rule = match &self.rule {
            Rule::UptimeTiers { tiers } => RuleSpec {
                kind: "uptime_tiers".into(),
                tiers: Some(
                    tiers
                        .iter()
                        .map(|t| TierSpec {
                            uptime: t.uptime.text.clone(),
                            credit_percent: s(&t.credit_percent),
                        })
                        .collect(),
                ),
                ..RuleSpec::default()
            },
            Rule::DowntimeMultiple {
                multiplier,
                excess_only,
            } => RuleSpec {
                kind: "downtime_multiple".into(),
                multiplier: Some(s(multiplier)),
                excess_only: Some(*excess_only),
                ..RuleSpec::default()
            },
            Rule::DaysOfService { days, day_basis } => RuleSpec {
                kind: "days_of_service".into(),
                days: days.map(Value::from),
                day_basis: Some(
                    match day_basis {
                        DayBasis::Actual => "actual",
                        DayBasis::Thirty => "30",
                    }
                    .into(),
                ),
                ..RuleSpec::default()
            },
        };
        PolicySpec {
            rule: Some(rule),
            period: Some(self.period.as_str().into()),
            timezone: self.timezone.map(|z| z.name().to_string()),
            target_percent: self.target_percent.as_ref().map(s),
            exclusion_mode: Some(
                match self.exclusion_mode {
                    ExclusionMode::NotDowntime => "not_downtime",
                    ExclusionMode::ShrinkPeriod => "shrink_period",
                }
                .into(),
            ),
            denominator: Some(
                match self.denominator {
                    Denominator::Period => "period",
                    Denominator::Active => "active",
                }
                .into(),
            ),
            downtime_unit_seconds: self.downtime_unit_seconds.map(Value::from),
            partial_units: Some(
                match self.partial_units {
                    PartialUnits::RoundUp => "round_up",
                    PartialUnits::RoundDown => "round_down",
                }
                .into(),
            ),
            cap: Some(CapSpec {
                percent: Some(s(&self.cap_percent)),
                days: self.cap_days.map(Value::from),
            }),
            minimum: self.minimum.as_ref().map(s),
            rounding: Some(self.rounding.as_str().into()),
        }
    }
}

fn rule_from_spec(
    r: &RuleSpec,
    at: &dyn Display,
    has_target: bool,
    e: &mut Errors,
) -> Option<Rule> {
    let f = |name: &'static str| Sub(at, name);
    let not_for = |e: &mut Errors, present: bool, name: &'static str| {
        if present {
            e.push(f(name), format!("is not used by rule kind {}", r.kind));
        }
    };
    match r.kind.as_str() {
        "uptime_tiers" => {
            not_for(e, r.multiplier.is_some(), "multiplier");
            not_for(e, r.excess_only.is_some(), "excess_only");
            not_for(e, r.days.is_some(), "days");
            not_for(e, r.day_basis.is_some(), "day_basis");
            let Some(specs) = &r.tiers else {
                e.push(f("tiers"), "is required for uptime_tiers");
                return None;
            };
            if specs.is_empty() {
                e.push(f("tiers"), "must list at least one tier");
                return None;
            }
            let mut tiers = Vec::with_capacity(specs.len());
            let mut ok = true;
            for (i, t) in specs.iter().enumerate() {
                let uptime = PercentInterval::parse(&t.uptime)
                    .map_err(|m| field_error(format!("{at}.tiers[{i}].uptime"), m));
                let pct = bounded(
                    &t.credit_percent,
                    format_args!("{at}.tiers[{i}].credit_percent"),
                    1000,
                );
                match (e.take(uptime), e.take(pct)) {
                    (Some(uptime), Some(credit_percent)) => tiers.push(Tier {
                        uptime,
                        credit_percent,
                    }),
                    _ => ok = false,
                }
            }
            if !ok {
                return None;
            }
            for i in 0..tiers.len() {
                for j in (i + 1)..tiers.len() {
                    if tiers[i].uptime.overlaps(&tiers[j].uptime) {
                        e.push(
                            format!("{at}.tiers[{j}].uptime"),
                            format!(
                                "{} overlaps tier {i} {}",
                                tiers[j].uptime.text, tiers[i].uptime.text
                            ),
                        );
                        ok = false;
                    }
                }
            }
            ok.then_some(Rule::UptimeTiers { tiers })
        }
        "downtime_multiple" => {
            not_for(e, r.tiers.is_some(), "tiers");
            not_for(e, r.days.is_some(), "days");
            not_for(e, r.day_basis.is_some(), "day_basis");
            let multiplier = match &r.multiplier {
                None => Some(Decimal::ONE),
                Some(v) => e.take(bounded(v, f("multiplier"), 10_000)),
            };
            let excess_only = r.excess_only.unwrap_or(false);
            if excess_only && !has_target {
                e.push(f("excess_only"), "requires policy target_percent");
                return None;
            }
            multiplier.map(|multiplier| Rule::DowntimeMultiple {
                multiplier,
                excess_only,
            })
        }
        "days_of_service" => {
            not_for(e, r.tiers.is_some(), "tiers");
            not_for(e, r.multiplier.is_some(), "multiplier");
            not_for(e, r.excess_only.is_some(), "excess_only");
            let days = match &r.days {
                None => None,
                Some(v) => Some(e.take(value_whole(v, f("days"), 1, 366))?),
            };
            let day_basis = match r.day_basis.as_deref() {
                None | Some("actual") => DayBasis::Actual,
                Some("30") => DayBasis::Thirty,
                Some(_) => {
                    e.push(f("day_basis"), "must be \"actual\" or \"30\"");
                    return None;
                }
            };
            Some(Rule::DaysOfService { days, day_basis })
        }
        other => {
            e.push(
                f("kind"),
                format!("{other:?} is not one of uptime_tiers, downtime_multiple, days_of_service"),
            );
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_numbers_may_be_written_as_exact_decimals() {
        let read = |t: &str| value_whole(&Value::String(t.into()), "days", 1, 366);
        assert_eq!(read("2"), Ok(2));
        assert_eq!(read("2.0"), Ok(2));
        assert_eq!(read("1E+1"), Ok(10));
        assert_eq!(read("1e1"), Ok(10));
        assert_eq!(read("100E-2"), Ok(1));
        assert_eq!(read("0.366e3"), Ok(366));
        assert!(read("1.5").is_err());
        assert!(read("15E-1").is_err());
        assert!(read("0").is_err());
        assert!(read("367").is_err());
        assert!(read("-2").is_err());
        assert!(read("1E+999999999999").is_err());
        assert!(read("1E-999999999999").is_err());
        assert!(read("two").is_err());
        assert!(read("").is_err());
        assert!(read("1e").is_err());
        assert!(read(".").is_err());
        let number: Value = serde_json::from_str("1E+1").unwrap_or_default();
        assert_eq!(value_whole(&number, "days", 1, 366), Ok(10));
        let number: Value = serde_json::from_str("2.0").unwrap_or_default();
        assert_eq!(value_whole(&number, "days", 1, 366), Ok(2));
    }
}
