//! CSV imports (docs/csv.md): the kinds and their columns, row-positioned errors, the checked
//! rows the store runs (the same commands the JSON API makes), and the view of an import.

use std::fmt;

use serde::Serialize;

use super::customers::NewCustomer;
use super::incidents::NewIncident;
use super::plans::NewPlan;

/// What a file imports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ImportKind {
    Customers,
    Plans,
    Incidents,
}

impl ImportKind {
    pub const ALL: [ImportKind; 3] = [
        ImportKind::Customers,
        ImportKind::Plans,
        ImportKind::Incidents,
    ];

    pub fn parse(s: &str) -> Result<ImportKind, String> {
        match s {
            "customers" => Ok(ImportKind::Customers),
            "plans" => Ok(ImportKind::Plans),
            "incidents" => Ok(ImportKind::Incidents),
            _ => Err(format!("{s:?} is not one of customers, plans, incidents")),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ImportKind::Customers => "customers",
            ImportKind::Plans => "plans",
            ImportKind::Incidents => "incidents",
        }
    }

    /// The columns of the kind's format with whether each is required (docs/csv.md).
    pub fn columns(self) -> &'static [(&'static str, bool)] {
        match self {
            ImportKind::Customers => &[
                ("id", true),
                ("name", true),
                ("email", false),
                ("timezone", false),
                ("plan_id", true),
                ("plan_since", false),
            ],
            ImportKind::Plans => &[
                ("id", true),
                ("name", true),
                ("price", true),
                ("currency", true),
                ("billing_cycle", true),
                ("annual_split", false),
                ("policy", true),
            ],
            ImportKind::Incidents => &[
                ("id", true),
                ("title", true),
                ("kind", false),
                ("started_at", true),
                ("ended_at", false),
                ("impact", false),
                ("scope", false),
                ("summary", false),
            ],
        }
    }
}

/// One problem in one cell: the row as a spreadsheet shows it (the header is row 1), the
/// column's header name, the cell's text, a stable code and a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RowError {
    pub row: u64,
    pub column: String,
    pub value: String,
    pub code: &'static str,
    pub message: String,
}

impl fmt::Display for RowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "row {}, column {}: {}",
            self.row, self.column, self.message
        )
    }
}

/// How many row errors an answer lists; the total is always counted.
pub const MAX_LISTED_ERRORS: usize = 1_000;

/// Every row error of a file: the first [`MAX_LISTED_ERRORS`] and the count of all.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RowErrors {
    pub listed: Vec<RowError>,
    pub total: usize,
}

impl RowErrors {
    pub fn push(&mut self, e: RowError) {
        self.total += 1;
        if self.listed.len() < MAX_LISTED_ERRORS {
            self.listed.push(e);
        }
    }

    pub fn extend(&mut self, list: impl IntoIterator<Item = RowError>) {
        for e in list {
            self.push(e);
        }
    }

    pub fn is_empty(&self) -> bool {
        self.total == 0
    }
}

impl fmt::Display for RowErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.listed.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        if self.total > self.listed.len() {
            write!(f, "\n… {} errors in all", self.total)?;
        }
        Ok(())
    }
}

/// A row checked by the same command the JSON API uses.
#[derive(Debug, Clone, PartialEq)]
pub enum CheckedRow {
    Customer(NewCustomer),
    Plan(NewPlan),
    Incident(NewIncident),
}

/// What a reader hands the store for each data row.
#[derive(Debug)]
pub enum RowItem {
    /// A row that passed its checks, with its row number.
    Row(u64, CheckedRow),
    /// A row with problems.
    Bad(Vec<RowError>),
    /// The file cannot be read further (an I/O error).
    Fatal(super::Error),
}

/// An import as answered: a dry run has no id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImportView {
    pub id: Option<String>,
    pub kind: String,
    pub rows: u64,
    pub sha256: String,
    pub dry_run: bool,
    pub created_at: Option<String>,
    pub created_by: Option<String>,
    /// The same file (kind and SHA-256) was imported before: this is that import, and
    /// nothing was stored now.
    pub already_imported: bool,
}

/// The prefix of an import's public id.
pub const IMPORT_PREFIX: &str = "imp_";

/// An import's public id (`imp_3`).
pub fn import_id(n: i64) -> String {
    format!("{IMPORT_PREFIX}{n}")
}

/// Reads an import's public id.
pub fn parse_import_id(text: &str) -> Option<i64> {
    parse_prefixed(text, IMPORT_PREFIX)
}

/// Reads `PREFIX` followed by a positive number.
pub fn parse_prefixed(text: &str, prefix: &str) -> Option<i64> {
    let digits = text.strip_prefix(prefix)?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok().filter(|n| *n > 0)
}
