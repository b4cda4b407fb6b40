//! Appending to the ledger: the next entry id and multi-row INSERTs of entries and their
//! content-addressed breakdowns. Shared by goodwill, reversals and settlement; the database's
//! triggers refuse any UPDATE or DELETE of what is appended here.

use diesel::prelude::*;

use crate::wire::Error;

use super::models::{BreakdownRow, NewEntryRow};
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
pub fn insert_entries(conn: &mut Conn, rows: &[NewEntryRow]) -> Result<(), Error> {
    let mut chunks = rows.chunks_exact(ENTRY_INSERT_CHUNK);
    for chunk in &mut chunks {
        let chunk: &[NewEntryRow; ENTRY_INSERT_CHUNK] = chunk
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

/// Rows bound as one JSON array, `[[…], […], …]`: SQLite walks it with `jsonb_each`, so a
/// chunk of rows is one statement and a handful of binds whatever its size, instead of a bind
/// (and a copy) per column per row. The rows are encoded on the thread that computes them.
/// (SQLite's JSON functions; a PostgreSQL store would use `jsonb_array_elements` or `COPY`.)
#[derive(Debug, Default)]
pub struct JsonRows {
    text: Vec<u8>,
    len: usize,
}

impl JsonRows {
    /// Appends one row (a tuple struct serializes as an array).
    pub fn push(&mut self, row: &impl serde::Serialize) -> Result<(), Error> {
        self.text.push(if self.len == 0 { b'[' } else { b',' });
        serde_json::to_writer(&mut self.text, row)
            .map_err(|e| Error::internal_from("encoding rows", e))?;
        self.len += 1;
        Ok(())
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The closed array's text.
    pub fn into_text(mut self) -> Result<String, Error> {
        if self.len == 0 {
            return Ok("[]".into());
        }
        self.text.push(b']');
        String::from_utf8(self.text).map_err(|e| Error::internal_from("encoding rows", e))
    }
}

/// One appended `sla_credit` entry of a settlement, as a row of [`JsonRows`]: id, customer,
/// period, amount in minor units, currency, minor units, incident ids (JSON), plan, policy
/// version, rounding, explanation, breakdown SHA-256, the customer's name.
#[derive(Debug, serde::Serialize)]
pub struct SettledEntry<'a>(
    pub i64,
    pub &'a str,
    pub &'a str,
    pub i64,
    pub &'a str,
    pub i64,
    pub &'a str,
    pub &'a str,
    pub i64,
    pub &'a str,
    pub &'a str,
    pub &'a str,
    pub &'a str,
);

/// What every entry of one settlement shares, bound once per chunk.
#[derive(Debug, Clone)]
pub struct EntryStamp {
    pub created_at: String,
    pub created_by: String,
    pub as_of: String,
    pub tzdb_version: &'static str,
    pub engine_version: &'static str,
    /// The recorded settlement appending the entries (`None` for a run not recorded).
    pub settlement: Option<i64>,
}

const APPEND_SETTLED_ENTRIES: &str = "INSERT INTO ledger_entries (id, kind, customer_id, period, \
     amount_minor, currency, minor_units, incident_ids, created_at, created_by, plan_id, \
     policy_version, rounding, explanation, breakdown_sha256, as_of, tzdb_version, \
     engine_version, customer_name, settlement_id) \
     SELECT value ->> 0, 'sla_credit', value ->> 1, value ->> 2, value ->> 3, value ->> 4, \
     value ->> 5, value ->> 6, ?2, ?3, value ->> 7, value ->> 8, value ->> 9, value ->> 10, \
     value ->> 11, ?4, ?5, ?6, value ->> 12, ?7 FROM jsonb_each(?1)";

/// Appends a chunk of [`SettledEntry`] rows (`json` is their closed array) in one statement.
pub fn append_settled_entries(
    conn: &mut Conn,
    json: &str,
    stamp: &EntryStamp,
) -> Result<(), Error> {
    use diesel::sql_types::Text;
    diesel::sql_query(APPEND_SETTLED_ENTRIES)
        .bind::<Text, _>(json)
        .bind::<Text, _>(&stamp.created_at)
        .bind::<Text, _>(&stamp.created_by)
        .bind::<Text, _>(&stamp.as_of)
        .bind::<Text, _>(stamp.tzdb_version)
        .bind::<Text, _>(stamp.engine_version)
        .bind::<diesel::sql_types::Nullable<diesel::sql_types::BigInt>, _>(stamp.settlement)
        .execute(conn)?;
    Ok(())
}
