//! Row structs: what diesel reads and writes, one per table, in the schema's column order.
//! `New*` structs are inserts. Conversions to domain values live beside the queries that use
//! them.

use diesel::prelude::*;

use super::schema::{
    credit_breakdowns, customers, incident_customers, incident_plans, incidents, ledger_entries,
    plan_changes, plan_versions, plans,
};

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = plans, check_for_backend(diesel::sqlite::Sqlite))]
pub struct PlanRow {
    pub id: String,
    pub currency: String,
    pub created_at: String,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = plan_versions, check_for_backend(diesel::sqlite::Sqlite))]
pub struct PlanVersionRow {
    pub plan_id: String,
    pub version: i64,
    pub name: String,
    pub price: String,
    pub billing_cycle: String,
    pub annual_split: String,
    pub policy: String,
    pub effective_at: String,
    pub created_at: String,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = customers, check_for_backend(diesel::sqlite::Sqlite))]
#[diesel(treat_none_as_default_value = false)]
pub struct CustomerRow {
    pub id: String,
    pub name: String,
    pub email: Option<String>,
    pub timezone: String,
    pub created_at: String,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = plan_changes, check_for_backend(diesel::sqlite::Sqlite))]
pub struct PlanChangeRow {
    pub customer_id: String,
    pub effective_at: String,
    pub plan_id: String,
    pub created_at: String,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = incidents, check_for_backend(diesel::sqlite::Sqlite))]
#[diesel(treat_none_as_default_value = false)]
pub struct IncidentRow {
    pub id: String,
    pub title: String,
    pub kind: String,
    pub started_at: String,
    pub ended_at: Option<String>,
    pub impact: String,
    pub summary: Option<String>,
    pub scope: String,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = incident_plans, check_for_backend(diesel::sqlite::Sqlite))]
pub struct IncidentPlanRow {
    pub incident_id: String,
    pub plan_id: String,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = incident_customers, check_for_backend(diesel::sqlite::Sqlite))]
pub struct IncidentCustomerRow {
    pub incident_id: String,
    pub customer_id: String,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = credit_breakdowns, check_for_backend(diesel::sqlite::Sqlite))]
pub struct BreakdownRow {
    pub sha256: String,
    pub body: String,
}

/// One ledger entry as stored, the columns every read of an entry takes.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = ledger_entries, check_for_backend(diesel::sqlite::Sqlite))]
#[diesel(treat_none_as_default_value = false)]
pub struct EntryRow {
    pub id: i64,
    pub kind: String,
    pub customer_id: String,
    pub period: String,
    pub amount_minor: i64,
    pub currency: String,
    pub minor_units: i64,
    pub incident_ids: String,
    pub reason: Option<String>,
    pub created_at: String,
    pub created_by: String,
    pub reverses: Option<i64>,
    pub plan_id: Option<String>,
    pub policy_version: Option<i64>,
    pub rounding: Option<String>,
    pub explanation: String,
    pub breakdown_sha256: Option<String>,
    pub as_of: Option<String>,
    pub tzdb_version: String,
    pub engine_version: String,
}

/// A ledger entry being appended: the entry, and two facts an export reads that no view of
/// an entry shows (reads select [`EntryRow`] only, so they do not decode them).
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = ledger_entries, check_for_backend(diesel::sqlite::Sqlite))]
#[diesel(treat_none_as_default_value = false)]
pub struct NewEntryRow {
    #[diesel(embed)]
    pub entry: EntryRow,
    /// The customer's name when the entry was appended (`None` before migration
    /// 2026-12-02-000011).
    pub customer_name: Option<String>,
    /// The recorded settlement that appended the entry (`None` for goodwill, reversals, runs
    /// not recorded, and every entry before migration 2026-12-02-000011).
    pub settlement_id: Option<i64>,
}
