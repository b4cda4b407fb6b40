//! Customers: the request forms (`POST /v1/customers`, plan changes, `customers add`, the
//! `customers` CSV), their checks into commands, and the view answers are rendered from.

use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::domain::book::Customer;
use crate::domain::error::{field_error, Errors};
use crate::domain::ids::check_id;
use crate::domain::time::{format_local, format_utc, parse_zone, Nanos};
use crate::domain::ValidationErrors;

use super::check::{check_email, check_instant, check_name};

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
            Some(t) => e.take(check_instant(t, "plan_since")),
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
            _ => Err(e.into_errors("body")),
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
        let at = e.take(check_instant(&self.effective_at, "effective_at"));
        match at {
            Some(at) => e.finish((self.plan_id.clone(), at)),
            None => Err(e.into_errors("body")),
        }
    }
}

/// The view of a customer: the fields of the form, the current plan and the plan history
/// (instants in UTC and in the customer's zone).
#[derive(Debug, Clone, Serialize)]
pub struct CustomerView {
    pub id: String,
    pub name: String,
    pub email: Option<String>,
    pub timezone: String,
    pub plan_id: String,
    pub plan_since: String,
    pub plan_since_local: String,
    pub plan_history: Vec<PlanChangeView>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PlanChangeView {
    pub plan_id: String,
    pub effective_at: String,
    pub effective_at_local: String,
}

impl From<&Customer> for CustomerView {
    fn from(c: &Customer) -> Self {
        let since = c.history.last().map_or(0, |(t, _)| *t);
        CustomerView {
            id: c.id.clone(),
            name: c.name.clone(),
            email: c.email.clone(),
            timezone: c.timezone.name().to_string(),
            plan_id: c.plan_id().to_string(),
            plan_since: format_utc(since),
            plan_since_local: format_local(since, c.timezone),
            plan_history: c
                .history
                .iter()
                .map(|(t, p)| PlanChangeView {
                    plan_id: p.clone(),
                    effective_at: format_utc(*t),
                    effective_at_local: format_local(*t, c.timezone),
                })
                .collect(),
        }
    }
}
