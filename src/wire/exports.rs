//! Billing export batches (docs/csv.md, "Exports"): one line per ledger entry as the CSV
//! carries it, the view of a batch, and the acknowledgement form.

use serde::{Deserialize, Serialize};

use crate::domain::error::Errors;
use crate::domain::ids::check_id;
use crate::domain::ValidationErrors;

use super::credits::Total;
use super::imports::parse_prefixed;

/// The export's columns, in order (docs/csv.md).
pub const EXPORT_COLUMNS: [&str; 18] = [
    "entry_id",
    "kind",
    "customer_id",
    "customer_name",
    "period",
    "amount",
    "currency",
    "incident_ids",
    "reason",
    "reverses",
    "settlement_id",
    "export_id",
    "created_at",
    "created_by",
    "plan_id",
    "policy_version",
    "rounding",
    "explanation",
];

/// One entry as exported: every cell as text, in [`EXPORT_COLUMNS`] order. `amount` is a
/// plain signed decimal with the currency's minor digits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportLine {
    pub entry_id: String,
    pub kind: String,
    pub customer_id: String,
    pub customer_name: String,
    pub period: String,
    pub amount: String,
    pub currency: String,
    pub incident_ids: String,
    pub reason: String,
    pub reverses: String,
    pub settlement_id: String,
    pub export_id: String,
    pub created_at: String,
    pub created_by: String,
    pub plan_id: String,
    pub policy_version: String,
    pub rounding: String,
    pub explanation: String,
}

/// A batch as answered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExportView {
    pub id: String,
    pub created_at: String,
    pub created_by: String,
    /// `created`, or `acknowledged` once billing has loaded it.
    pub status: String,
    pub rows: u64,
    pub totals: Vec<Total>,
    pub sha256: String,
    pub acknowledged_at: Option<String>,
    pub reference: Option<String>,
}

/// The prefix of an export batch's public id.
pub const EXPORT_PREFIX: &str = "exp_";

/// A batch's public id (`exp_2`).
pub fn export_id(n: i64) -> String {
    crate::domain::ids::prefixed_id(EXPORT_PREFIX, n)
}

/// Reads a batch's public id.
pub fn parse_export_id(text: &str) -> Option<i64> {
    parse_prefixed(text, EXPORT_PREFIX)
}

/// `{reference}`: billing's own name for the load (an id-like word).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AcknowledgementInput {
    pub reference: String,
}

impl AcknowledgementInput {
    pub fn check(&self) -> Result<String, ValidationErrors> {
        let mut e = Errors::new();
        e.take(check_id(&self.reference, "reference"));
        e.finish(self.reference.clone())
    }
}

/// `?status=` of the batch list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportStatus {
    Created,
    Acknowledged,
}

impl ExportStatus {
    pub fn parse(s: &str) -> Result<ExportStatus, String> {
        match s {
            "created" => Ok(ExportStatus::Created),
            "acknowledged" => Ok(ExportStatus::Acknowledged),
            _ => Err(format!("{s:?} is not one of created, acknowledged")),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ExportStatus::Created => "created",
            ExportStatus::Acknowledged => "acknowledged",
        }
    }
}
