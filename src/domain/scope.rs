//! What an incident is and whom it concerns (docs/rules.md §3, §6): an `outage` counts as
//! downtime, a `maintenance` window is excluded from it; the scope names every customer, the
//! customers on some plans, or some customers by id. Both text (import files, command line) and JSON
//! forms are read here, so every door agrees on them.

use serde_json::Value;

use super::error::Errors;
use super::ids::check_id;
use super::ValidationErrors;

/// `outage` counts as downtime; `maintenance` is excluded from downtime (docs/rules.md §3).
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

    /// The text form (import files, command line): `all`, `plans:ID ID …` or `customers:ID ID …`.
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
