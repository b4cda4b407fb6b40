//! The breakdown of a period's credit (docs/rules.md §7): every figure a support agent may read to
//! a customer, and the one-line explanation.

use std::fmt::Write;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::exact::{display_truncated, q_int, round_q, Q};
use super::money::{Currency, RoundingMode};
use super::policy::{Policy, Rule};

/// What a period's credit is made of. Figures are decimal strings: seconds and
/// percents exact up to 28 significant digits, money with at least the minor digits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Breakdown {
    pub period: String,
    pub start: String,
    pub end: String,
    pub start_utc: String,
    pub end_utc: String,
    pub timezone: String,
    pub period_seconds: String,
    pub denominator_seconds: String,
    pub outage_seconds: String,
    pub excluded_seconds: String,
    pub downtime_seconds: String,
    pub uptime_percent: String,
    pub rule: String,
    pub tier: Option<String>,
    pub credit_percent: Option<String>,
    pub affected_days: Option<u32>,
    pub days_in_period: Option<u32>,
    pub days_credited: Option<u32>,
    pub fee: String,
    pub fee_during_downtime: String,
    pub uncapped_credit: String,
    pub capped_credit: String,
    pub credit: String,
    pub currency: String,
    pub rounding: String,
    pub warnings: Vec<String>,
    pub explanation: String,
}

/// The figures the explanation is written from.
pub(crate) struct Explained<'a> {
    pub policy: &'a Policy,
    pub currency: Currency,
    pub uptime: &'a Q,
    pub downtime_ns: &'a Q,
    pub fee: &'a Q,
    pub fee_during_downtime: &'a Q,
    pub tier: Option<&'a str>,
    pub credit_percent: Option<Decimal>,
    pub days_credited: Option<u32>,
    pub days_in_period: Option<u32>,
    pub uncapped: &'a Q,
    pub capped: &'a Q,
    pub cap_applied: bool,
    pub below_minimum: bool,
    pub credit: Decimal,
}

/// An amount rounded half-up to its currency's minor unit, shown with its code
/// (`29.00 USD`): written into the line, not into a string of its own first.
struct Money {
    amount: Decimal,
    currency: Currency,
}

impl Money {
    fn half_up(q: &Q, currency: Currency) -> Money {
        let mut amount =
            round_q(q, currency.minor_units(), RoundingMode::HalfUp).unwrap_or_default();
        amount.rescale(currency.minor_units());
        Money { amount, currency }
    }
}

impl std::fmt::Display for Money {
    // `Decimal`'s `Display` without its general machinery ([`super::money::write_decimal`]).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        super::money::write_decimal(f, self.amount)?;
        f.write_char(' ')?;
        f.write_str(self.currency.code())
    }
}

/// One line a support agent can read to a customer, e.g.
/// `2 days × 29.00 USD ÷ 31 days = 1.87 USD`.
pub(crate) fn explain(e: &Explained<'_>) -> String {
    let c = e.currency;
    let money = |q: &Q| Money::half_up(q, c);
    // Each line needs only some of these: they are worked out when it asks.
    let uptime = || format!("{}%", display_truncated(e.uptime, 4));
    let minutes = || display_truncated(&(e.downtime_ns / q_int(60_000_000_000i64)), 2);
    let no_credit = || format!("no credit ({})", money(&Q::default()));
    let target = e.policy.target_percent.map(|t| t.normalize().to_string());
    let mut line = match &e.policy.rule {
        Rule::UptimeTiers { .. } => match (e.tier, e.credit_percent) {
            (Some(tier), Some(p)) => format!(
                "Uptime {} is in tier {tier}: {}% × {} = {}",
                uptime(),
                p.normalize(),
                money(e.fee),
                money(e.uncapped)
            ),
            _ => format!("Uptime {} is in no credit tier: {}", uptime(), no_credit()),
        },
        Rule::DowntimeMultiple {
            multiplier,
            excess_only,
        } => {
            if e.uncapped == &Q::default() {
                match &target {
                    Some(t) if e.downtime_ns > &Q::default() => {
                        format!("Uptime {} meets the {t}% target: {}", uptime(), no_credit())
                    }
                    _ => format!("{} min of counted downtime: {}", minutes(), no_credit()),
                }
            } else if *excess_only {
                format!(
                    "{} min of counted downtime, the part beyond the {}% allowance: {} × {} = {}",
                    minutes(),
                    target.unwrap_or_default(),
                    money(&(e.uncapped / multiplier_q(*multiplier))),
                    multiplier.normalize(),
                    money(e.uncapped)
                )
            } else {
                format!(
                    "{} min of counted downtime cost {} of fees × {} = {}",
                    minutes(),
                    money(e.fee_during_downtime),
                    multiplier.normalize(),
                    money(e.uncapped)
                )
            }
        }
        Rule::DaysOfService { .. } => {
            let n = e.days_credited.unwrap_or(0);
            let dip = e.days_in_period.unwrap_or(0);
            match (&target, n) {
                (Some(t), 0) if e.downtime_ns > &Q::default() => {
                    format!("Uptime {} meets the {t}% target: {}", uptime(), no_credit())
                }
                _ => format!(
                    "{n} {} × {} ÷ {dip} days = {}",
                    if n == 1 { "day" } else { "days" },
                    money(e.fee),
                    money(e.uncapped)
                ),
            }
        }
    };
    if e.cap_applied {
        line.push_str(&format!(", capped at {}", money(e.capped)));
    }
    if e.below_minimum {
        if let Some(min) = e.policy.minimum {
            line.push_str(&format!(
                ", not above the {} {} minimum: {} {}",
                min,
                c.code(),
                c.format(e.credit),
                c.code()
            ));
        }
    }
    line
}

fn multiplier_q(m: Decimal) -> Q {
    let q = super::exact::q_dec(m);
    if q == Q::default() {
        q_int(1)
    } else {
        q
    }
}
