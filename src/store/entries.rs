//! Appending to the ledger: the next entry id and multi-row INSERTs of entries and their
//! content-addressed breakdowns. Shared by goodwill, reversals and settlement; the database's
//! triggers refuse any UPDATE or DELETE of what is appended here.

use diesel::prelude::*;

use crate::wire::Error;

use super::models::{BreakdownRow, EntryRow};
use super::schema::{credit_breakdowns, ledger_entries};
use super::sqlite::Conn;

/// Rows per multi-row INSERT. The statement has a fixed number of rows, so it is prepared once
/// per connection and kept in diesel's statement cache (a slice of any length would be
/// prepared again for every call: thousands of placeholders parsed each time); the rows left
/// over go in one by one, through a cached single-row statement.
pub const ENTRY_INSERT_CHUNK: usize = 64;

/// Breakdowns per multi-row INSERT (see [`ENTRY_INSERT_CHUNK`]).
const BREAKDOWN_INSERT_CHUNK: usize = 64;

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
    let mut chunks = rows.chunks_exact(ENTRY_INSERT_CHUNK);
    for chunk in &mut chunks {
        let chunk: &[EntryRow; ENTRY_INSERT_CHUNK] = chunk
            .try_into()
            .map_err(|e| Error::internal_from("entry chunk", e))?;
        diesel::insert_into(ledger_entries::table)
            .values(chunk)
            .execute(conn)?;
    }
    for row in chunks.remainder() {
        diesel::insert_into(ledger_entries::table)
            .values(row)
            .execute(conn)?;
    }
    Ok(())
}

/// Stores breakdowns by content; one already stored is kept as it is.
pub fn insert_breakdowns(conn: &mut Conn, rows: &[BreakdownRow]) -> Result<(), Error> {
    let mut chunks = rows.chunks_exact(BREAKDOWN_INSERT_CHUNK);
    for chunk in &mut chunks {
        let chunk: &[BreakdownRow; BREAKDOWN_INSERT_CHUNK] = chunk
            .try_into()
            .map_err(|e| Error::internal_from("breakdown chunk", e))?;
        diesel::insert_or_ignore_into(credit_breakdowns::table)
            .values(chunk)
            .execute(conn)?;
    }
    for row in chunks.remainder() {
        diesel::insert_or_ignore_into(credit_breakdowns::table)
            .values(row)
            .execute(conn)?;
    }
    Ok(())
}
