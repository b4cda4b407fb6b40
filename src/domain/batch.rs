//! Many customers, one incident (docs/restitution.md, settlement speed): customers who share a zone, a policy, a
//! plan shape and the same windows differ only by price, and every rule of §4 and both caps are
//! linear in the fee. So the engine runs once per (zone, policy, plan shape) at a price of 1,
//! and each customer costs one exact multiplication, the minimum check and one rounding.

use rust_decimal::Decimal;

use super::credit::{
    compute, compute_figures, CreditInput, CreditResult, PeriodCredit, PeriodFigures,
};
use super::error::ValidationErrors;
use super::exact::{q_dec, round_q, round_ratio, Q};
use super::fee::{FeeSource, Plan, PlanSegment};
use super::money::{Currency, RoundingMode};
use super::period::PeriodLabel;
use super::policy::Policy;

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
    /// Runs the engine once for a plan shape at a price of 1. `input.fees` must be a plan, or
    /// a plan history of one segment (a customer who has been on one plan version since an
    /// instant); its price is ignored.
    pub fn prepare(input: &CreditInput) -> Result<SharedQuote, ValidationErrors> {
        let unit = unit_input(input)?;
        let unit_result = compute(&unit)?;
        Ok(SharedQuote::from_unit(input, unit_result))
    }

    fn from_unit(input: &CreditInput, unit_result: CreditResult) -> SharedQuote {
        let periods = unit_result
            .periods
            .iter()
            .map(|p| PeriodFactor {
                label: p.label,
                per_unit: p.capped_exact.clone(),
            })
            .collect();
        SharedQuote {
            currency: input.currency,
            rounding: input.policy.rounding,
            minimum: input.policy.minimum,
            periods,
            unit_result,
        }
    }

    /// The index of a period's factor.
    pub fn index_of(&self, label: PeriodLabel) -> Option<usize> {
        self.periods.iter().position(|p| p.label == label)
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

/// The input at a price of 1 and without the minimum (not linear in the price: it is applied
/// per customer). `input.fees` must be a plan, or a plan history of one segment.
fn unit_input(input: &CreditInput) -> Result<CreditInput, ValidationErrors> {
    let mut unit = input.clone();
    unit.fees = match &input.fees {
        FeeSource::Plan(plan) => FeeSource::Plan(Plan {
            price: Decimal::ONE,
            ..*plan
        }),
        FeeSource::History(segments) if segments.len() == 1 => {
            FeeSource::History(vec![PlanSegment {
                since: segments[0].since,
                plan: Plan {
                    price: Decimal::ONE,
                    ..segments[0].plan
                },
            }])
        }
        _ => {
            return Err(ValidationErrors::one(
                "fees",
                "a shared quote needs one plan (prices scale it)",
            ))
        }
    };
    unit.policy.minimum = None;
    Ok(unit)
}

/// A [`SharedQuote`] that also gives each customer's whole period credit — the credit and the
/// breakdown (docs/rules.md §7) — at their price: the unit figures scaled exactly by the price,
/// then the minimum, the rounding and the text, rendered by the same code as the engine's. So
/// an appended entry keeps its own breakdown without a run of the engine per customer.
#[derive(Debug, Clone)]
pub struct PricedQuote {
    pub quote: SharedQuote,
    policy: Policy,
    figures: Vec<PeriodFigures>,
}

impl PricedQuote {
    /// One engine run at a price of 1 (see [`SharedQuote::prepare`]).
    pub fn prepare(input: &CreditInput) -> Result<PricedQuote, ValidationErrors> {
        let unit = unit_input(input)?;
        let figures = compute_figures(&unit)?;
        let periods = figures
            .iter()
            .map(|f| f.render(&unit.policy, unit.currency, None))
            .collect::<Result<Vec<_>, _>>()?;
        let mut total = Decimal::new(0, unit.currency.minor_units());
        for p in &periods {
            total += p.credit;
        }
        let unit_result = CreditResult {
            currency: unit.currency,
            total,
            periods,
        };
        Ok(PricedQuote {
            quote: SharedQuote::from_unit(input, unit_result),
            policy: input.policy.clone(),
            figures,
        })
    }

    /// Period `index`'s credit and breakdown for a customer paying `price`: exactly what the
    /// engine gives at that price.
    pub fn period(&self, index: usize, price: Decimal) -> Result<PeriodCredit, ValidationErrors> {
        let f = self
            .figures
            .get(index)
            .ok_or_else(|| ValidationErrors::one("period", "no such period"))?;
        f.render(&self.policy, self.quote.currency, Some(&q_dec(price)))
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

    /// Random custom prices, several policies and both fee forms (a plan, and a one-segment
    /// plan history): the shared credit equals the single-quote engine's, exactly.
    #[test]
    fn shared_quote_equals_the_engine_for_random_custom_prices() {
        let policies = [
            r#"{"rule":{"kind":"uptime_tiers","tiers":[{"uptime":"[99.0, 99.99)","credit_percent":"10"},{"uptime":"[0, 99.0)","credit_percent":"30"}]},"cap":{"days":1}}"#,
            r#"{"rule":{"kind":"days_of_service","days":2,"day_basis":"actual"},"rounding":"up"}"#,
            r#"{"rule":{"kind":"days_of_service"},"target_percent":"99.9","rounding":"down"}"#,
            r#"{"rule":{"kind":"downtime_multiple","multiplier":"25","excess_only":true},"target_percent":"99.5","minimum":"1.00"}"#,
            r#"{"rule":{"kind":"downtime_multiple","multiplier":"10"},"cap":{"percent":"15"},"rounding":"half_even"}"#,
        ];
        let fees = |price: &str, history: bool| {
            if history {
                format!(
                    r#""plan_history":[{{"since":"2026-02-10T00:00:00Z","price":"{price}","billing_cycle":"annual","annual_split":"days"}}]"#
                )
            } else {
                format!(r#""plan":{{"price":"{price}","billing_cycle":"quarterly"}}"#)
            }
        };
        let request = |price: &str, history: bool, policy: &str| {
            format!(
                r#"{{"currency":"KWD","timezone":"Asia/Kolkata",{},"policy":{policy},
                "outages":[{{"start":"2026-03-08T09:30:00Z","end":"2026-03-08T21:07:13Z","impact":"0.7"}},
                           {{"start":"2026-03-31T23:00:00Z","end":"2026-04-01T09:00:00Z"}}]}}"#,
                fees(price, history)
            )
        };
        let mut seed: u64 = 0x5eed_1234_abcd_0001;
        let mut next = || {
            seed = seed
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            seed >> 11
        };
        for policy in policies {
            for history in [false, true] {
                let shared = parse_quote(&request("1", history, policy))
                    .and_then(|i| SharedQuote::prepare(&i))
                    .expect("prepare");
                for _ in 0..40 {
                    // KWD has 3 minor digits: prices from 0.001 to 10^9.
                    let minor = 1 + next() % 1_000_000_000_000;
                    let price = Decimal::new(i64::try_from(minor).unwrap_or(1), 3);
                    let text = price.to_string();
                    let full = parse_quote(&request(&text, history, policy))
                        .and_then(|i| compute(&i))
                        .expect("compute");
                    assert_eq!(full.periods.len(), shared.periods.len());
                    for (i, period) in full.periods.iter().enumerate() {
                        assert_eq!(
                            shared.credit(i, price),
                            period.credit,
                            "{policy} {history} {text} {}",
                            period.label
                        );
                    }
                }
            }
        }
    }
}
