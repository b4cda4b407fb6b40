//! Appending to the ledger: the next entry id and multi-row INSERTs of entries and their
//! content-addressed breakdowns. Shared by goodwill, reversals and settlement; the database's
//! triggers refuse any UPDATE or DELETE of what is appended here.

use diesel::prelude::*;

use crate::wire::Error;

use super::models::{BreakdownRow, EntryRow};
use super::schema::{credit_breakdowns, ledger_entries};
use super::sqlite::Conn;

/// Rows per multi-row INSERT: 20 columns × 1,000 rows stays under SQLite's 32,766 variables.
pub const ENTRY_INSERT_CHUNK: usize = 1_000;

/// The next free entry id. Only meaningful inside a write transaction (the write lock is
/// held, so nobody else appends in between).
pub fn next_entry_id(conn: &mut Conn) -> Result<i64, Error> {
    let max: Option<i64> = ledger_entries::table
        .select(diesel::dsl::max(ledger_entries::id))
        .first(conn)?;
    Ok(max.unwrap_or(0) + 1)
}

/// Appends rows, many per statement.
pub fn insert_entries(conn: &mut Conn, rows: &[EntryRow]) -> Result<(), Error> {
    for chunk in rows.chunks(ENTRY_INSERT_CHUNK) {
        diesel::insert_into(ledger_entries::table)
            .values(chunk)
            .execute(conn)?;
    }
    Ok(())
}

/// Stores breakdowns by content; one already stored is kept as it is.
pub fn insert_breakdowns(conn: &mut Conn, rows: &[BreakdownRow]) -> Result<(), Error> {
    for chunk in rows.chunks(1_000) {
        diesel::insert_or_ignore_into(credit_breakdowns::table)
            .values(chunk)
            .execute(conn)?;
    }
    Ok(())
}
