//! Plans: the request forms (`POST /v1/plans`, `PUT /v1/plans/{id}`, `plans add|update`, the
//! `plans` CSV), their checks into commands, and the view answers are rendered from.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::domain::book::PlanVersion;
use crate::domain::error::{field_error, Errors};
use crate::domain::fee::{AnnualSplit, BillingCycle, Plan};
use crate::domain::ids::check_id;
use crate::domain::money::Currency;
use crate::domain::policy::Policy;
use crate::domain::quote::check_plan;
use crate::domain::time::{format_utc, Nanos};
use crate::domain::ValidationErrors;

use super::check::{check_instant, check_name, check_policy, check_price_digits};

/// `{id, name, price, currency, billing_cycle, annual_split?, policy}`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanInput {
    pub id: String,
    pub name: String,
    pub price: Value,
    pub currency: String,
    pub billing_cycle: String,
    #[serde(default)]
    pub annual_split: Option<String>,
    pub policy: Value,
}

/// A checked new plan: its first version.
#[derive(Debug, Clone, PartialEq)]
pub struct NewPlan {
    pub id: String,
    pub name: String,
    pub currency: Currency,
    pub plan: Plan,
    pub policy: Policy,
}

impl PlanInput {
    pub fn check(&self) -> Result<NewPlan, ValidationErrors> {
        let mut e = Errors::new();
        e.take(check_id(&self.id, "id"));
        check_name(&self.name, "name", &mut e);
        let currency =
            e.take(Currency::parse(&self.currency).map_err(|m| field_error("currency", m)));
        let plan = check_plan(
            &self.price,
            &self.billing_cycle,
            self.annual_split.as_deref(),
            "",
            &mut e,
        );
        let policy = e.take_all(check_policy(&self.policy, "policy"));
        if let (Some(currency), Some(plan)) = (currency, plan) {
            check_price_digits(plan.price, currency, "price", &mut e);
        }
        match (currency, plan, policy) {
            (Some(currency), Some(plan), Some(policy)) => e.finish(NewPlan {
                id: self.id.clone(),
                name: self.name.clone(),
                currency,
                plan,
                policy,
            }),
            _ => Err(e.into_errors("body")),
        }
    }
}

/// `PUT /v1/plans/{id}`: the whole plan again (currency unchanged), plus `effective_at`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanPutInput {
    /// If given, must be the path's id.
    #[serde(default)]
    pub id: Option<String>,
    pub name: String,
    pub price: Value,
    pub currency: String,
    pub billing_cycle: String,
    #[serde(default)]
    pub annual_split: Option<String>,
    pub policy: Value,
    #[serde(default)]
    pub effective_at: Option<String>,
}

impl PlanPutInput {
    /// Checks the body against the path's id; the currency is checked against the stored
    /// plan when the update is applied.
    pub fn check(&self, path_id: &str) -> Result<(PlanUpdate, Currency), ValidationErrors> {
        let mut e = Errors::new();
        if let Some(id) = &self.id {
            if id != path_id {
                e.push(
                    "id",
                    format!("must be the path's id {path_id:?} when given"),
                );
            }
        }
        let currency =
            e.take(Currency::parse(&self.currency).map_err(|m| field_error("currency", m)));
        let update = e.take_all(
            PlanUpdateInput {
                name: Some(self.name.clone()),
                price: Some(self.price.clone()),
                billing_cycle: Some(self.billing_cycle.clone()),
                annual_split: Some(
                    self.annual_split
                        .clone()
                        .unwrap_or_else(|| AnnualSplit::default().as_str().to_string()),
                ),
                policy: Some(self.policy.clone()),
                effective_at: self.effective_at.clone(),
            }
            .check_fields(),
        );
        match (update, currency) {
            (Some(u), Some(c)) => e.finish((u, c)),
            _ => Err(e.into_errors("body")),
        }
    }
}

/// A new version of a plan: the fields given replace the current version's
/// (`plans update`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanUpdateInput {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub price: Option<Value>,
    #[serde(default)]
    pub billing_cycle: Option<String>,
    #[serde(default)]
    pub annual_split: Option<String>,
    #[serde(default)]
    pub policy: Option<Value>,
    /// When the version takes effect (default: now).
    #[serde(default)]
    pub effective_at: Option<String>,
}

/// A checked update: each field the new version changes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PlanUpdate {
    pub name: Option<String>,
    pub price: Option<Decimal>,
    pub billing_cycle: Option<BillingCycle>,
    pub annual_split: Option<AnnualSplit>,
    pub policy: Option<Policy>,
    pub effective_at: Option<Nanos>,
}

impl PlanUpdateInput {
    /// Checks an update that must change something.
    pub fn check(&self) -> Result<PlanUpdate, ValidationErrors> {
        let u = self.check_fields()?;
        if u.name.is_none()
            && u.price.is_none()
            && u.billing_cycle.is_none()
            && u.annual_split.is_none()
            && u.policy.is_none()
        {
            return Err(ValidationErrors::coded(
                "body",
                "required",
                "changes nothing: give at least one of name, price, billing_cycle, \
                 annual_split, policy",
            ));
        }
        Ok(u)
    }

    fn check_fields(&self) -> Result<PlanUpdate, ValidationErrors> {
        let mut e = Errors::new();
        if let Some(name) = &self.name {
            check_name(name, "name", &mut e);
        }
        let price = self.price.as_ref().and_then(|p| {
            let mut probe = Errors::new();
            let plan = check_plan(p, "monthly", None, "", &mut probe);
            e.take_all(probe.finish(()));
            plan.map(|p| p.price)
        });
        let billing_cycle = self.billing_cycle.as_ref().and_then(|c| {
            e.take(BillingCycle::parse(c).map_err(|m| field_error("billing_cycle", m)))
        });
        let annual_split = self.annual_split.as_ref().and_then(|s| {
            e.take(AnnualSplit::parse(s).map_err(|m| field_error("annual_split", m)))
        });
        let policy = self
            .policy
            .as_ref()
            .and_then(|p| e.take_all(check_policy(p, "policy")));
        let effective_at = self
            .effective_at
            .as_ref()
            .and_then(|t| e.take(check_instant(t, "effective_at")));
        e.finish(PlanUpdate {
            name: self.name.clone(),
            price,
            billing_cycle,
            annual_split,
            policy,
            effective_at,
        })
    }
}

/// The next version an update makes of the current one.
#[derive(Debug, Clone, PartialEq)]
pub struct NextVersion {
    pub name: String,
    pub plan: Plan,
    pub policy: Policy,
    pub effective_at: Nanos,
}

impl PlanUpdate {
    /// Applies the update to the current version; `Ok(None)` when it would change nothing.
    pub fn apply(
        &self,
        current: &PlanVersion,
        now: Nanos,
    ) -> Result<Option<NextVersion>, ValidationErrors> {
        let mut e = Errors::new();
        let plan = Plan {
            price: self.price.unwrap_or(current.plan.price),
            billing_cycle: self.billing_cycle.unwrap_or(current.plan.billing_cycle),
            annual_split: self.annual_split.unwrap_or(current.plan.annual_split),
        };
        check_price_digits(plan.price, current.currency, "price", &mut e);
        let next = NextVersion {
            name: self.name.clone().unwrap_or_else(|| current.name.clone()),
            plan,
            policy: self
                .policy
                .clone()
                .unwrap_or_else(|| current.policy.clone()),
            effective_at: self.effective_at.unwrap_or(now),
        };
        let unchanged = next.name == current.name
            && next.plan.price == current.plan.price
            && next.plan.billing_cycle == current.plan.billing_cycle
            && next.plan.annual_split == current.plan.annual_split
            && next.policy == current.policy;
        if unchanged {
            return e.finish(None);
        }
        if next.effective_at <= current.effective_at {
            e.push(
                "effective_at",
                format!(
                    "must be after version {}'s ({})",
                    current.version,
                    format_utc(current.effective_at)
                ),
            );
        }
        e.finish(Some(next))
    }
}

/// The view of a plan version (the plan fields plus `version` and `effective_at`).
#[derive(Debug, Clone, Serialize)]
pub struct PlanView {
    pub id: String,
    pub name: String,
    pub version: i64,
    pub price: String,
    pub currency: String,
    pub billing_cycle: String,
    pub annual_split: String,
    pub policy: Value,
    pub effective_at: String,
}

impl From<&PlanVersion> for PlanView {
    fn from(v: &PlanVersion) -> Self {
        PlanView {
            id: v.plan_id.clone(),
            name: v.name.clone(),
            version: v.version,
            price: v.currency.format(v.plan.price),
            currency: v.currency.code().to_string(),
            billing_cycle: v.plan.billing_cycle.as_str().to_string(),
            annual_split: v.plan.annual_split.as_str().to_string(),
            policy: serde_json::from_str(&v.policy_json).unwrap_or(Value::Null),
            effective_at: format_utc(v.effective_at),
        }
    }
}
