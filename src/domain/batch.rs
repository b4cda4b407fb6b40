//! Many customers, one incident (issue 2, benchmark c): customers who share a zone, a policy, a
//! plan shape and the same windows differ only by price, and every rule of §4 and both caps are
//! linear in the fee. So the engine runs once per (zone, policy, plan shape) at a price of 1,
//! and each customer costs one exact multiplication, the minimum check and one rounding.

use rust_decimal::Decimal;

use super::credit::{compute, CreditInput, CreditResult};
use super::error::ValidationErrors;
use super::exact::{q_dec, round_q, round_ratio, Q};
use super::fee::{FeeSource, Plan};
use super::money::{Currency, RoundingMode};
use super::period::PeriodLabel;

/// One period's credit per unit of price.
#[derive(Debug, Clone)]
pub struct PeriodFactor {
    pub label: PeriodLabel,
    /// Exact capped credit at a price of 1.
    pub per_unit: Q,
}

/// The shared part of many customers' quotes.
#[derive(Debug, Clone)]
pub struct SharedQuote {
    pub currency: Currency,
    pub rounding: RoundingMode,
    pub minimum: Option<Decimal>,
    pub periods: Vec<PeriodFactor>,
    /// The computation at a price of 1: its breakdowns show the shared figures.
    pub unit_result: CreditResult,
}

impl SharedQuote {
    /// Runs the engine once for a plan shape at a price of 1. `input.fees` must be a plan; its
    /// price is ignored.
    pub fn prepare(input: &CreditInput) -> Result<SharedQuote, ValidationErrors> {
        let FeeSource::Plan(plan) = &input.fees else {
            return Err(ValidationErrors::one(
                "fees",
                "a shared quote needs a plan (prices scale it)",
            ));
        };
        let mut unit = input.clone();
        unit.fees = FeeSource::Plan(Plan {
            price: Decimal::ONE,
            ..*plan
        });
        // The minimum is not linear in the price: it is applied per customer.
        unit.policy.minimum = None;
        let unit_result = compute(&unit)?;
        let periods = unit_result
            .periods
            .iter()
            .map(|p| PeriodFactor {
                label: p.label,
                per_unit: p.capped_exact.clone(),
            })
            .collect();
        Ok(SharedQuote {
            currency: input.currency,
            rounding: input.policy.rounding,
            minimum: input.policy.minimum,
            periods,
            unit_result,
        })
    }

    /// The rounded credit of period `index` for a customer paying `price`.
    pub fn credit(&self, index: usize, price: Decimal) -> Decimal {
        let Some(factor) = self.periods.get(index) else {
            return Decimal::ZERO;
        };
        let minor = self.currency.minor_units();
        // Nearly every customer: price × n ÷ d in machine integers, one division, no gcd.
        if let (None, Some((n, d))) = (self.minimum, factor.per_unit.as_small()) {
            let small = price
                .mantissa()
                .checked_mul(n)
                .zip(
                    10i128
                        .checked_pow(price.scale())
                        .and_then(|s| d.checked_mul(s)),
                )
                .and_then(|(num, den)| round_ratio(num, den, minor, self.rounding));
            if let Some(credit) = small {
                return credit;
            }
        }
        let exact = q_dec(price) * &factor.per_unit;
        let exact = match self.minimum {
            Some(min) if exact <= q_dec(min) => Q::zero(),
            _ => exact,
        };
        round_q(&exact, minor, self.rounding).unwrap_or(Decimal::ZERO)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::quote::parse_quote;

    #[test]
    fn shared_quote_equals_the_full_engine_for_every_price() {
        let request = |price: &str, minimum: &str| {
            format!(
                r#"{{"currency":"USD","timezone":"America/Los_Angeles",
                "plan":{{"price":"{price}","billing_cycle":"monthly"}},
                "policy":{{"rule":{{"kind":"downtime_multiple","multiplier":"10"}},"minimum":"{minimum}","rounding":"half_even"}},
                "outages":[{{"start":"2026-03-08T09:30:00Z","end":"2026-03-08T11:00:00Z"}},
                           {{"start":"2026-03-31T23:00:00Z","end":"2026-04-01T09:00:00Z"}}]}}"#
            )
        };
        for minimum in ["0", "3.00"] {
            let shared = parse_quote(&request("1", minimum))
                .and_then(|i| SharedQuote::prepare(&i))
                .expect("prepare");
            for price in [
                "7430.00",
                "29.00",
                "0.01",
                "123456789.12",
                "1000000000000000",
            ] {
                let full = parse_quote(&request(price, minimum))
                    .and_then(|i| compute(&i))
                    .expect("compute");
                let p: Decimal = price.parse().expect("price");
                for (i, period) in full.periods.iter().enumerate() {
                    assert_eq!(
                        shared.credit(i, p),
                        period.credit,
                        "{price} {}",
                        period.label
                    );
                }
            }
        }
    }
}
