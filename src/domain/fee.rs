//! Fees (docs/rules.md §2): what the customer pays, as a rate over time. A rate piece is one
//! billing cycle (or the part of one a plan segment covers): its price spread evenly over the
//! cycle's real length, so a quarter measured on a monthly plan uses each month's own rate.

use rust_decimal::Decimal;

use super::exact::{q_dec, q_int, Q};
use super::interval::{Segment, Span};
use super::period::{PeriodKind, PeriodLabel};
use super::rational::QSum;
use super::time::{local_date, local_midnight, Nanos};
use chrono::Datelike;
use chrono_tz::Tz;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BillingCycle {
    Monthly,
    Quarterly,
    Annual,
}

impl BillingCycle {
    pub fn parse(s: &str) -> Result<Self, String> {
        match s {
            "monthly" => Ok(BillingCycle::Monthly),
            "quarterly" => Ok(BillingCycle::Quarterly),
            "annual" => Ok(BillingCycle::Annual),
            _ => Err("must be one of monthly, quarterly, annual".into()),
        }
    }

    pub fn as_str(&self) -> &'static str {
        match self {
            BillingCycle::Monthly => "monthly",
            BillingCycle::Quarterly => "quarterly",
            BillingCycle::Annual => "annual",
        }
    }
}

/// How an annual price is spread: `twelfths` (each calendar month is worth price ÷ 12) or
/// `days` (evenly over the year's real length).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AnnualSplit {
    #[default]
    Twelfths,
    Days,
}

impl AnnualSplit {
    pub fn parse(s: &str) -> Result<Self, String> {
        match s {
            "twelfths" => Ok(AnnualSplit::Twelfths),
            "days" => Ok(AnnualSplit::Days),
            _ => Err("must be one of twelfths, days".into()),
        }
    }

    pub fn as_str(&self) -> &'static str {
        match self {
            AnnualSplit::Twelfths => "twelfths",
            AnnualSplit::Days => "days",
        }
    }
}

/// A price per billing cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plan {
    pub price: Decimal,
    pub billing_cycle: BillingCycle,
    pub annual_split: AnnualSplit,
}

/// A plan in force from `since` until the next segment's `since`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlanSegment {
    pub since: Nanos,
    pub plan: Plan,
}

/// What was actually invoiced for a month or quarter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FeeItem {
    pub period: PeriodLabel,
    pub amount: Decimal,
}

/// Exactly one source of fees.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FeeSource {
    Plan(Plan),
    /// Sorted by `since`, non-empty, distinct `since` values. Before the first: rate 0.
    History(Vec<PlanSegment>),
    /// Non-overlapping items; time no item covers has rate 0.
    Fees(Vec<FeeItem>),
}

/// One constant rate: `amount` spread over `cycle_len` nanoseconds, in force over `span`.
#[derive(Debug, Clone, PartialEq)]
pub struct RatePiece {
    pub span: Span,
    pub amount: Q,
    pub cycle_len: i64,
}

/// The fee rate over a range of time, as sorted, disjoint pieces.
#[derive(Debug, Clone, PartialEq)]
pub struct FeeSchedule {
    pieces: Vec<RatePiece>,
}

impl FeeSchedule {
    /// The rate over `range` from a fee source, with calendar units in `tz`.
    pub fn build(source: &FeeSource, tz: Tz, range: Span) -> FeeSchedule {
        let mut pieces = Vec::new();
        match source {
            FeeSource::Plan(plan) => plan_pieces(plan, tz, range, &mut pieces),
            FeeSource::History(segments) => {
                for (i, seg) in segments.iter().enumerate() {
                    let until = segments.get(i + 1).map_or(range.end, |n| n.since);
                    if let Some(part) =
                        Span::new(seg.since, until).and_then(|s| s.intersect(&range))
                    {
                        plan_pieces(&seg.plan, tz, part, &mut pieces);
                    }
                }
            }
            FeeSource::Fees(items) => {
                for item in items {
                    let zoned = item.period.in_zone(tz);
                    let Some(cycle) = Span::new(zoned.start, zoned.end) else {
                        continue;
                    };
                    if let Some(span) = cycle.intersect(&range) {
                        pieces.push(RatePiece {
                            span,
                            amount: q_dec(item.amount),
                            cycle_len: cycle.len(),
                        });
                    }
                }
                pieces.sort_by_key(|p| p.span.start);
            }
        }
        FeeSchedule { pieces }
    }

    pub fn pieces(&self) -> &[RatePiece] {
        &self.pieces
    }

    /// Integral of the rate over a span.
    pub fn fee_over(&self, span: Span) -> Q {
        self.weighted_fee(&[Segment {
            span,
            impact: Decimal::ONE,
        }])
    }

    /// Integral of rate × impact over sorted, disjoint segments.
    pub fn weighted_fee(&self, segments: &[Segment]) -> Q {
        let mut total = Q::zero();
        let mut current: Option<usize> = None;
        let mut acc = WeightedNanos::default();
        for seg in segments {
            let first = self
                .pieces
                .partition_point(|p| p.span.end <= seg.span.start);
            for (idx, piece) in self.pieces.iter().enumerate().skip(first) {
                if piece.span.start >= seg.span.end {
                    break;
                }
                let Some(overlap) = piece.span.intersect(&seg.span) else {
                    continue;
                };
                if current != Some(idx) {
                    if let Some(prev) = current {
                        total += self.piece_fee(prev, &acc);
                    }
                    current = Some(idx);
                    acc = WeightedNanos::default();
                }
                acc.add(seg.impact, overlap.len());
            }
        }
        if let Some(prev) = current {
            total += self.piece_fee(prev, &acc);
        }
        total
    }

    /// Where a span lies: `Some(Some(i))` inside piece `i`, `Some(None)` where no rate is in
    /// force, `None` across a piece boundary.
    pub fn piece_containing(&self, span: Span) -> Option<Option<usize>> {
        let idx = self.pieces.partition_point(|p| p.span.end <= span.start);
        match self.pieces.get(idx) {
            Some(p) if p.span.start <= span.start && span.end <= p.span.end => Some(Some(idx)),
            Some(p) if p.span.start >= span.end => Some(None),
            None => Some(None),
            Some(_) => None,
        }
    }

    /// The fee of weighted nanoseconds inside piece `idx`.
    pub fn piece_fee(&self, idx: usize, weighted: &WeightedNanos) -> Q {
        self.piece_fee_q(idx, &weighted.to_q())
    }

    /// The fee of an exact amount of weighted nanoseconds inside piece `idx`.
    pub fn piece_fee_q(&self, idx: usize, weighted: &Q) -> Q {
        let piece = &self.pieces[idx];
        if weighted.is_zero() {
            return Q::zero();
        }
        // The share of the cycle first: a whole cycle (a month measured on a monthly plan) is 1.
        &piece.amount * (weighted / q_int(piece.cycle_len))
    }
}

/// Adds the pieces of one plan's billing cycles over `range`.
fn plan_pieces(plan: &Plan, tz: Tz, range: Span, out: &mut Vec<RatePiece>) {
    let price = q_dec(plan.price);
    let (kind, amount) = match (plan.billing_cycle, plan.annual_split) {
        (BillingCycle::Monthly, _) => (CycleKind::Months(PeriodKind::Month), price),
        (BillingCycle::Quarterly, _) => (CycleKind::Months(PeriodKind::Quarter), price),
        (BillingCycle::Annual, AnnualSplit::Twelfths) => {
            (CycleKind::Months(PeriodKind::Month), price / q_int(12))
        }
        (BillingCycle::Annual, AnnualSplit::Days) => (CycleKind::Year, price),
    };
    // The first cycle is the one containing `range.start` by instants (docs/rules.md §1); the
    // wall-clock date is never later than it, so starting there and skipping empty overlaps
    // finds it.
    let first = local_date(range.start, tz);
    let mut cycle_start_day = match kind {
        CycleKind::Months(k) => PeriodLabel::containing(k, tz, range.start).first_day(),
        CycleKind::Year => first.with_ordinal(1).unwrap_or(first),
    };
    loop {
        let next_day = match kind {
            CycleKind::Months(k) => PeriodLabel::containing_date(k, cycle_start_day).end_day(),
            CycleKind::Year => chrono::NaiveDate::from_ymd_opt(cycle_start_day.year() + 1, 1, 1)
                .unwrap_or(cycle_start_day),
        };
        if next_day <= cycle_start_day {
            break;
        }
        let start = local_midnight(tz, cycle_start_day);
        let end = local_midnight(tz, next_day);
        if start >= range.end {
            break;
        }
        if let Some(cycle) = Span::new(start, end) {
            if let Some(span) = cycle.intersect(&range) {
                out.push(RatePiece {
                    span,
                    amount: amount.clone(),
                    cycle_len: cycle.len(),
                });
            }
        }
        cycle_start_day = next_day;
    }
}

#[derive(Clone, Copy)]
enum CycleKind {
    Months(PeriodKind),
    Year,
}

/// Σ impact × nanoseconds, exact: whole-impact time and impacts of up to 10 decimals stay
/// integers (the latter in units of 10^-10 ns); anything else is rational, summed pairwise
/// ([`QSum`]) so that many runs with unrelated denominators stay cheap (docs/rules.md §3, §5).
#[derive(Debug, Default, Clone)]
pub struct WeightedNanos {
    whole: i128,
    /// Σ impact × 10^10 × nanoseconds for impacts below 1.
    tenths10: i128,
    partial: QSum,
}

const IMPACT_SCALE: u32 = 10;

impl WeightedNanos {
    pub fn add(&mut self, impact: Decimal, len: i64) {
        if impact == Decimal::ONE {
            self.whole += i128::from(len);
            return;
        }
        if impact.scale() <= IMPACT_SCALE {
            let scaled = impact.mantissa() * 10i128.pow(IMPACT_SCALE - impact.scale());
            if let Some(sum) = scaled
                .checked_mul(i128::from(len))
                .and_then(|p| self.tenths10.checked_add(p))
            {
                self.tenths10 = sum;
                return;
            }
        }
        self.partial.push(q_dec(impact) * q_int(len));
    }

    pub fn whole(nanos: i128) -> Self {
        WeightedNanos {
            whole: nanos,
            ..WeightedNanos::default()
        }
    }

    pub fn is_zero(&self) -> bool {
        self.whole == 0 && self.tenths10 == 0 && self.partial.is_empty()
    }

    /// Adds another accumulation.
    pub fn add_weighted(&mut self, other: &WeightedNanos) {
        self.whole += other.whole;
        match self.tenths10.checked_add(other.tenths10) {
            Some(sum) => self.tenths10 = sum,
            None => self
                .partial
                .push(Q::ratio(other.tenths10, 10i128.pow(IMPACT_SCALE))),
        }
        if !other.partial.is_empty() {
            self.partial.push(other.partial.total());
        }
    }

    /// This amount × num ÷ den, exact.
    pub fn scaled(&self, num: i128, den: i128) -> WeightedNanos {
        if num == den {
            return self.clone();
        }
        let mut partial = QSum::default();
        // The usual run of decimal impacts: one fraction, one gcd.
        let direct = (self.whole == 0 && self.partial.is_empty())
            .then(|| {
                let n = self.tenths10.checked_mul(num)?;
                let d = den.checked_mul(10i128.pow(IMPACT_SCALE))?;
                Some(Q::ratio(n, d))
            })
            .flatten();
        partial.push(direct.unwrap_or_else(|| self.to_q() * Q::ratio(num, den)));
        WeightedNanos {
            partial,
            ..WeightedNanos::default()
        }
    }

    pub fn to_q(&self) -> Q {
        let mut total = q_int(self.whole);
        if self.tenths10 != 0 {
            total += Q::ratio(self.tenths10, 10i128.pow(IMPACT_SCALE));
        }
        if !self.partial.is_empty() {
            total += self.partial.total();
        }
        total
    }
}
