//! The credit engine (docs/rules.md §3–§5): outage windows, a fee source and a policy in;
//! one exact credit per measurement period out, with its breakdown (§7).

use std::collections::{BTreeMap, BTreeSet};

use chrono_tz::Tz;
use rust_decimal::Decimal;

use super::breakdown::{explain, Breakdown, Explained};
use super::error::ValidationErrors;
use super::exact::{display_q, display_seconds, q_dec, q_int, q_min, round_q, Q};
use super::fee::{FeeSchedule, FeeSource, WeightedNanos};
use super::interval::{
    clip, clip_spans, intersect, intersect_spans, merge_max_impact, runs, subtract, total_len,
    union, Segment, Span, Window,
};
use super::money::Currency;
use super::period::{DayCounter, PeriodLabel, ZonedPeriod};
use super::policy::{DayBasis, Denominator, ExclusionMode, PartialUnits, Policy, Rule};
use super::rational::QSum;
use super::time::{format_local, format_utc, Nanos, NANOS_PER_SECOND};

/// One incident's outage windows. `start` is where a fixed-days grant lands (§4): the
/// incident's start, or for a quote without outages the start of the named period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Incident {
    pub start: Nanos,
    pub windows: Vec<Window>,
}

/// Everything one computation needs, already checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreditInput {
    pub currency: Currency,
    /// The customer's zone; a policy `timezone` overrides it.
    pub timezone: Tz,
    pub fees: FeeSource,
    pub policy: Policy,
    pub incidents: Vec<Incident>,
    pub exclusions: Vec<Span>,
    /// `None`: always active; `Some(empty)`: never active (only under `denominator: active`).
    pub active: Option<Vec<Span>>,
    /// Periods to report even when no outage touches them.
    pub periods: Vec<PeriodLabel>,
}

impl CreditInput {
    /// The zone of every calendar unit of this computation (§1).
    pub fn zone(&self) -> Tz {
        self.policy.timezone.unwrap_or(self.timezone)
    }
}

/// The credit of one measurement period.
#[derive(Debug, Clone, PartialEq)]
pub struct PeriodCredit {
    pub label: PeriodLabel,
    /// Rounded to the currency's minor unit.
    pub credit: Decimal,
    /// The exact credit after the cap, before the minimum and rounding.
    pub capped_exact: Q,
    pub breakdown: Breakdown,
}

/// Credits for every period the outages touch, in order.
#[derive(Debug, Clone, PartialEq)]
pub struct CreditResult {
    pub currency: Currency,
    /// Sum of the rounded period credits.
    pub total: Decimal,
    pub periods: Vec<PeriodCredit>,
}

impl CreditResult {
    /// The credit of one period (zero when nothing touches it).
    pub fn credit_for(&self, label: PeriodLabel) -> Decimal {
        self.periods
            .iter()
            .find(|p| p.label == label)
            .map_or(Decimal::ZERO, |p| p.credit)
    }
}

/// Computes the credit of every period the input touches.
pub fn compute(input: &CreditInput) -> Result<CreditResult, ValidationErrors> {
    let figures = compute_figures(input)?;
    let mut periods = Vec::with_capacity(figures.len());
    let mut total = zero_money(input.currency);
    for f in figures {
        let pc = f.into_render(&input.policy, input.currency)?;
        total += pc.credit;
        periods.push(pc);
    }
    Ok(CreditResult {
        currency: input.currency,
        total,
        periods,
    })
}

/// The figures of every period the input touches, before the part that depends on the price
/// is rendered ([`PeriodFigures::render`]).
pub(crate) fn compute_figures(input: &CreditInput) -> Result<Vec<PeriodFigures>, ValidationErrors> {
    let zone = input.zone();
    let kind = input.policy.period;
    let all_windows: Vec<Window> = input
        .incidents
        .iter()
        .flat_map(|i| i.windows.iter().copied())
        .collect();

    // Every period an outage touches (§5), by instants (§1): walk the sorted union of the
    // windows, reusing the period found last, so n windows cost n comparisons, not n zone
    // lookups.
    let mut labels: BTreeSet<PeriodLabel> = BTreeSet::new();
    let mut current: Option<ZonedPeriod> = None;
    for span in union(all_windows.iter().map(|w| w.span)) {
        let mut zp = match current {
            Some(zp) if zp.start <= span.start && span.start < zp.end => zp,
            _ => PeriodLabel::containing(kind, zone, span.start).in_zone(zone),
        };
        labels.insert(zp.label);
        while zp.end < span.end {
            zp = zp.label.next().in_zone(zone);
            labels.insert(zp.label);
        }
        current = Some(zp);
    }
    for p in &input.periods {
        if p.kind() != kind {
            return Err(ValidationErrors::one(
                "period",
                format!("{p} is not a {} label", kind.as_str()),
            ));
        }
        labels.insert(*p);
    }
    let mut grants: BTreeMap<PeriodLabel, u32> = BTreeMap::new();
    for inc in &input.incidents {
        let p = PeriodLabel::containing(kind, zone, inc.start);
        labels.insert(p);
        *grants.entry(p).or_insert(0) += 1;
    }
    let zoned: Vec<ZonedPeriod> = labels.iter().map(|l| l.in_zone(zone)).collect();
    let (Some(first), Some(last)) = (zoned.first(), zoned.last()) else {
        return Ok(Vec::new());
    };
    let range = Span {
        start: first.start,
        end: last.end.max(first.start + 1),
    };
    let schedule = FeeSchedule::build(&input.fees, zone, range);
    let merged = merge_max_impact(&all_windows);
    let exclusions = union(input.exclusions.iter().copied());
    let active = input.active.as_ref().map(|a| union(a.iter().copied()));

    let ctx = Context {
        input,
        zone,
        schedule: &schedule,
        merged: &merged,
        exclusions: &exclusions,
        active: active.as_deref(),
    };
    Ok(zoned
        .iter()
        .map(|zp| {
            let grant_count = grants.get(&zp.label).copied().unwrap_or(0);
            ctx.period_figures(zp, grant_count)
        })
        .collect())
}

fn zero_money(c: Currency) -> Decimal {
    Decimal::new(0, c.minor_units())
}

struct Context<'a> {
    input: &'a CreditInput,
    zone: Tz,
    schedule: &'a FeeSchedule,
    merged: &'a [Segment],
    exclusions: &'a [Span],
    active: Option<&'a [Span]>,
}

/// The measured downtime of one period (§3).
struct Measured {
    period_ns: i128,
    denominator_ns: i128,
    outage_ns: i128,
    excluded_ns: i128,
    /// Counted downtime D in nanoseconds, weighted by impact, never above the denominator.
    downtime: Q,
    fee_during_downtime: Q,
    affected_days: u32,
}

impl Context<'_> {
    fn measure(&self, zp: &ZonedPeriod) -> Measured {
        let policy = &self.input.policy;
        let period = Span {
            start: zp.start,
            end: zp.end.max(zp.start),
        };
        let period_ns = i128::from(zp.len());
        let segs = clip(self.merged, period);
        let outage_ns: i128 = segs.iter().map(|s| i128::from(s.span.len())).sum();

        let (mut denominator_ns, counted, excluded) = match policy.denominator {
            Denominator::Period => (period_ns, segs, clip_spans(self.exclusions, period)),
            Denominator::Active => {
                let act = match self.active {
                    Some(a) => clip_spans(a, period),
                    None => vec![period],
                };
                let excluded = intersect_spans(&clip_spans(self.exclusions, period), &act);
                (total_len(&act), intersect(&segs, &act), excluded)
            }
        };
        let excluded_ns = total_len(&excluded);
        if policy.exclusion_mode == ExclusionMode::ShrinkPeriod {
            denominator_ns -= excluded_ns;
        }
        let counted = subtract(&counted, &excluded);

        // Each run counts whole units (§3) and its scaled weighted downtime is charged at the
        // rate of the billing cycle it lies in: accumulated per rate piece, so the rational
        // work is once per piece, not once per window. D is the sum of those accumulations.
        let unit_ns = policy
            .downtime_unit_seconds
            .map(|u| i128::from(u) * i128::from(NANOS_PER_SECOND));
        // Runs with no fee in force, or across a rate-piece boundary: downtime, priced apart.
        let mut unpriced = WeightedNanos::default();
        // Only the rate pieces that overlap the period: a long plan history must not cost
        // every period the whole schedule.
        let pieces = self.schedule.pieces();
        let first_piece = pieces.partition_point(|p| p.span.end <= period.start);
        let end_piece = pieces.partition_point(|p| p.span.start < period.end);
        let mut per_piece: Vec<WeightedNanos> =
            vec![WeightedNanos::default(); end_piece.saturating_sub(first_piece)];
        let mut straddling_fee = QSum::default();
        let mut days = DayCounter::default();
        for run in runs(&counted) {
            let span = run_span(run);
            let raw = i128::from(span.len());
            let counted_ns = match (unit_ns, policy.partial_units) {
                (None, _) => raw,
                (Some(u), PartialUnits::RoundUp) => (raw + u - 1) / u * u,
                (Some(u), PartialUnits::RoundDown) => raw / u * u,
            };
            if counted_ns == 0 {
                continue;
            }
            days.add(span.start, span.end, self.zone);
            // Weighted downtime of the run, scaled by counted ÷ raw.
            let scaled = if run.iter().all(|s| s.impact == Decimal::ONE) {
                WeightedNanos::whole(counted_ns)
            } else {
                let mut w = WeightedNanos::default();
                for s in run {
                    w.add(s.impact, s.span.len());
                }
                w.scaled(counted_ns, raw)
            };
            match self.schedule.piece_containing(span) {
                Some(Some(idx)) => match per_piece.get_mut(idx.wrapping_sub(first_piece)) {
                    Some(w) => w.add_weighted(&scaled),
                    // Never: a run of the period lies in a piece overlapping the period.
                    None => {
                        straddling_fee.push(self.schedule.piece_fee(idx, &scaled));
                        unpriced.add_weighted(&scaled);
                    }
                },
                // No fee in force: downtime without a fee.
                Some(None) => unpriced.add_weighted(&scaled),
                None => {
                    straddling_fee
                        .push(self.schedule.weighted_fee(run) * Q::ratio(counted_ns, raw));
                    unpriced.add_weighted(&scaled);
                }
            }
        }
        let mut fee_during_downtime = straddling_fee.total();
        let mut downtime = unpriced.to_q();
        for (offset, w) in per_piece.iter().enumerate() {
            if !w.is_zero() {
                let weighted = w.to_q();
                fee_during_downtime += self.schedule.piece_fee_q(first_piece + offset, &weighted);
                downtime += weighted;
            }
        }
        let affected_days = days.count();
        let denominator_q = q_int(denominator_ns);
        if downtime > denominator_q {
            downtime = denominator_q;
        }
        Measured {
            period_ns,
            denominator_ns,
            outage_ns,
            excluded_ns,
            downtime,
            fee_during_downtime,
            affected_days,
        }
    }

    fn period_figures(&self, zp: &ZonedPeriod, grants: u32) -> PeriodFigures {
        let policy = &self.input.policy;
        let m = self.measure(zp);
        let fee = match Span::new(zp.start, zp.end) {
            Some(p) => self.schedule.fee_over(p),
            None => Q::zero(),
        };
        let hundred = q_int(100);
        let uptime = if m.denominator_ns <= 0 {
            hundred.clone()
        } else {
            let den = q_int(m.denominator_ns);
            (&den - &m.downtime) / den * &hundred
        };
        let actual_days = zp.local_days(self.zone);
        let days_in_period = |basis: DayBasis| match basis {
            DayBasis::Actual => actual_days,
            DayBasis::Thirty => 30 * zp.label.kind().months(),
        };
        let RuleOutcome {
            uncapped,
            tier,
            credit_percent,
            days_credited,
            rule_days,
            warnings,
        } = rule_outcome(policy, &m, &fee, &uptime, grants, days_in_period);

        // §5: rule → cap (the minimum and the rounding are in `render`).
        let cap_basis_days = match &policy.rule {
            Rule::DaysOfService { day_basis, .. } => days_in_period(*day_basis),
            _ => actual_days,
        };
        // The share first: the default cap, 100 % of the fee, is the fee times 1.
        let mut cap = &fee * (q_dec(policy.cap_percent) / &hundred);
        if let Some(cd) = policy.cap_days {
            if cap_basis_days > 0 {
                cap = q_min(cap, &fee * q_int(cd) / q_int(cap_basis_days));
            }
        }
        let capped = q_min(uncapped.clone(), cap);
        let days_used =
            matches!(policy.rule, Rule::DaysOfService { .. }) || policy.cap_days.is_some();
        PeriodFigures {
            label: zp.label,
            texts: Texts {
                start: format_local(zp.start, self.zone),
                end: format_local(zp.end, self.zone),
                start_utc: format_utc(zp.start),
                end_utc: format_utc(zp.end),
                timezone: self.zone.name().to_string(),
                period_seconds: display_seconds(m.period_ns),
                denominator_seconds: display_seconds(m.denominator_ns),
                outage_seconds: display_seconds(m.outage_ns),
                excluded_seconds: display_seconds(m.excluded_ns),
                downtime_seconds: display_q(&(&m.downtime / q_int(1_000_000_000)), 0),
                uptime_percent: display_q(&uptime, 0),
                warnings,
            },
            affected_days: matches!(policy.rule, Rule::DaysOfService { .. })
                .then_some(m.affected_days),
            days_in_period: days_used.then_some(rule_days.unwrap_or(cap_basis_days)),
            uptime,
            downtime: m.downtime,
            tier,
            credit_percent,
            days_credited,
            rule_days,
            fee,
            fee_during_downtime: m.fee_during_downtime,
            uncapped,
            capped,
        }
    }
}

/// One period's figures before the minimum, the rounding and the breakdown's text: the parts
/// that do not depend on the price, and the four money figures — the fee, the fee during the
/// downtime, the credit before and after the cap — each of which is the price times a factor
/// (every rule of §4 and both caps are linear in the fee). Rendering them at a price of 1
/// scaled by a customer's price gives exactly what the engine gives at that price
/// (`domain::batch::PricedQuote`).
#[derive(Debug, Clone)]
pub(crate) struct PeriodFigures {
    pub(crate) label: PeriodLabel,
    /// The period's texts, moved into its breakdown when it is rendered once.
    texts: Texts,
    affected_days: Option<u32>,
    days_in_period: Option<u32>,
    uptime: Q,
    downtime: Q,
    tier: Option<String>,
    credit_percent: Option<Decimal>,
    days_credited: Option<u32>,
    rule_days: Option<u32>,
    fee: Q,
    fee_during_downtime: Q,
    uncapped: Q,
    pub(crate) capped: Q,
}

/// What a period's breakdown shows as it was computed, whatever the price: bounds, zone,
/// seconds, uptime, warnings.
#[derive(Debug, Clone, Default)]
struct Texts {
    start: String,
    end: String,
    start_utc: String,
    end_utc: String,
    timezone: String,
    period_seconds: String,
    denominator_seconds: String,
    outage_seconds: String,
    excluded_seconds: String,
    downtime_seconds: String,
    uptime_percent: String,
    warnings: Vec<String>,
}

impl PeriodFigures {
    /// The period's credit and breakdown (§5: the minimum, then the rounding), with the money
    /// figures multiplied by `scale` when one is given. `policy` is the policy as applied
    /// (its minimum counts here).
    pub(crate) fn render(
        &self,
        policy: &Policy,
        currency: Currency,
        scale: Option<&Q>,
    ) -> Result<PeriodCredit, ValidationErrors> {
        self.render_with(self.texts.clone(), policy, currency, scale)
    }

    /// [`Self::render`] at the computed price, for a period rendered once (a quote, a
    /// settlement): its texts moved into the breakdown, not copied.
    pub(crate) fn into_render(
        mut self,
        policy: &Policy,
        currency: Currency,
    ) -> Result<PeriodCredit, ValidationErrors> {
        let texts = std::mem::take(&mut self.texts);
        self.render_with(texts, policy, currency, None)
    }

    fn render_with(
        &self,
        texts: Texts,
        policy: &Policy,
        currency: Currency,
        scale: Option<&Q>,
    ) -> Result<PeriodCredit, ValidationErrors> {
        let scaled = |q: &Q| match scale {
            Some(s) => q * s,
            None => q.clone(),
        };
        let fee = scaled(&self.fee);
        let fee_during_downtime = scaled(&self.fee_during_downtime);
        let uncapped = scaled(&self.uncapped);
        let capped = scaled(&self.capped);
        let below_minimum = policy.minimum.is_some_and(|min| capped <= q_dec(min));
        let credit = if below_minimum {
            round_q(&Q::zero(), currency.minor_units(), policy.rounding)
        } else {
            round_q(&capped, currency.minor_units(), policy.rounding)
        }
        .ok_or_else(|| ValidationErrors::one("policy", "the credit exceeds the supported range"))?;
        let dp = currency.minor_units();
        let explanation = explain(&Explained {
            policy,
            currency,
            uptime: &self.uptime,
            downtime_ns: &self.downtime,
            fee: &fee,
            fee_during_downtime: &fee_during_downtime,
            tier: self.tier.as_deref(),
            credit_percent: self.credit_percent,
            days_credited: self.days_credited,
            days_in_period: self.rule_days,
            uncapped: &uncapped,
            capped: &capped,
            cap_applied: capped < uncapped,
            below_minimum,
            credit,
        });
        let uncapped_text = display_q(&uncapped, dp);
        let breakdown = Breakdown {
            period: self.label.to_string(),
            start: texts.start,
            end: texts.end,
            start_utc: texts.start_utc,
            end_utc: texts.end_utc,
            timezone: texts.timezone,
            period_seconds: texts.period_seconds,
            denominator_seconds: texts.denominator_seconds,
            outage_seconds: texts.outage_seconds,
            excluded_seconds: texts.excluded_seconds,
            downtime_seconds: texts.downtime_seconds,
            uptime_percent: texts.uptime_percent,
            rule: policy.rule.kind().to_string(),
            tier: self.tier.clone(),
            credit_percent: self.credit_percent.map(|p| p.normalize().to_string()),
            affected_days: self.affected_days,
            days_in_period: self.days_in_period,
            days_credited: self.days_credited,
            fee: display_q(&fee, dp),
            fee_during_downtime: display_q(&fee_during_downtime, dp),
            // Uncapped and capped are the same figure unless the cap applied: written once.
            capped_credit: if capped == uncapped {
                uncapped_text.clone()
            } else {
                display_q(&capped, dp)
            },
            uncapped_credit: uncapped_text,
            credit: currency.format(credit),
            currency: currency.code().to_string(),
            rounding: policy.rounding.as_str().to_string(),
            warnings: texts.warnings,
            explanation,
        };
        Ok(PeriodCredit {
            label: self.label,
            credit,
            capped_exact: capped,
            breakdown,
        })
    }
}

/// What the rule of §4 gives before the cap, with what the breakdown shows of it.
struct RuleOutcome {
    uncapped: Q,
    tier: Option<String>,
    credit_percent: Option<Decimal>,
    days_credited: Option<u32>,
    rule_days: Option<u32>,
    warnings: Vec<String>,
}

/// The credit rule (docs/rules.md §4) applied to a measured period.
fn rule_outcome(
    policy: &Policy,
    m: &Measured,
    fee: &Q,
    uptime: &Q,
    grants: u32,
    days_in_period: impl Fn(DayBasis) -> u32,
) -> RuleOutcome {
    let hundred = q_int(100);
    let below_target = |u: &Q| match policy.target_percent {
        Some(t) => *u < q_dec(t),
        None => true,
    };

    let mut warnings = Vec::new();
    let mut tier = None;
    let mut credit_percent = None;
    let mut days_credited = None;
    let mut rule_days = None;
    let uncapped = match &policy.rule {
        Rule::UptimeTiers { tiers } => match tiers.iter().find(|t| t.uptime.contains(uptime)) {
            Some(t) => {
                tier = Some(t.uptime.text.clone());
                credit_percent = Some(t.credit_percent);
                fee * q_dec(t.credit_percent) / &hundred
            }
            None => {
                let above = tiers.iter().any(|t| t.uptime.lies_above(uptime));
                let below = tiers.iter().any(|t| t.uptime.lies_below(uptime));
                if above && below {
                    warnings.push("tier_gap".to_string());
                }
                Q::zero()
            }
        },
        Rule::DowntimeMultiple {
            multiplier,
            excess_only,
        } => {
            if !below_target(uptime) || m.downtime.is_zero() {
                Q::zero()
            } else if *excess_only {
                let target = policy
                    .target_percent
                    .map(q_dec)
                    .unwrap_or_else(|| hundred.clone());
                let allowance = (&hundred - target) / &hundred * q_int(m.denominator_ns);
                let excess = &m.downtime - allowance;
                if excess.is_positive() {
                    &m.fee_during_downtime * excess / &m.downtime * q_dec(*multiplier)
                } else {
                    Q::zero()
                }
            } else {
                &m.fee_during_downtime * q_dec(*multiplier)
            }
        }
        Rule::DaysOfService { days, day_basis } => {
            let dip = days_in_period(*day_basis);
            rule_days = Some(dip);
            let n = match days {
                Some(d) => d * grants,
                None if below_target(uptime) => m.affected_days,
                None => 0,
            };
            days_credited = Some(n);
            if dip == 0 {
                Q::zero()
            } else {
                fee * q_int(n) / q_int(dip)
            }
        }
    };
    RuleOutcome {
        uncapped,
        tier,
        credit_percent,
        days_credited,
        rule_days,
        warnings,
    }
}

fn run_span(run: &[Segment]) -> Span {
    match (run.first(), run.last()) {
        (Some(a), Some(b)) => Span {
            start: a.span.start,
            end: b.span.end,
        },
        _ => Span { start: 0, end: 0 },
    }
}
