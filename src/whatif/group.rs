//! Grouping customers so that each distinct computation runs once (docs/rules.md §6, the
//! settlement target of a (customer, period), computed without a database).
//!
//! A customer's result for a period depends only on their zone, their plan's shape (currency,
//! billing cycle, annual split, policy), when their plan began (only if that is near the
//! incidents: a plan that began long before the first period is the same as one that always
//! applied), the incidents that concern them, and the price. Customers equal in everything but
//! the price form a **profile**: its periods, and per period one engine run at a price of 1
//! (a [`SharedQuote`]); each customer's credit is then one exact multiplication, the minimum
//! and one rounding. The figures a customer reads (uptime, downtime, explanation — which
//! quotes amounts) are taken from one full engine run per (profile, plan), the **variant**.

use std::collections::{BTreeSet, HashMap};

use rayon::prelude::*;

use crate::domain::batch::{PeriodFactor, SharedQuote};
use crate::domain::book::{
    fee_source, labels_touched, measuring_zone, Customer, IncidentRecord, Plans,
};
use crate::domain::breakdown::Breakdown;
use crate::domain::fee::{FeeSource, PlanSegment};
use crate::domain::interval::{Span, Window};
use crate::domain::period::PeriodLabel;
use crate::domain::scope::{IncidentKind, Scope};
use crate::domain::time::Nanos;
use crate::domain::{compute, CreditInput, Incident};
use crate::wire::Error;

use super::load::Book;

/// A plan that began this long before the earliest incident began the same as one that always
/// applied: no period a computation reads starts that early (a quarter is at most 92 days).
const SINCE_HORIZON: Nanos = 200 * 86_400 * 1_000_000_000;

/// What a profile's computations depend on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ProfileKey {
    pub zone: u16,
    pub shape: u32,
    pub since: Nanos,
    pub membership: u32,
    /// A plan of this shape, to compute with.
    pub plan: u32,
}

/// One period of a profile.
#[derive(Debug, Clone)]
pub struct ProfilePeriod {
    pub label: PeriodLabel,
    pub shared: SharedQuote,
}

/// What a profile computes to.
#[derive(Debug, Clone)]
pub struct Profile {
    pub periods: Vec<ProfilePeriod>,
}

/// One period of a variant: the breakdown at the variant's price.
#[derive(Debug, Clone)]
pub struct VariantPeriod {
    pub breakdown: Breakdown,
}

/// The shared analysis of a book: plan shapes, incident memberships, profiles, variants.
#[derive(Debug, Default)]
pub struct Groups {
    /// Per plan: its shape.
    pub shape_of: Vec<u32>,
    /// Per plan: the membership of a customer the customers-scoped incidents do not name.
    base_membership: Vec<u32>,
    /// Per customer named by a customers-scoped incident: those incidents.
    named: HashMap<u32, Vec<u32>>,
    memberships: Vec<Vec<u32>>,
    membership_ids: HashMap<Vec<u32>, u32>,
    pub profile_keys: Vec<ProfileKey>,
    profile_ids: HashMap<ProfileKey, u32>,
    /// `(profile, plan)` per variant.
    pub variant_keys: Vec<(u32, u32)>,
    variant_ids: HashMap<(u32, u32), u32>,
    since_floor: Nanos,
}

fn intern<K: std::hash::Hash + Eq + Clone>(
    ids: &mut HashMap<K, u32>,
    list: &mut Vec<K>,
    key: K,
) -> u32 {
    if let Some(&i) = ids.get(&key) {
        return i;
    }
    let i = u32::try_from(list.len()).unwrap_or(u32::MAX);
    list.push(key.clone());
    ids.insert(key, i);
    i
}

impl Groups {
    /// Plan shapes and the incidents each plan's customers are in.
    pub fn new(book: &Book) -> Groups {
        let mut g = Groups::default();
        let mut shapes: HashMap<(String, String, String, String), u32> = HashMap::new();
        let mut shape_list = Vec::new();
        for p in &book.plans {
            let v = p.version();
            let key = (
                v.currency.code().to_string(),
                v.plan.billing_cycle.as_str().to_string(),
                v.plan.annual_split.as_str().to_string(),
                v.policy_json.clone(),
            );
            g.shape_of.push(intern(&mut shapes, &mut shape_list, key));
        }
        for p in &book.plans {
            let list: Vec<u32> = book
                .incidents
                .iter()
                .enumerate()
                .filter(|(_, i)| match &i.scope {
                    Scope::All => true,
                    Scope::Plans(ids) => ids.binary_search(&p.info.id).is_ok(),
                    Scope::Customers(_) => false,
                })
                .map(|(k, _)| u32::try_from(k).unwrap_or(u32::MAX))
                .collect();
            let m = intern(&mut g.membership_ids, &mut g.memberships, list);
            g.base_membership.push(m);
        }
        for (k, inc) in book.incidents.iter().enumerate() {
            if let Scope::Customers(ids) = &inc.scope {
                for id in ids {
                    if let Some(c) = book.customers.find(id) {
                        g.named
                            .entry(c)
                            .or_default()
                            .push(u32::try_from(k).unwrap_or(u32::MAX));
                    }
                }
            }
        }
        let first = book
            .incidents
            .iter()
            .map(|i| i.started_at)
            .min()
            .unwrap_or(0);
        g.since_floor = first.saturating_sub(SINCE_HORIZON);
        g
    }

    /// The variant of customer `c` (interning its profile).
    pub fn assign(&mut self, book: &Book, c: u32) -> u32 {
        let Some(rec) = book.customers.recs.get(c as usize).copied() else {
            return 0;
        };
        let plan = rec.plan as usize;
        let base = self.base_membership.get(plan).copied().unwrap_or(0);
        let membership = match self.named.get(&c) {
            None => base,
            Some(extra) => {
                let mut list = self
                    .memberships
                    .get(base as usize)
                    .cloned()
                    .unwrap_or_default();
                list.extend(extra);
                list.sort_unstable();
                list.dedup();
                intern(&mut self.membership_ids, &mut self.memberships, list)
            }
        };
        let shape = self.shape_of.get(plan).copied().unwrap_or(0);
        let since = if rec.since <= self.since_floor {
            0
        } else {
            rec.since
        };
        let key = ProfileKey {
            zone: rec.zone,
            shape,
            since,
            membership,
            plan: rec.plan,
        };
        // The plan is only a representative of the shape: equal keys but for it share one.
        let lookup = ProfileKey { plan: 0, ..key };
        let profile = match self.profile_ids.get(&lookup) {
            Some(&p) => p,
            None => {
                let p = u32::try_from(self.profile_keys.len()).unwrap_or(u32::MAX);
                self.profile_keys.push(key);
                self.profile_ids.insert(lookup, p);
                p
            }
        };
        intern(
            &mut self.variant_ids,
            &mut self.variant_keys,
            (profile, rec.plan),
        )
    }

    fn incidents_of<'b>(&self, book: &'b Book, membership: u32) -> Vec<&'b IncidentRecord> {
        self.memberships
            .get(membership as usize)
            .map(|l| {
                l.iter()
                    .filter_map(|k| book.incidents.get(*k as usize))
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// A customer standing for a profile or variant: the zone, the plan and when it began.
fn representative(book: &Book, zone: u16, plan: u32, since: Nanos) -> Customer {
    let plan_id = book
        .plans
        .get(plan as usize)
        .map(|p| p.info.id.clone())
        .unwrap_or_default();
    Customer {
        id: String::new(),
        name: String::new(),
        email: None,
        timezone: book
            .zones
            .get(zone as usize)
            .copied()
            .unwrap_or(chrono_tz::UTC),
        history: vec![(since, plan_id)],
    }
}

/// The plans table the book's rules read.
pub fn plans_table(book: &Book) -> Plans {
    book.plans
        .iter()
        .map(|p| (p.info.id.clone(), p.info.clone()))
        .collect()
}

/// Every period the outages among `incidents` touch for a customer, each with the incidents
/// (outages and maintenance) that overlap it, as a settlement computes its targets.
pub fn periods_for<'i>(
    customer: &Customer,
    plans: &Plans,
    incidents: &[&'i IncidentRecord],
    as_of: Nanos,
) -> Result<Vec<(PeriodLabel, Vec<&'i IncidentRecord>)>, Error> {
    let mut labels: BTreeSet<PeriodLabel> = BTreeSet::new();
    for inc in incidents.iter().filter(|i| i.kind == IncidentKind::Outage) {
        if let Some(span) = inc.span(as_of) {
            labels.extend(
                labels_touched(customer, plans, span)
                    .map_err(|e| Error::internal(e.to_string()))?,
            );
        }
    }
    let version = crate::domain::book::version_at(customer, plans, 0)
        .map_err(|e| Error::internal(e.to_string()))?;
    let zone = measuring_zone(customer, version);
    Ok(labels
        .into_iter()
        .map(|label| {
            let zp = label.in_zone(zone);
            let period = Span {
                start: zp.start,
                end: zp.end.max(zp.start + 1),
            };
            let relevant = incidents
                .iter()
                .copied()
                .filter(|i| i.span(as_of).is_some_and(|s| s.overlaps(&period)))
                .collect();
            (label, relevant)
        })
        .collect())
}

/// The engine's input for one (customer, period), as a settlement builds it.
pub fn credit_input(
    customer: &Customer,
    plans: &Plans,
    label: PeriodLabel,
    incidents: &[&IncidentRecord],
    as_of: Nanos,
) -> Result<CreditInput, Error> {
    let version = crate::domain::book::version_for_period(customer, plans, label)
        .map_err(|e| Error::internal(e.to_string()))?;
    let mut outages = Vec::new();
    let mut exclusions = Vec::new();
    for inc in incidents {
        let Some(span) = inc.span(as_of) else {
            continue;
        };
        match inc.kind {
            IncidentKind::Outage => outages.push(Incident {
                start: inc.started_at,
                windows: vec![Window {
                    span,
                    impact: inc.impact,
                }],
            }),
            IncidentKind::Maintenance => exclusions.push(span),
        }
    }
    Ok(CreditInput {
        currency: version.currency,
        timezone: customer.timezone,
        fees: fee_source(customer, plans).map_err(|e| Error::internal(e.to_string()))?,
        policy: version.policy.clone(),
        incidents: outages,
        exclusions,
        active: None,
        periods: vec![label],
    })
}

fn engine_error(label: PeriodLabel, e: impl std::fmt::Display) -> Error {
    Error::invalid(
        "plans.price",
        format!("{label}: the plan and incidents cannot be computed: {e}"),
    )
}

/// The engine at a price of 1, minimum left out (it is not linear in the price), for one
/// period: the [`SharedQuote`] customers of the profile scale.
fn unit_quote(input: &CreditInput, label: PeriodLabel) -> Result<SharedQuote, Error> {
    let mut unit = input.clone();
    if let FeeSource::History(segments) = &input.fees {
        unit.fees = FeeSource::History(
            segments
                .iter()
                .map(|s| PlanSegment {
                    since: s.since,
                    plan: crate::domain::fee::Plan {
                        price: rust_decimal::Decimal::ONE,
                        ..s.plan
                    },
                })
                .collect(),
        );
    }
    unit.policy.minimum = None;
    let result = compute(&unit).map_err(|e| engine_error(label, e))?;
    let periods = result
        .periods
        .iter()
        .filter(|p| p.label == label)
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
        unit_result: result,
    })
}

/// Computes every profile (in parallel; the result is in profile order).
pub fn compute_profiles(
    book: &Book,
    groups: &Groups,
    plans: &Plans,
    as_of: Nanos,
) -> Result<Vec<Profile>, Error> {
    groups
        .profile_keys
        .par_iter()
        .map(|key| {
            let customer = representative(book, key.zone, key.plan, key.since);
            let incidents = groups.incidents_of(book, key.membership);
            let periods = periods_for(&customer, plans, &incidents, as_of)?
                .into_iter()
                .map(|(label, relevant)| {
                    let input = credit_input(&customer, plans, label, &relevant, as_of)?;
                    Ok(ProfilePeriod {
                        label,
                        shared: unit_quote(&input, label)?,
                    })
                })
                .collect::<Result<Vec<_>, Error>>()?;
            Ok(Profile { periods })
        })
        .collect()
}

/// Computes every variant's breakdowns at its plan's price (in parallel, in variant order).
pub fn compute_variants(
    book: &Book,
    groups: &Groups,
    profiles: &[Profile],
    plans: &Plans,
    as_of: Nanos,
) -> Result<Vec<Vec<VariantPeriod>>, Error> {
    groups
        .variant_keys
        .par_iter()
        .map(|&(profile, plan)| {
            let Some(key) = groups.profile_keys.get(profile as usize) else {
                return Ok(Vec::new());
            };
            let customer = representative(book, key.zone, plan, key.since);
            let incidents = groups.incidents_of(book, key.membership);
            let wanted: Vec<PeriodLabel> = profiles
                .get(profile as usize)
                .map(|p| p.periods.iter().map(|pp| pp.label).collect())
                .unwrap_or_default();
            let mut out = Vec::with_capacity(wanted.len());
            for (label, relevant) in periods_for(&customer, plans, &incidents, as_of)? {
                if !wanted.contains(&label) {
                    continue;
                }
                let input = credit_input(&customer, plans, label, &relevant, as_of)?;
                let result = compute(&input).map_err(|e| engine_error(label, e))?;
                let period = result
                    .periods
                    .into_iter()
                    .find(|p| p.label == label)
                    .ok_or_else(|| Error::internal(format!("the engine returned no {label}")))?;
                out.push(VariantPeriod {
                    breakdown: period.breakdown,
                });
            }
            if out.len() != wanted.len() {
                return Err(Error::internal(
                    "a variant's periods differ from its profile's",
                ));
            }
            Ok(out)
        })
        .collect()
}
