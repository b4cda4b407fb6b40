//! The book: customers with their plan history, plans with their versions, incidents with
//! their scope — as the engine sees them once they are loaded — and the pure rules that read
//! them: which plan and policy version applies to a period (docs/rules.md §6), the fee source
//! a plan history gives (§2), which periods an incident touches, and how much of an incident
//! has happened by a given instant.

use std::collections::HashMap;

use chrono_tz::Tz;
use rust_decimal::Decimal;

use super::fee::{FeeSource, Plan, PlanSegment};
use super::interval::Span;
use super::money::Currency;
use super::period::{PeriodKind, PeriodLabel, ZonedPeriod};
use super::policy::Policy;
use super::scope::{IncidentKind, Scope};
use super::time::Nanos;

/// A customer with their plan history, oldest change first (never empty).
#[derive(Debug, Clone, PartialEq)]
pub struct Customer {
    pub id: String,
    pub name: String,
    pub email: Option<String>,
    pub timezone: Tz,
    /// `(effective_at, plan_id)`, sorted.
    pub history: Vec<(Nanos, String)>,
}

impl Customer {
    /// The plan in force at an instant; before the first change, the first plan.
    pub fn plan_at(&self, at: Nanos) -> &str {
        let idx = self.history.partition_point(|(since, _)| *since <= at);
        self.history
            .get(idx.saturating_sub(1))
            .map_or("", |(_, p)| p.as_str())
    }

    /// The current plan.
    pub fn plan_id(&self) -> &str {
        self.history.last().map_or("", |(_, p)| p.as_str())
    }
}

/// One version of a plan, ready for the engine.
#[derive(Debug, Clone, PartialEq)]
pub struct PlanVersion {
    pub plan_id: String,
    pub version: i64,
    pub name: String,
    pub currency: Currency,
    pub plan: Plan,
    pub policy: Policy,
    /// The policy as applied (`Policy::to_spec()`), as stored.
    pub policy_json: String,
    /// In force from this instant until the next version's.
    pub effective_at: Nanos,
}

/// A plan with every version, oldest first (never empty).
#[derive(Debug, Clone, PartialEq)]
pub struct PlanInfo {
    pub id: String,
    pub currency: Currency,
    pub versions: Vec<PlanVersion>,
}

impl PlanInfo {
    /// The version in force at an instant (version 1 before any later one).
    pub fn version_at(&self, at: Nanos) -> &PlanVersion {
        let idx = self.versions.partition_point(|v| v.effective_at <= at);
        &self.versions[idx.saturating_sub(1).min(self.versions.len() - 1)]
    }

    pub fn latest(&self) -> &PlanVersion {
        &self.versions[self.versions.len() - 1]
    }
}

/// Plans by id.
pub type Plans = HashMap<String, PlanInfo>;

/// A customer names a plan the book does not hold: the loaded data is incomplete.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown plan {0:?}")]
pub struct MissingPlan(pub String);

/// An incident as recorded.
#[derive(Debug, Clone, PartialEq)]
pub struct IncidentRecord {
    pub id: String,
    pub title: String,
    pub kind: IncidentKind,
    pub started_at: Nanos,
    pub ended_at: Option<Nanos>,
    pub impact: Decimal,
    pub summary: Option<String>,
    pub scope: Scope,
}

impl IncidentRecord {
    /// What of it counts as of an instant (docs/rules.md §6): an outage only up to `as_of`
    /// (time cannot be paid before it happens), an ongoing one likewise; a maintenance
    /// window as planned, even ahead of time (an exclusion never pays). `None` if nothing of
    /// it lies before `as_of`.
    pub fn span(&self, as_of: Nanos) -> Option<Span> {
        let end = match (self.kind, self.ended_at) {
            (IncidentKind::Maintenance, Some(end)) => end,
            (IncidentKind::Outage, Some(end)) => end.min(as_of),
            (_, None) => as_of,
        };
        Span::new(self.started_at, end)
    }

    /// Whether an outage's recorded end lies after `as_of`: a real settlement as of then
    /// would pay for time that has not happened.
    pub fn ends_after(&self, as_of: Nanos) -> bool {
        self.kind == IncidentKind::Outage && self.ended_at.is_some_and(|end| end > as_of)
    }

    /// Whether it concerns a customer: everyone, the customer's plan at the incident's start,
    /// or the customer by id.
    pub fn concerns(&self, customer: &Customer) -> bool {
        match &self.scope {
            Scope::All => true,
            Scope::Plans(ids) => ids
                .binary_search_by(|p| p.as_str().cmp(customer.plan_at(self.started_at)))
                .is_ok(),
            Scope::Customers(ids) => ids.binary_search(&customer.id).is_ok(),
        }
    }
}

fn plan<'p>(plans: &'p Plans, id: &str) -> Result<&'p PlanInfo, MissingPlan> {
    plans.get(id).ok_or_else(|| MissingPlan(id.to_string()))
}

/// The plan history as a fee source (docs/rules.md §2): one segment per plan change, split
/// again wherever a plan version changes the price.
pub fn fee_source(customer: &Customer, plans: &Plans) -> Result<FeeSource, MissingPlan> {
    let mut segments = Vec::new();
    for (i, (since, plan_id)) in customer.history.iter().enumerate() {
        let until = customer.history.get(i + 1).map_or(Nanos::MAX, |(t, _)| *t);
        let info = plan(plans, plan_id)?;
        segments.push(PlanSegment {
            since: *since,
            plan: info.version_at(*since).plan,
        });
        for v in &info.versions {
            if v.effective_at > *since && v.effective_at < until {
                segments.push(PlanSegment {
                    since: v.effective_at,
                    plan: v.plan,
                });
            }
        }
    }
    segments.sort_by_key(|s| s.since);
    segments.dedup_by_key(|s| s.since);
    Ok(FeeSource::History(segments))
}

/// The plan version in force at an instant for a customer.
pub fn version_at<'p>(
    customer: &Customer,
    plans: &'p Plans,
    at: Nanos,
) -> Result<&'p PlanVersion, MissingPlan> {
    Ok(plan(plans, customer.plan_at(at))?.version_at(at))
}

/// The policy version in force at a period's start (docs/rules.md §6): the customer's plan at
/// that instant, and that plan's version then. The period starts at local midnight in the
/// customer's zone, or in the policy's own zone when the policy fixes one.
pub fn version_for_period<'p>(
    customer: &Customer,
    plans: &'p Plans,
    label: PeriodLabel,
) -> Result<&'p PlanVersion, MissingPlan> {
    version_for_period_by(customer, plans, label, &mut |l, z| l.in_zone(z))
}

/// [`version_for_period`], with the period's boundaries in a zone from `in_zone`.
fn version_for_period_by<'p>(
    customer: &Customer,
    plans: &'p Plans,
    label: PeriodLabel,
    in_zone: &mut dyn FnMut(PeriodLabel, Tz) -> ZonedPeriod,
) -> Result<&'p PlanVersion, MissingPlan> {
    let start = in_zone(label, customer.timezone).start;
    let v = version_at(customer, plans, start)?;
    match v.policy.timezone {
        Some(z) if z != customer.timezone => version_at(customer, plans, in_zone(label, z).start),
        _ => Ok(v),
    }
}

/// The zone a version measures in for a customer: the policy's own, else the customer's.
pub fn measuring_zone(customer: &Customer, version: &PlanVersion) -> Tz {
    version.policy.timezone.unwrap_or(customer.timezone)
}

/// The periods an instant range touches for a customer, by the policy in force at its start.
pub fn labels_touched(
    customer: &Customer,
    plans: &Plans,
    span: Span,
) -> Result<Vec<PeriodLabel>, MissingPlan> {
    let v = version_at(customer, plans, span.start)?;
    Ok(labels_in(
        v.policy.period,
        measuring_zone(customer, v),
        span,
    ))
}

/// The periods of `kind` in `zone` that an instant range touches.
fn labels_in(kind: PeriodKind, zone: Tz, span: Span) -> Vec<PeriodLabel> {
    let mut p = PeriodLabel::containing(kind, zone, span.start);
    let last = PeriodLabel::containing(kind, zone, span.end - 1);
    let mut out = vec![p];
    while p < last {
        p = p.next();
        out.push(p);
    }
    out
}

/// Period boundaries worked out once each. Local midnight (a search of the zone's rules for
/// the offset) is most of what listing a settlement batch's periods costs, and its thousands of
/// customers share a handful of (period, zone) pairs. Each method answers exactly what the
/// function of the same name does; the memo is bounded, so memory stays flat.
#[derive(Debug, Default)]
pub struct PeriodMemo {
    zoned: HashMap<(PeriodLabel, Tz), ZonedPeriod>,
    touched: HashMap<(PeriodKind, Tz, Span), Vec<PeriodLabel>>,
}

/// Entries a [`PeriodMemo`] map keeps at most before it starts afresh.
const PERIOD_MEMO_MAX: usize = 4096;

impl PeriodMemo {
    /// [`PeriodLabel::in_zone`].
    pub fn in_zone(&mut self, label: PeriodLabel, zone: Tz) -> ZonedPeriod {
        if self.zoned.len() >= PERIOD_MEMO_MAX {
            self.zoned.clear();
        }
        *self
            .zoned
            .entry((label, zone))
            .or_insert_with(|| label.in_zone(zone))
    }

    /// [`labels_touched`].
    pub fn labels_touched(
        &mut self,
        customer: &Customer,
        plans: &Plans,
        span: Span,
    ) -> Result<&[PeriodLabel], MissingPlan> {
        let v = version_at(customer, plans, span.start)?;
        let key = (v.policy.period, measuring_zone(customer, v), span);
        if self.touched.len() >= PERIOD_MEMO_MAX {
            self.touched.clear();
        }
        Ok(self
            .touched
            .entry(key)
            .or_insert_with(|| labels_in(key.0, key.1, key.2)))
    }

    /// [`version_for_period`].
    pub fn version_for_period<'p>(
        &mut self,
        customer: &Customer,
        plans: &'p Plans,
        label: PeriodLabel,
    ) -> Result<&'p PlanVersion, MissingPlan> {
        version_for_period_by(customer, plans, label, &mut |l, z| self.in_zone(l, z))
    }
}

/// The period a customer is in at an instant, by the policy then in force (the default
/// period of a goodwill gesture).
pub fn current_period(
    customer: &Customer,
    plans: &Plans,
    now: Nanos,
) -> Result<PeriodLabel, MissingPlan> {
    let v = version_at(customer, plans, now)?;
    Ok(PeriodLabel::containing(
        v.policy.period,
        measuring_zone(customer, v),
        now,
    ))
}

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
            _ => Err(format!(
                "{s:?} is not one of sla_credit, goodwill, reversal"
            )),
        }
    }
}
