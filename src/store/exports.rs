//! Billing export batches (docs/csv.md, "Exports"). A batch takes every ledger entry not yet
//! in a batch, under the write lock, so batches are made one at a time: nothing is exported
//! twice and nothing is missed. Entries are never touched: the entry → batch link is its own
//! append-only row. A batch's CSV is rendered again from immutable rows on every download
//! (byte-identical); its SHA-256 is recorded when it is made.

use std::collections::BTreeMap;

use diesel::prelude::*;

use crate::domain::ids::entry_id;
use crate::domain::time::{format_utc, Nanos};
use crate::wire::credits::Total;
use crate::wire::exports::{export_id, ExportLine, ExportStatus, ExportView, LineSink};
use crate::wire::{ConflictKind, Error};

use super::convert::{from_minor, read_ts, ts};
use super::models::EntryRow;
use super::schema::{
    customers, export_acknowledgements, export_batches, export_entries, export_totals,
    ledger_entries,
};
use super::sqlite::{write_tx, Conn};

/// Entries read per query while a batch is rendered: memory stays flat whatever its size.
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

/// Up to `limit` entries of a selection after entry `after`, oldest first.
pub fn export_page(
    conn: &mut Conn,
    sel: Selection,
    after: i64,
    limit: usize,
) -> Result<Vec<PageLine>, Error> {
    // Entries alone, by primary key, then the page's customer names by theirs: a join here
    // lets SQLite drive from customers and sort every page (quadratic in the batch size).
    let mut q = ledger_entries::table
        .filter(ledger_entries::id.gt(after))
        .order(ledger_entries::id.asc())
        .limit(i64::try_from(limit).unwrap_or(i64::MAX))
        .select(EntryRow::as_select())
        .into_boxed();
    let batch = match sel {
        Selection::Pending(b) => {
            q = q.filter(diesel::dsl::not(diesel::dsl::exists(
                export_entries::table.filter(export_entries::entry_id.eq(ledger_entries::id)),
            )));
            b
        }
        Selection::Batch(b) => {
            // The batch's next ids by the (export_id, entry_id) index: an `IN (subquery)`
            // would read the whole batch for every page.
            let ids: Vec<i64> = export_entries::table
                .filter(export_entries::export_id.eq(b))
                .filter(export_entries::entry_id.gt(after))
                .order(export_entries::entry_id.asc())
                .limit(i64::try_from(limit).unwrap_or(i64::MAX))
                .select(export_entries::entry_id)
                .load(conn)?;
            q = q.filter(ledger_entries::id.eq_any(ids));
            b
        }
    };
    let rows: Vec<EntryRow> = q.load(conn)?;
    let mut ids: Vec<&str> = rows.iter().map(|r| r.customer_id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    let mut names: std::collections::HashMap<String, String> = std::collections::HashMap::new();
    for chunk in ids.chunks(10_000) {
        let pairs: Vec<(String, String)> = customers::table
            .filter(customers::id.eq_any(chunk))
            .select((customers::id, customers::name))
            .load(conn)?;
        names.extend(pairs);
    }
    // The settlement an entry came from is written with the entry, so every download of a
    // batch reads the same link.
    let entry_ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let settled_by = super::settlements::settlements_of_entries(conn, &entry_ids)?;
    rows.into_iter()
        .map(|r| {
            let name = names.get(&r.customer_id).cloned().unwrap_or_default();
            let settlement = settled_by
                .get(&r.id)
                .map(|s| crate::wire::credits::settlement_id(*s))
                .unwrap_or_default();
            page_line(r, name, settlement, batch)
        })
        .collect()
}

fn page_line(
    r: EntryRow,
    customer_name: String,
    settlement_id: String,
    batch: i64,
) -> Result<PageLine, Error> {
    let bad = |m: String| Error::internal(format!("ledger entry {}: {m}", r.id));
    let minor_units = u32::try_from(r.minor_units).map_err(|e| bad(e.to_string()))?;
    let incidents: Vec<String> =
        serde_json::from_str(&r.incident_ids).map_err(|e| bad(e.to_string()))?;
    let created_at = format_utc(read_ts(&r.created_at, "ledger_entries.created_at")?);
    Ok(PageLine {
        id: r.id,
        currency: r.currency.clone(),
        amount_minor: r.amount_minor,
        minor_units: r.minor_units,
        line: ExportLine {
            entry_id: entry_id(r.id),
            kind: r.kind,
            customer_id: r.customer_id,
            customer_name,
            period: r.period,
            amount: from_minor(r.amount_minor, minor_units).to_string(),
            currency: r.currency,
            incident_ids: incidents.join(" "),
            reason: r.reason.unwrap_or_default(),
            reverses: r.reverses.map(entry_id).unwrap_or_default(),
            settlement_id,
            export_id: export_id(batch),
            created_at,
            created_by: r.created_by,
            plan_id: r.plan_id.unwrap_or_default(),
            policy_version: r.policy_version.map(|v| v.to_string()).unwrap_or_default(),
            rounding: r.rounding.unwrap_or_default(),
            explanation: r.explanation,
        },
    })
}

/// Every page of a selection, in order, handed to `f`.
pub fn for_each_page(
    conn: &mut Conn,
    sel: Selection,
    f: &mut dyn FnMut(&[PageLine]) -> Result<(), Error>,
) -> Result<(), Error> {
    let mut after = 0;
    loop {
        let page = export_page(conn, sel, after, PAGE)?;
        let Some(last) = page.last() else {
            return Ok(());
        };
        after = last.id;
        f(&page)?;
        if page.len() < PAGE {
            return Ok(());
        }
    }
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

/// Makes a batch of every entry in no batch yet (possibly none). `sink` renders the lines;
/// its digest is recorded as the batch's SHA-256.
pub fn create_batch(
    conn: &mut Conn,
    actor: &str,
    now: Nanos,
    sink: &mut dyn LineSink,
) -> Result<BatchInfo, Error> {
    write_tx(conn, |c| {
        let max: Option<i64> = export_batches::table
            .select(diesel::dsl::max(export_batches::id))
            .first(c)?;
        let id = max.unwrap_or(0) + 1;
        let mut rows: i64 = 0;
        let mut last = 0;
        let mut sums: BTreeMap<String, (i128, i64)> = BTreeMap::new();
        for_each_page(c, Selection::Pending(id), &mut |page| {
            for p in page {
                let slot = sums.entry(p.currency.clone()).or_insert((0, p.minor_units));
                slot.0 += i128::from(p.amount_minor);
                last = p.id;
            }
            rows += i64::try_from(page.len()).unwrap_or(i64::MAX);
            let lines: Vec<ExportLine> = page.iter().map(|p| p.line.clone()).collect();
            sink.lines(&lines)
        })?;
        let batch = BatchRow {
            id,
            rows,
            sha256: sink.digest(),
            created_at: ts(now),
            created_by: actor.to_string(),
        };
        diesel::insert_into(export_batches::table)
            .values(&batch)
            .execute(c)?;
        let mut totals = Vec::with_capacity(sums.len());
        for (currency, (sum, minor_units)) in sums {
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
        let linked = diesel::sql_query(
            "INSERT INTO export_entries (entry_id, export_id) SELECT l.id, ? FROM ledger_entries l \
             WHERE l.id <= ? AND NOT EXISTS (SELECT 1 FROM export_entries x WHERE x.entry_id = l.id)",
        )
        .bind::<diesel::sql_types::BigInt, _>(id)
        .bind::<diesel::sql_types::BigInt, _>(last)
        .execute(c)?;
        if i64::try_from(linked).unwrap_or(-1) != rows {
            return Err(Error::internal(format!(
                "batch {id}: {rows} rows rendered, {linked} linked"
            )));
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
pub fn batches_of(
    conn: &mut Conn,
    entry_ids: &[i64],
) -> Result<std::collections::HashMap<i64, i64>, Error> {
    let mut out = std::collections::HashMap::new();
    for chunk in entry_ids.chunks(10_000) {
        let pairs: Vec<(i64, i64)> = export_entries::table
            .filter(export_entries::entry_id.eq_any(chunk))
            .select((export_entries::entry_id, export_entries::export_id))
            .load(conn)?;
        out.extend(pairs);
    }
    Ok(out)
}
