//! The wire forms of stored records (api.md: plans, customers, plan changes, incidents) and the
//! checks that turn them into domain values. Shared by the command line and, later, the HTTP
//! DTOs; no SQL here. Every problem names its field and all are listed together.

use chrono_tz::Tz;
use rust_decimal::Decimal;
use serde::Deserialize;
use serde_json::Value;

use crate::domain::error::{field_error, Errors};
use crate::domain::fee::Plan;
use crate::domain::money::Currency;
use crate::domain::policy::{Policy, PolicySpec};
use crate::domain::presets;
use crate::domain::quote::{check_impact, check_plan, from_value_at};
use crate::domain::time::{parse_instant, parse_zone, Nanos};
use crate::domain::ValidationErrors;

use super::convert::check_id;

/// Reads a policy: a policy object, `{"preset": NAME, …overrides}` or a bare preset name.
pub fn check_policy(value: &Value, at: &str) -> Result<Policy, ValidationErrors> {
    let resolved = presets::resolve(value, at).map_err(|e| ValidationErrors(vec![e]))?;
    let spec: PolicySpec = from_value_at(resolved, at)?;
    Policy::from_spec(&spec, at)
}

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
        let policy = take_all(&mut e, check_policy(&self.policy, "policy"));
        if let (Some(currency), Some(plan)) = (currency, plan) {
            check_price_digits(plan.price, currency, &mut e);
        }
        match (currency, plan, policy) {
            (Some(currency), Some(plan), Some(policy)) => e.finish(NewPlan {
                id: self.id.clone(),
                name: self.name.clone(),
                currency,
                plan,
                policy,
            }),
            _ => Err(finish(e)),
        }
    }
}

/// A new version of a plan: the fields given replace the current version's.
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

/// `{id, name, email?, timezone?, plan_id, plan_since?}`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomerInput {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub timezone: Option<String>,
    pub plan_id: String,
    /// When the customer's first plan starts; absent: since 1970 (the plan has always applied).
    #[serde(default)]
    pub plan_since: Option<String>,
}

/// A checked new customer (the plan's existence is checked by the store).
#[derive(Debug, Clone, PartialEq)]
pub struct NewCustomer {
    pub id: String,
    pub name: String,
    pub email: Option<String>,
    pub timezone: Tz,
    pub plan_id: String,
    pub plan_since: Nanos,
}

impl CustomerInput {
    pub fn check(&self) -> Result<NewCustomer, ValidationErrors> {
        let mut e = Errors::new();
        e.take(check_id(&self.id, "id"));
        check_name(&self.name, "name", &mut e);
        if let Some(email) = &self.email {
            e.take(check_email(email, "email"));
        }
        let timezone = match &self.timezone {
            None => Some(chrono_tz::UTC),
            Some(z) => e.take(parse_zone(z).map_err(|m| field_error("timezone", m))),
        };
        e.take(check_id(&self.plan_id, "plan_id"));
        let plan_since = match &self.plan_since {
            None => Some(0),
            Some(t) => e.take(parse_instant(t).map_err(|m| field_error("plan_since", m))),
        };
        match (timezone, plan_since) {
            (Some(timezone), Some(plan_since)) => e.finish(NewCustomer {
                id: self.id.clone(),
                name: self.name.clone(),
                email: self.email.clone(),
                timezone,
                plan_id: self.plan_id.clone(),
                plan_since,
            }),
            _ => Err(finish(e)),
        }
    }
}

/// `{plan_id, effective_at}`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanChangeInput {
    pub plan_id: String,
    pub effective_at: String,
}

impl PlanChangeInput {
    pub fn check(&self) -> Result<(String, Nanos), ValidationErrors> {
        let mut e = Errors::new();
        e.take(check_id(&self.plan_id, "plan_id"));
        let at =
            e.take(parse_instant(&self.effective_at).map_err(|m| field_error("effective_at", m)));
        match at {
            Some(at) => e.finish((self.plan_id.clone(), at)),
            None => Err(finish(e)),
        }
    }
}

/// `outage` counts as downtime; `maintenance` is excluded from downtime (credit-rules §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IncidentKind {
    Outage,
    Maintenance,
}

impl IncidentKind {
    pub fn parse(s: &str) -> Result<Self, String> {
        match s {
            "outage" => Ok(IncidentKind::Outage),
            "maintenance" => Ok(IncidentKind::Maintenance),
            _ => Err("must be one of outage, maintenance".into()),
        }
    }

    pub fn as_str(&self) -> &'static str {
        match self {
            IncidentKind::Outage => "outage",
            IncidentKind::Maintenance => "maintenance",
        }
    }
}

/// Which customers an incident concerns.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Scope {
    #[default]
    All,
    /// Customers whose plan at the incident's start is one of these.
    Plans(Vec<String>),
    /// These customers.
    Customers(Vec<String>),
}

impl Scope {
    pub fn as_str(&self) -> &'static str {
        match self {
            Scope::All => "all",
            Scope::Plans(_) => "plans",
            Scope::Customers(_) => "customers",
        }
    }

    /// The CSV/CLI form: `all`, `plans:ID ID …` or `customers:ID ID …`.
    pub fn parse_text(text: &str, field: &str) -> Result<Scope, ValidationErrors> {
        let t = text.trim();
        if t.is_empty() || t == "all" {
            return Ok(Scope::All);
        }
        let (kind, ids) = t.split_once(':').ok_or_else(|| {
            ValidationErrors::one(field, "must be all, plans:ID ID … or customers:ID ID …")
        })?;
        let ids: Vec<String> = ids.split_whitespace().map(str::to_string).collect();
        Self::from_parts(kind.trim(), ids, field)
    }

    /// The JSON form: `{"all": true}`, `{"plans": [ids]}` or `{"customers": [ids]}`; a string
    /// is read as the text form.
    pub fn parse_value(v: &Value, field: &str) -> Result<Scope, ValidationErrors> {
        match v {
            Value::String(s) => Self::parse_text(s, field),
            Value::Object(map) if map.len() == 1 => {
                let (k, v) = map
                    .iter()
                    .next()
                    .ok_or_else(|| ValidationErrors::one(field, "is empty"))?;
                match (k.as_str(), v) {
                    ("all", Value::Bool(true)) => Ok(Scope::All),
                    ("plans" | "customers", Value::Array(items)) => {
                        let mut ids = Vec::with_capacity(items.len());
                        for (i, item) in items.iter().enumerate() {
                            match item {
                                Value::String(s) => ids.push(s.clone()),
                                _ => {
                                    return Err(ValidationErrors::one(
                                        format!("{field}.{k}[{i}]"),
                                        "must be an id string",
                                    ))
                                }
                            }
                        }
                        Self::from_parts(k, ids, field)
                    }
                    _ => Err(ValidationErrors::one(
                        field,
                        "must be {\"all\": true}, {\"plans\": [ids]} or {\"customers\": [ids]}",
                    )),
                }
            }
            _ => Err(ValidationErrors::one(
                field,
                "must be {\"all\": true}, {\"plans\": [ids]} or {\"customers\": [ids]}",
            )),
        }
    }

    fn from_parts(
        kind: &str,
        mut ids: Vec<String>,
        field: &str,
    ) -> Result<Scope, ValidationErrors> {
        let mut e = Errors::new();
        if ids.is_empty() {
            e.push(field, format!("{kind}: lists no id"));
        }
        for (i, id) in ids.iter().enumerate() {
            e.take(check_id(id, &format!("{field}.{kind}[{i}]")));
        }
        ids.sort();
        ids.dedup();
        let scope = match kind {
            "plans" => Scope::Plans(ids),
            "customers" => Scope::Customers(ids),
            _ => {
                e.push(field, "must be all, plans:ID ID … or customers:ID ID …");
                Scope::All
            }
        };
        e.finish(scope)
    }
}

/// `{id, title, kind?, started_at, ended_at?, impact?, summary?, scope?}`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IncidentInput {
    pub id: String,
    pub title: String,
    #[serde(default)]
    pub kind: Option<String>,
    pub started_at: String,
    #[serde(default)]
    pub ended_at: Option<String>,
    #[serde(default)]
    pub impact: Option<Value>,
    #[serde(default)]
    pub summary: Option<String>,
    #[serde(default)]
    pub scope: Option<Value>,
}

/// A checked incident.
#[derive(Debug, Clone, PartialEq)]
pub struct NewIncident {
    pub id: String,
    pub title: String,
    pub kind: IncidentKind,
    pub started_at: Nanos,
    pub ended_at: Option<Nanos>,
    pub impact: Decimal,
    pub summary: Option<String>,
    pub scope: Scope,
}

impl IncidentInput {
    pub fn check(&self) -> Result<NewIncident, ValidationErrors> {
        let mut e = Errors::new();
        e.take(check_id(&self.id, "id"));
        check_name(&self.title, "title", &mut e);
        let kind = match &self.kind {
            None => Some(IncidentKind::Outage),
            Some(k) => e.take(IncidentKind::parse(k).map_err(|m| field_error("kind", m))),
        };
        let started =
            e.take(parse_instant(&self.started_at).map_err(|m| field_error("started_at", m)));
        let ended = match &self.ended_at {
            None => Some(None),
            Some(t) => e
                .take(parse_instant(t).map_err(|m| field_error("ended_at", m)))
                .map(Some),
        };
        if let (Some(s), Some(Some(t))) = (started, ended) {
            if t <= s {
                e.push("ended_at", "must be after started_at");
            }
        }
        let impact = e.take(check_impact(self.impact.as_ref(), "impact"));
        let scope = match &self.scope {
            None => Some(Scope::All),
            Some(v) => take_all(&mut e, Scope::parse_value(v, "scope")),
        };
        match (kind, started, ended, impact, scope) {
            (Some(kind), Some(started_at), Some(ended_at), Some(impact), Some(scope)) => {
                e.finish(NewIncident {
                    id: self.id.clone(),
                    title: self.title.clone(),
                    kind,
                    started_at,
                    ended_at,
                    impact,
                    summary: self.summary.clone(),
                    scope,
                })
            }
            _ => Err(finish(e)),
        }
    }
}

/// PATCH of an incident: `ended_at`, `summary`, `impact`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IncidentPatch {
    #[serde(default)]
    pub ended_at: Option<String>,
    #[serde(default)]
    pub impact: Option<Value>,
    #[serde(default)]
    pub summary: Option<String>,
}

/// A checked patch.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CheckedPatch {
    pub ended_at: Option<Nanos>,
    pub impact: Option<Decimal>,
    pub summary: Option<String>,
}

impl IncidentPatch {
    pub fn check(&self) -> Result<CheckedPatch, ValidationErrors> {
        let mut e = Errors::new();
        let ended_at = self
            .ended_at
            .as_ref()
            .and_then(|t| e.take(parse_instant(t).map_err(|m| field_error("ended_at", m))));
        let impact = self
            .impact
            .as_ref()
            .and_then(|v| e.take(check_impact(Some(v), "impact")));
        e.finish(CheckedPatch {
            ended_at,
            impact,
            summary: self.summary.clone(),
        })
    }
}

/// A name or title: 1 to 500 characters.
fn check_name(s: &str, field: &str, e: &mut Errors) {
    if s.trim().is_empty() {
        e.push(field, "must not be empty");
    } else if s.chars().count() > 500 {
        e.push(field, "must be at most 500 characters");
    }
}

/// A plausible e-mail address: one `@` with text on both sides, no spaces, at most 254 bytes.
pub fn check_email(s: &str, field: &str) -> Result<(), crate::domain::FieldError> {
    let ok = s.len() <= 254
        && !s.chars().any(char::is_whitespace)
        && s.split_once('@')
            .is_some_and(|(a, b)| !a.is_empty() && !b.is_empty() && !b.contains('@'));
    if ok {
        Ok(())
    } else {
        Err(field_error(
            field,
            format!("{s:?} is not an e-mail address"),
        ))
    }
}

/// A price must be expressible in the currency's minor unit.
pub fn check_price_digits(price: Decimal, currency: Currency, e: &mut Errors) {
    if price.normalize().scale() > currency.minor_units() {
        e.push(
            "price",
            format!(
                "has more decimals than {}'s {}",
                currency.code(),
                currency.minor_units()
            ),
        );
    }
}

fn take_all<T>(e: &mut Errors, r: Result<T, ValidationErrors>) -> Option<T> {
    match r {
        Ok(v) => Some(v),
        Err(ValidationErrors(list)) => {
            for fe in list {
                e.push(fe.field, fe.message);
            }
            None
        }
    }
}

fn finish(e: Errors) -> ValidationErrors {
    match e.into_result() {
        Err(v) => v,
        Ok(()) => ValidationErrors::one("body", "is not valid"),
    }
}
