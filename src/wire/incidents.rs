//! Incidents: the request forms (`POST /v1/incidents`, `PATCH`, `incidents add|update`, the
//! `incidents` CSV), their checks into commands, and the view answers are rendered from.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::domain::book::IncidentRecord;
use crate::domain::error::{field_error, Errors};
use crate::domain::ids::check_id;
use crate::domain::quote::check_impact;
use crate::domain::scope::{IncidentKind, Scope};
use crate::domain::time::{format_utc, Nanos};
use crate::domain::ValidationErrors;

use super::check::{check_instant, check_name};

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
        let started = e.take(check_instant(&self.started_at, "started_at"));
        let ended = match &self.ended_at {
            None => Some(None),
            Some(t) => e.take(check_instant(t, "ended_at")).map(Some),
        };
        if let (Some(s), Some(Some(t))) = (started, ended) {
            if t <= s {
                e.push("ended_at", "must be after started_at");
            }
        }
        let impact = e.take(check_impact(self.impact.as_ref(), "impact"));
        let scope = match &self.scope {
            None => Some(Scope::All),
            Some(v) => e.take_all(Scope::parse_value(v, "scope")),
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
            _ => Err(e.into_errors("body")),
        }
    }
}

/// PATCH of an incident: `ended_at` (to another instant; `null` is refused), `summary`,
/// `impact`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IncidentPatch {
    /// Kept as JSON so that an explicit `null` is told apart from an absent field.
    #[serde(default, deserialize_with = "present")]
    pub ended_at: Option<Value>,
    #[serde(default)]
    pub impact: Option<Value>,
    #[serde(default)]
    pub summary: Option<String>,
}

/// A field that is present, even as `null` (absent fields stay `None` by `default`).
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(d).map(Some)
}

/// A checked patch: what changes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CheckedPatch {
    pub ended_at: Option<Nanos>,
    pub impact: Option<Decimal>,
    pub summary: Option<String>,
}

impl IncidentPatch {
    pub fn check(&self) -> Result<CheckedPatch, ValidationErrors> {
        let mut e = Errors::new();
        let ended_at = match &self.ended_at {
            None => None,
            Some(Value::String(t)) => e.take(check_instant(t, "ended_at")),
            Some(Value::Null) => {
                e.push(
                    "ended_at",
                    "cannot be removed: give the instant the incident ended",
                );
                None
            }
            Some(_) => {
                e.push("ended_at", "must be an RFC 3339 instant string");
                None
            }
        };
        let impact = self
            .impact
            .as_ref()
            .and_then(|v| e.take(check_impact(Some(v), "impact")));
        if self.ended_at.is_none() && self.impact.is_none() && self.summary.is_none() {
            e.push_error(
                field_error("body", "changes nothing: give ended_at, impact or summary")
                    .with_code("required"),
            );
        }
        e.finish(CheckedPatch {
            ended_at,
            impact,
            summary: self.summary.clone(),
        })
    }
}

/// The view of an incident.
#[derive(Debug, Clone, Serialize)]
pub struct IncidentView {
    pub id: String,
    pub title: String,
    pub kind: String,
    pub started_at: String,
    pub ended_at: Option<String>,
    pub impact: String,
    pub summary: Option<String>,
    pub scope: Value,
}

impl From<&IncidentRecord> for IncidentView {
    fn from(i: &IncidentRecord) -> Self {
        let scope = match &i.scope {
            Scope::All => serde_json::json!({"all": true}),
            Scope::Plans(ids) => serde_json::json!({ "plans": ids }),
            Scope::Customers(ids) => serde_json::json!({ "customers": ids }),
        };
        IncidentView {
            id: i.id.clone(),
            title: i.title.clone(),
            kind: i.kind.as_str().to_string(),
            started_at: format_utc(i.started_at),
            ended_at: i.ended_at.map(format_utc),
            impact: i.impact.normalize().to_string(),
            summary: i.summary.clone(),
            scope,
        }
    }
}
