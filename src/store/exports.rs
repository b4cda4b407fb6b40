//! Billing export batches (docs/csv.md, "Exports"). Entries are append-only and take
//! increasing ids under the write lock, and a batch is made under the same lock, so "every
//! entry not yet in a batch" is every entry with an id above the previous batch's last: a
//! batch is one range row `(after_entry_id, last_entry_id]`, nothing is exported twice and
//! nothing is missed. Entries are never touched. A batch's CSV is rendered again from
//! immutable rows on every download (byte-identical); its SHA-256 is recorded when it is made,
//! by the renderer that reads the batch once as it is made.

use std::collections::{BTreeMap, HashMap};

use diesel::deserialize::{self, QueryableByName};
use diesel::prelude::*;
use diesel::row::{Field, NamedRow};
use diesel::sql_types::BigInt;
use diesel::sqlite::Sqlite;

use crate::domain::book::EntryKind;
use crate::domain::ids::entry_id;
use crate::domain::time::{format_utc, Nanos};
use crate::wire::credits::Total;
use crate::wire::exports::{export_id, ExportLine, ExportStatus, ExportView};
use crate::wire::{ConflictKind, Error};

use super::convert::{from_minor, read_ts, ts};
use super::schema::{
    export_acknowledgements, export_batches, export_ranges, export_totals, ledger_entries,
};
use super::sqlite::{write_tx, Conn};

/// Entries read per query while a batch is downloaded over HTTP: memory stays flat whatever
/// its size.
pub const PAGE: usize = 5_000;

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = export_batches, check_for_backend(diesel::sqlite::Sqlite))]
pub struct BatchRow {
    pub id: i64,
    pub rows: i64,
    pub sha256: String,
    pub created_at: String,
    pub created_by: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = export_totals, check_for_backend(diesel::sqlite::Sqlite))]
struct TotalRow {
    export_id: i64,
    currency: String,
    amount_minor: i64,
    minor_units: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = export_acknowledgements, check_for_backend(diesel::sqlite::Sqlite))]
struct AckRow {
    export_id: i64,
    reference: String,
    created_at: String,
    created_by: String,
}

/// The entries of a batch: ids in `(after, last]` (empty when they are equal).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = export_ranges, check_for_backend(diesel::sqlite::Sqlite))]
pub struct Range {
    #[diesel(column_name = export_id)]
    pub batch: i64,
    #[diesel(column_name = after_entry_id)]
    pub after: i64,
    #[diesel(column_name = last_entry_id)]
    pub last: i64,
}

/// Which entries a page reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Selection {
    /// Entries in no batch yet, to go out in the batch with this number.
    Pending(i64),
    /// The entries of a batch.
    Batch(i64),
}

/// One exported entry with what the totals need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageLine {
    pub id: i64,
    pub currency: String,
    pub amount_minor: i64,
    pub minor_units: i64,
    pub line: ExportLine,
}

/// The text columns of [`ExportEntry`], in the order they are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(usize)]
pub enum Text {
    Kind,
    CustomerId,
    CustomerName,
    Period,
    Currency,
    /// The stored JSON array of incident ids.
    IncidentIds,
    Reason,
    /// The stored instant (`ts`), not yet in the export's form.
    CreatedAt,
    CreatedBy,
    PlanId,
    Rounding,
    Explanation,
}

const TEXTS: usize = 12;

/// One ledger entry as stored, with its customer's name and the settlement that appended
/// it: what an export row is written from. Its text cells share one buffer (one allocation a
/// row); an absent optional text is empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportEntry {
    pub id: i64,
    pub amount_minor: i64,
    pub minor_units: i64,
    pub reverses: Option<i64>,
    pub settlement: Option<i64>,
    pub policy_version: Option<i64>,
    text: Vec<u8>,
    ends: [u32; TEXTS],
}

impl ExportEntry {
    /// One text column, as SQLite stores it (UTF-8).
    pub fn text(&self, which: Text) -> &[u8] {
        let i = which as usize;
        let start = match i {
            0 => 0,
            _ => self.ends.get(i - 1).copied().unwrap_or(0),
        };
        let end = self.ends.get(i).copied().unwrap_or(0);
        self.text
            .get(start as usize..end as usize)
            .unwrap_or_default()
    }
}

/// The columns of [`ENTRIES_SQL`], in order: six integers, then the texts of [`Text`].
const COLUMNS: usize = 18;

/// Entries by primary key, with what an export writes of each: the columns kept on the entry
/// when it was appended, among them its customer's name and its settlement. For an entry
/// appended before entries kept names (migration 2026-12-02-000011) the name comes from the
/// customers table, by a correlated subquery SQLite runs only when `coalesce` reaches it; not
/// a join, which descends the customers' text key once a row (a quarter of an export's CPU
/// for 1 M rows). `ledger_entries` is the only loop, so SQLite walks the range in id order and
/// sorts nothing. The text columns come as BLOBs of the same bytes: the rows are written byte
/// for byte, so reading them as text would only check their UTF-8 twice per value.
const ENTRIES_SQL: &str = "SELECT l.id, l.amount_minor, l.minor_units, l.reverses, \
     l.policy_version, l.settlement_id, CAST(l.kind AS BLOB), CAST(l.customer_id AS BLOB), \
     CAST(coalesce(l.customer_name, \
     (SELECT c.name FROM customers c WHERE c.id = l.customer_id), '') AS BLOB), \
     CAST(l.period AS BLOB), CAST(l.currency AS BLOB), CAST(l.incident_ids AS BLOB), \
     CAST(l.reason AS BLOB), CAST(l.created_at AS BLOB), CAST(l.created_by AS BLOB), \
     CAST(l.plan_id AS BLOB), CAST(l.rounding AS BLOB), CAST(l.explanation AS BLOB) \
     FROM ledger_entries l WHERE l.id > ? AND l.id <= ? ORDER BY l.id LIMIT ?";

/// Entry ids read per window: a window's entries are held in memory (a few MB) between
/// reading them and handing them on. An export's reading threads take spans of this size, one
/// window each.
pub const WINDOW: i64 = 8_192;

/// The settlements that appended the entries of `(from, to]`, as `(entry, settlement)` pairs
/// ordered by entry id: an entry is appended by one settlement line at most; were there two,
/// the lowest settlement comes first and counts.
fn appended_by(conn: &mut Conn, from: i64, to: i64) -> Result<Vec<(Option<i64>, i64)>, Error> {
    use super::schema::settlement_lines::dsl::{entry_id, settlement_id, settlement_lines};
    Ok(settlement_lines
        .filter(entry_id.gt(from).and(entry_id.le(to)))
        .order((entry_id, settlement_id))
        .select((entry_id, settlement_id))
        .load(conn)?)
}

impl QueryableByName<Sqlite> for ExportEntry {
    fn build<'a>(row: &impl NamedRow<'a, Sqlite>) -> deserialize::Result<Self> {
        if row.field_count() != COLUMNS {
            return Err(format!("export query: {} columns", row.field_count()).into());
        }
        let int = |i: usize| -> Option<i64> {
            let f = diesel::row::Row::get(row, i)?;
            let v = f.value();
            v.map(|mut v| v.read_long())
        };
        let id = int(0).ok_or("export query: entry without id")?;
        let mut text = Vec::with_capacity(256);
        let mut ends = [0u32; TEXTS];
        for (slot, i) in ends.iter_mut().zip(COLUMNS - TEXTS..COLUMNS) {
            if let Some(f) = diesel::row::Row::get(row, i) {
                if let Some(mut v) = f.value() {
                    text.extend_from_slice(v.read_blob());
                }
            }
            *slot = u32::try_from(text.len()).map_err(|_| "export row over 4 GB")?;
        }
        Ok(ExportEntry {
            id,
            amount_minor: int(1).unwrap_or(0),
            minor_units: int(2).unwrap_or(0),
            reverses: int(3),
            settlement: int(5),
            policy_version: int(4),
            text,
            ends,
        })
    }
}

/// The range of a batch (`None`: no such batch).
pub fn range_of(conn: &mut Conn, batch: i64) -> Result<Option<Range>, Error> {
    Ok(export_ranges::table
        .find(batch)
        .select(Range::as_select())
        .first(conn)
        .optional()?)
}

/// What a new batch with this number would take: every entry after the last batch's end.
/// Only meaningful inside a write transaction (nobody appends or makes a batch meanwhile).
pub fn pending_range(conn: &mut Conn, batch: i64) -> Result<Range, Error> {
    let after: Option<i64> = export_ranges::table
        .select(diesel::dsl::max(export_ranges::last_entry_id))
        .first(conn)?;
    let last: Option<i64> = ledger_entries::table
        .select(diesel::dsl::max(ledger_entries::id))
        .first(conn)?;
    let after = after.unwrap_or(0);
    Ok(Range {
        batch,
        after,
        last: last.unwrap_or(0).max(after),
    })
}

fn selection_range(conn: &mut Conn, sel: Selection) -> Result<Range, Error> {
    match sel {
        Selection::Pending(b) => pending_range(conn, b),
        Selection::Batch(b) => Ok(range_of(conn, b)?.unwrap_or(Range {
            batch: b,
            after: 0,
            last: 0,
        })),
    }
}

/// Streams the entries of `range` after entry `after` (at most `limit`), oldest first, to `f`,
/// window by window of [`WINDOW`] ids; answers how many there were. An entry keeps the
/// settlement that appended it, but an `sla_credit` entry from before entries kept it has
/// it only in its settlement line: a window holding one also reads its lines (one walk of
/// `settlement_lines_entry_id`, [`appended_by`]) and merges them by entry id.
pub fn for_each_entry(
    conn: &mut Conn,
    range: Range,
    after: i64,
    limit: Option<usize>,
    f: &mut dyn FnMut(&ExportEntry) -> Result<(), Error>,
) -> Result<u64, Error> {
    let mut left = limit.map_or(u64::MAX, |l| u64::try_from(l).unwrap_or(u64::MAX));
    let mut n = 0u64;
    let mut from = after.max(range.after);
    let mut window: Vec<ExportEntry> = Vec::new();
    while from < range.last && left > 0 {
        let to = from.saturating_add(WINDOW).min(range.last);
        window.clear();
        for row in diesel::sql_query(ENTRIES_SQL)
            .bind::<BigInt, _>(from)
            .bind::<BigInt, _>(to)
            .bind::<BigInt, _>(i64::try_from(left).unwrap_or(-1))
            .load_iter::<ExportEntry, diesel::connection::DefaultLoadingMode>(conn)?
        {
            window.push(row?);
        }
        let sla_credit = EntryKind::SlaCredit.as_str().as_bytes();
        let unknown = |e: &ExportEntry| e.settlement.is_none() && e.text(Text::Kind) == sla_credit;
        if window.iter().any(unknown) {
            let mut appended = appended_by(conn, from, to)?.into_iter().peekable();
            for e in window.iter_mut().filter(|e| unknown(e)) {
                let here = Some(e.id);
                while appended.next_if(|a| a.0 < here).is_some() {}
                e.settlement = appended.next_if(|a| a.0 == here).map(|(_, s)| s);
            }
        }
        for e in &window {
            f(e)?;
            n += 1;
            left -= 1;
        }
        from = to;
    }
    Ok(n)
}

/// Up to `limit` entries of a selection after entry `after`, oldest first.
pub fn export_page(
    conn: &mut Conn,
    sel: Selection,
    after: i64,
    limit: usize,
) -> Result<Vec<PageLine>, Error> {
    let range = selection_range(conn, sel)?;
    let mut out = Vec::new();
    for_each_entry(conn, range, after, Some(limit), &mut |e| {
        out.push(page_line(e, range.batch)?);
        Ok(())
    })?;
    Ok(out)
}

fn page_line(e: &ExportEntry, batch: i64) -> Result<PageLine, Error> {
    let bad = |m: String| Error::internal(format!("ledger entry {}: {m}", e.id));
    let minor_units = u32::try_from(e.minor_units).map_err(|x| bad(x.to_string()))?;
    let incidents: Vec<String> =
        serde_json::from_slice(e.text(Text::IncidentIds)).map_err(|x| bad(x.to_string()))?;
    let t = |w: Text| String::from_utf8_lossy(e.text(w)).into_owned();
    let created_at = format_utc(read_ts(&t(Text::CreatedAt), "ledger_entries.created_at")?);
    Ok(PageLine {
        id: e.id,
        currency: t(Text::Currency),
        amount_minor: e.amount_minor,
        minor_units: e.minor_units,
        line: ExportLine {
            entry_id: entry_id(e.id),
            kind: t(Text::Kind),
            customer_id: t(Text::CustomerId),
            customer_name: t(Text::CustomerName),
            period: t(Text::Period),
            amount: from_minor(e.amount_minor, minor_units).to_string(),
            currency: t(Text::Currency),
            incident_ids: incidents.join(" "),
            reason: t(Text::Reason),
            reverses: e.reverses.map(entry_id).unwrap_or_default(),
            settlement_id: e
                .settlement
                .map(crate::wire::credits::settlement_id)
                .unwrap_or_default(),
            export_id: export_id(batch),
            created_at,
            created_by: t(Text::CreatedBy),
            plan_id: t(Text::PlanId),
            policy_version: e.policy_version.map(|v| v.to_string()).unwrap_or_default(),
            rounding: t(Text::Rounding),
            explanation: t(Text::Explanation),
        },
    })
}

/// Every page of a selection, in order, handed to `f`.
pub fn for_each_page(
    conn: &mut Conn,
    sel: Selection,
    f: &mut dyn FnMut(&[PageLine]) -> Result<(), Error>,
) -> Result<(), Error> {
    let range = selection_range(conn, sel)?;
    let mut page = Vec::with_capacity(PAGE);
    for_each_entry(conn, range, 0, None, &mut |e| {
        page.push(page_line(e, range.batch)?);
        if page.len() >= PAGE {
            f(&page)?;
            page.clear();
        }
        Ok(())
    })?;
    if page.is_empty() {
        Ok(())
    } else {
        f(&page)
    }
}

/// A batch's sums per currency, in minor units (exact, summed in Rust).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sums(BTreeMap<String, (i128, i64)>);

impl Sums {
    /// Counts one entry.
    pub fn add(&mut self, e: &ExportEntry) {
        let currency = String::from_utf8_lossy(e.text(Text::Currency));
        match self.0.get_mut(currency.as_ref()) {
            Some(slot) => slot.0 += i128::from(e.amount_minor),
            None => {
                self.0.insert(
                    currency.into_owned(),
                    (i128::from(e.amount_minor), e.minor_units),
                );
            }
        }
    }

    /// Adds another part's sums.
    pub fn merge(&mut self, other: Sums) {
        for (currency, (sum, minor_units)) in other.0 {
            self.0.entry(currency).or_insert((0, minor_units)).0 += sum;
        }
    }
}

/// What rendering a new batch found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rendered {
    /// The SHA-256 (hex) of the plain CSV, header included.
    pub sha256: String,
    pub rows: u64,
    pub sums: Sums,
}

/// Whoever renders the entries of a new batch, reading them once, so the store can record
/// their digest, count and totals.
pub trait EntrySink {
    /// Renders the entries of `range` (read with `conn`, or with readers of the same
    /// database from [`open_reader`]), oldest first.
    fn render(&mut self, conn: &mut Conn, range: Range) -> Result<Rendered, Error>;
}

/// Another connection to the same database file, to read beside `conn` on another thread
/// (`None` for a database that is not a file). In WAL mode it reads the last committed
/// state without waiting: inside a write transaction of `conn` that has written nothing
/// yet, exactly what `conn` sees.
pub fn open_reader(conn: &mut Conn) -> Result<Option<Conn>, Error> {
    #[derive(QueryableByName)]
    struct Db {
        #[diesel(sql_type = diesel::sql_types::Text)]
        name: String,
        #[diesel(sql_type = diesel::sql_types::Text)]
        file: String,
    }
    let dbs: Vec<Db> = diesel::sql_query("PRAGMA database_list").load(conn)?;
    let Some(main) = dbs.into_iter().find(|d| d.name == "main") else {
        return Ok(None);
    };
    if main.file.is_empty() {
        return Ok(None);
    }
    let mut reader = super::sqlite::connect(&main.file)?;
    diesel::connection::SimpleConnection::batch_execute(&mut reader, "PRAGMA query_only = ON")?;
    Ok(Some(reader))
}

/// A batch with its totals and acknowledgement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchInfo {
    pub batch: BatchRow,
    pub totals: Vec<Total>,
    pub ack: Option<(String, String)>,
}

impl BatchInfo {
    pub fn view(&self) -> ExportView {
        let b = &self.batch;
        let instant = |t: &str| {
            crate::domain::time::parse_instant(t)
                .map(format_utc)
                .unwrap_or_default()
        };
        ExportView {
            id: export_id(b.id),
            created_at: instant(&b.created_at),
            created_by: b.created_by.clone(),
            status: if self.ack.is_some() {
                ExportStatus::Acknowledged
            } else {
                ExportStatus::Created
            }
            .as_str()
            .to_string(),
            rows: u64::try_from(b.rows).unwrap_or(0),
            totals: self.totals.clone(),
            sha256: b.sha256.clone(),
            acknowledged_at: self.ack.as_ref().map(|(_, at)| instant(at)),
            reference: self.ack.as_ref().map(|(r, _)| r.clone()),
        }
    }
}

/// Makes a batch of every entry in no batch yet (possibly none), reading them once: `sink`
/// renders them; its digest is recorded as the batch's SHA-256, its sums as the totals. One
/// write transaction.
pub fn create_batch(
    conn: &mut Conn,
    actor: &str,
    now: Nanos,
    sink: &mut dyn EntrySink,
) -> Result<BatchInfo, Error> {
    write_tx(conn, |c| {
        let max: Option<i64> = export_batches::table
            .select(diesel::dsl::max(export_batches::id))
            .first(c)?;
        let id = max.unwrap_or(0) + 1;
        let range = pending_range(c, id)?;
        let rendered = sink.render(c, range)?;
        let batch = BatchRow {
            id,
            rows: i64::try_from(rendered.rows).unwrap_or(i64::MAX),
            sha256: rendered.sha256,
            created_at: ts(now),
            created_by: actor.to_string(),
        };
        diesel::insert_into(export_batches::table)
            .values(&batch)
            .execute(c)?;
        diesel::insert_into(export_ranges::table)
            .values(&range)
            .execute(c)?;
        let mut totals = Vec::with_capacity(rendered.sums.0.len());
        for (currency, (sum, minor_units)) in rendered.sums.0 {
            let amount_minor =
                i64::try_from(sum).map_err(|_| Error::internal("batch total overflows"))?;
            diesel::insert_into(export_totals::table)
                .values(&TotalRow {
                    export_id: id,
                    currency: currency.clone(),
                    amount_minor,
                    minor_units,
                })
                .execute(c)?;
            totals.push(total(&currency, amount_minor, minor_units));
        }
        Ok(BatchInfo {
            batch,
            totals,
            ack: None,
        })
    })
}

fn total(currency: &str, amount_minor: i64, minor_units: i64) -> Total {
    let mu = u32::try_from(minor_units).unwrap_or(0);
    Total {
        currency: currency.to_string(),
        amount: from_minor(amount_minor, mu).to_string(),
    }
}

fn info(conn: &mut Conn, batch: BatchRow) -> Result<BatchInfo, Error> {
    let totals: Vec<TotalRow> = export_totals::table
        .filter(export_totals::export_id.eq(batch.id))
        .order(export_totals::currency.asc())
        .select(TotalRow::as_select())
        .load(conn)?;
    let ack: Option<AckRow> = export_acknowledgements::table
        .find(batch.id)
        .select(AckRow::as_select())
        .first(conn)
        .optional()?;
    Ok(BatchInfo {
        batch,
        totals: totals
            .iter()
            .map(|t| total(&t.currency, t.amount_minor, t.minor_units))
            .collect(),
        ack: ack.map(|a| (a.reference, a.created_at)),
    })
}

/// One batch.
pub fn load_batch(conn: &mut Conn, id: i64) -> Result<Option<BatchInfo>, Error> {
    let row: Option<BatchRow> = export_batches::table
        .find(id)
        .select(BatchRow::as_select())
        .first(conn)
        .optional()?;
    row.map(|r| info(conn, r)).transpose()
}

/// Batches in the order they were made, after a cursor, optionally by status.
pub fn list_batches(
    conn: &mut Conn,
    status: Option<ExportStatus>,
    after: Option<i64>,
    limit: usize,
) -> Result<Vec<BatchInfo>, Error> {
    let mut q = export_batches::table
        .order(export_batches::id.asc())
        .limit(i64::try_from(limit).unwrap_or(i64::MAX))
        .into_boxed();
    if let Some(a) = after {
        q = q.filter(export_batches::id.gt(a));
    }
    let acked = export_acknowledgements::table
        .filter(export_acknowledgements::export_id.eq(export_batches::id));
    match status {
        Some(ExportStatus::Created) => q = q.filter(diesel::dsl::not(diesel::dsl::exists(acked))),
        Some(ExportStatus::Acknowledged) => q = q.filter(diesel::dsl::exists(acked)),
        None => {}
    }
    let rows: Vec<BatchRow> = q.select(BatchRow::as_select()).load(conn)?;
    rows.into_iter().map(|r| info(conn, r)).collect()
}

/// Billing has loaded a batch. Acknowledging again with the same reference answers the
/// batch; with another reference it is a conflict.
pub fn acknowledge(
    conn: &mut Conn,
    id: i64,
    reference: &str,
    actor: &str,
    now: Nanos,
) -> Result<BatchInfo, Error> {
    write_tx(conn, |c| {
        let current =
            load_batch(c, id)?.ok_or_else(|| Error::not_found("export", export_id(id)))?;
        if let Some((existing, _)) = &current.ack {
            if existing == reference {
                return Ok(current);
            }
            return Err(Error::conflict(
                ConflictKind::State,
                "reference",
                format!("{} is already acknowledged as {existing:?}", export_id(id)),
            ));
        }
        diesel::insert_into(export_acknowledgements::table)
            .values(&AckRow {
                export_id: id,
                reference: reference.to_string(),
                created_at: ts(now),
                created_by: actor.to_string(),
            })
            .execute(c)?;
        load_batch(c, id)?.ok_or_else(|| Error::internal("batch vanished"))
    })
}

/// The batch of each of these entries that is in one.
pub fn batches_of(conn: &mut Conn, entry_ids: &[i64]) -> Result<HashMap<i64, i64>, Error> {
    let (Some(&lo), Some(&hi)) = (entry_ids.iter().min(), entry_ids.iter().max()) else {
        return Ok(HashMap::new());
    };
    // The non-empty ranges that can hold one of them, in order: they do not overlap.
    let ranges: Vec<Range> = export_ranges::table
        .filter(export_ranges::last_entry_id.ge(lo))
        .filter(export_ranges::after_entry_id.lt(hi))
        .filter(export_ranges::last_entry_id.gt(export_ranges::after_entry_id))
        .order(export_ranges::last_entry_id.asc())
        .select(Range::as_select())
        .load(conn)?;
    let mut out = HashMap::new();
    for &e in entry_ids {
        let at = ranges.partition_point(|r| r.last < e);
        if let Some(r) = ranges.get(at) {
            if r.after < e {
                out.insert(e, r.batch);
            }
        }
    }
    Ok(out)
}
