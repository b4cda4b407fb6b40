//! Settlement arithmetic (docs/rules.md §6): credits are owed per (customer, period); a
//! settlement appends only the difference between the target and what is already booked.
//! The store decides what is booked; the figures are decided here.

use chrono_tz::Tz;
use rust_decimal::Decimal;

use super::exact::{q_int, round_q, Q};
use super::fee::{FeeSchedule, FeeSource};
use super::interval::Span;
use super::money::{Currency, RoundingMode};
use super::period::PeriodLabel;

/// Exact sum of amounts; `None` on overflow (impossible within the bounds of docs/rules.md §5 for any
/// realistic ledger: 10^12 entries of 10^16).
pub fn sum_amounts<'a>(amounts: impl IntoIterator<Item = &'a Decimal>) -> Option<Decimal> {
    amounts
        .into_iter()
        .try_fold(Decimal::ZERO, |acc, a| acc.checked_add(*a))
}

/// The `sla_credit` entry a settlement appends: target − booked, or nothing when they agree.
pub fn settlement_delta(target: Decimal, booked_sla_credits: &[Decimal]) -> Option<Decimal> {
    let booked = sum_amounts(booked_sla_credits)?;
    let delta = target.checked_sub(booked)?;
    (!delta.is_zero()).then_some(delta)
}

/// The fee of one period (integral of the rate over it), exact.
pub fn period_fee(fees: &FeeSource, tz: Tz, label: PeriodLabel) -> Q {
    let zp = label.in_zone(tz);
    match Span::new(zp.start, zp.end) {
        Some(span) => FeeSchedule::build(fees, tz, span).fee_over(span),
        None => Q::default(),
    }
}

/// Goodwill of N days (§6): N ÷ days in period × period fee, rounded once.
pub fn goodwill_days(
    fees: &FeeSource,
    tz: Tz,
    label: PeriodLabel,
    days: u32,
    currency: Currency,
    rounding: RoundingMode,
) -> Option<Decimal> {
    let zp = label.in_zone(tz);
    let days_in_period = zp.local_days(tz);
    if days_in_period == 0 {
        return Some(Decimal::new(0, currency.minor_units()));
    }
    let exact = period_fee(fees, tz, label) * q_int(days) / q_int(days_in_period);
    round_q(&exact, currency.minor_units(), rounding)
}

/// A goodwill gesture, figured: the amount and the sentence that explains it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Goodwill {
    pub amount: Decimal,
    pub explanation: String,
}

/// Goodwill of N days of a period's fee, with its explanation:
/// `Goodwill: 2 days × 29.00 USD ÷ 31 days = 1.87 USD` (the fee shown rounded half-up to the
/// minor unit; the amount is the exact figure rounded once by the policy's mode). `None` when
/// the figure leaves the supported range.
pub fn goodwill_of_days(
    fees: &FeeSource,
    tz: Tz,
    label: PeriodLabel,
    days: u32,
    currency: Currency,
    rounding: RoundingMode,
) -> Option<Goodwill> {
    let amount = goodwill_days(fees, tz, label, days, currency, rounding)?;
    let fee = round_q(
        &period_fee(fees, tz, label),
        currency.minor_units(),
        RoundingMode::HalfUp,
    )?;
    let days_in_period = label.in_zone(tz).local_days(tz);
    let explanation = format!(
        "Goodwill: {days} {} × {} {c} ÷ {days_in_period} days = {} {c}",
        if days == 1 { "day" } else { "days" },
        currency.format(fee),
        currency.format(amount),
        c = currency.code()
    );
    Some(Goodwill {
        amount,
        explanation,
    })
}

/// Goodwill of a plain amount, with its explanation: `Goodwill: 25.00 USD`.
pub fn goodwill_of_amount(amount: Decimal, currency: Currency) -> Goodwill {
    Goodwill {
        amount,
        explanation: format!("Goodwill: {} {}", currency.format(amount), currency.code()),
    }
}

/// The explanation of a reversal: `Reversal of cre_7: -1.87 USD`.
pub fn reversal_explanation(original_id: &str, amount: Decimal, currency: Currency) -> String {
    format!(
        "Reversal of {original_id}: {} {}",
        currency.format(amount),
        currency.code()
    )
}

/// The explanation of a settlement entry: the period's own line, and when something was
/// already booked, how this entry relates to it.
pub fn delta_explanation(
    target_explanation: &str,
    booked: Decimal,
    delta: Decimal,
    currency: Currency,
) -> String {
    if booked.is_zero() {
        target_explanation.to_string()
    } else {
        format!(
            "{target_explanation}; {} {c} already booked, this entry: {} {c}",
            currency.format(booked),
            currency.format(delta),
            c = currency.code()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delta_is_target_minus_booked() {
        let d = |s: &str| s.parse::<Decimal>().unwrap_or_default();
        assert_eq!(
            settlement_delta(d("100.00"), &[d("60.00")]),
            Some(d("40.00"))
        );
        assert_eq!(
            settlement_delta(d("100.00"), &[d("60.00"), d("40.00")]),
            None
        );
        assert_eq!(
            settlement_delta(d("50.00"), &[d("100.00")]),
            Some(d("-50.00"))
        );
    }
}
