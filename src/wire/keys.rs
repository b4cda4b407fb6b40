//! API keys and roles: the request form of `keys create` and the role matrix.

use serde::Serialize;

use crate::domain::error::{field_error, Errors};
use crate::domain::ids::check_id;
use crate::domain::ValidationErrors;

/// What a key may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// Reads everything, quotes, dry-runs settlements.
    Support,
    /// Support, plus writes plans, customers, incidents, goodwill, reversals and settlements.
    Billing,
    /// Support, plus settlements, imports and exports.
    Finance,
    /// Everything.
    Admin,
}

/// The kinds of action the role matrix distinguishes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Access {
    /// No token needed: health, metrics, the spec, problem pages.
    Public,
    /// Every GET, quotes, dry-run settlements.
    Read,
    /// Plans, customers, plan changes, incidents.
    WriteBook,
    /// Goodwill credits and reversals.
    Credit,
    /// Settling an incident for real.
    Settle,
    /// Imports and exports.
    Transfer,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Support, Role::Billing, Role::Finance, Role::Admin];

    pub fn parse(s: &str) -> Result<Role, String> {
        match s {
            "support" => Ok(Role::Support),
            "billing" => Ok(Role::Billing),
            "finance" => Ok(Role::Finance),
            "admin" => Ok(Role::Admin),
            _ => Err("must be one of admin, billing, finance, support".into()),
        }
    }

    pub fn as_str(&self) -> &'static str {
        match self {
            Role::Support => "support",
            Role::Billing => "billing",
            Role::Finance => "finance",
            Role::Admin => "admin",
        }
    }

    /// The role matrix.
    pub fn may(&self, access: Access) -> bool {
        match access {
            Access::Public | Access::Read => true,
            Access::WriteBook | Access::Credit => matches!(self, Role::Billing | Role::Admin),
            Access::Settle => matches!(self, Role::Billing | Role::Finance | Role::Admin),
            Access::Transfer => matches!(self, Role::Finance | Role::Admin),
        }
    }
}

/// A checked new key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewKey {
    pub name: String,
    pub role: Role,
}

/// Checks `keys create --name NAME --role ROLE`.
pub fn check_new_key(name: &str, role: &str) -> Result<NewKey, ValidationErrors> {
    let mut e = Errors::new();
    e.take(check_id(name, "name"));
    let role = e.take(Role::parse(role).map_err(|m| field_error("role", m)));
    match role {
        Some(role) => e.finish(NewKey {
            name: name.to_string(),
            role,
        }),
        None => Err(e.into_errors("role")),
    }
}

/// A key as listed (never its token).
#[derive(Debug, Clone, Serialize)]
pub struct KeyView {
    pub name: String,
    pub role: String,
    pub created_at: String,
    pub revoked_at: Option<String>,
}
