//! Reading import files (docs/csv.md, "Imports"): a header row (names case-insensitive, any
//! order, unknown columns rejected by name, required ones checked), UTF-8 with or without
//! BOM, CRLF or LF, RFC 4180 quoting. Every cell is text; a row becomes the request form the
//! JSON API reads (`CustomerInput`, `PlanInput`, `IncidentInput`) and is checked by its
//! `check()`. Rows are numbered as a spreadsheet shows them: the header is row 1.

use std::io::Read;

use serde_json::Value;

use crate::domain::time::Nanos;
use crate::domain::FieldError;
use crate::store::imports::{column_of, run_import, ImportRun, Outcome};
use crate::store::Conn;
use crate::wire::customers::CustomerInput;
use crate::wire::imports::{CheckedRow, ImportKind, ImportView, RowError, RowErrors, RowItem};
use crate::wire::incidents::IncidentInput;
use crate::wire::plans::PlanInput;
use crate::wire::Error;

/// Longest cell text quoted back in an error.
const VALUE_SHOWN: usize = 200;

/// The rows of one import file, checked one by one as they are read (as an iterator), or
/// read on one thread and checked on several ([`for_each_batch`]).
pub struct Rows<R: Read> {
    layout: Layout,
    reader: csv::Reader<R>,
    record: csv::ByteRecord,
    row: u64,
}

/// Where a file's header put the kind's columns: all that checking one record needs, so
/// records can be checked on any thread, in any order, with the same errors.
#[derive(Debug, Clone)]
struct Layout {
    kind: ImportKind,
    /// For each of the kind's columns, its position in the file (absent: `None`).
    positions: Vec<Option<usize>>,
    width: usize,
}

fn shown(value: &str) -> String {
    if value.chars().count() > VALUE_SHOWN {
        let mut s: String = value.chars().take(VALUE_SHOWN).collect();
        s.push('…');
        s
    } else {
        value.to_string()
    }
}

fn row_error(
    row: u64,
    column: &str,
    value: &str,
    code: &'static str,
    message: impl Into<String>,
) -> RowError {
    RowError {
        row,
        column: column.to_string(),
        value: shown(value),
        code,
        message: message.into(),
    }
}

fn io_error(e: csv::Error) -> Error {
    match e.into_kind() {
        csv::ErrorKind::Io(io) => Error::internal_from("reading the CSV file", io),
        other => Error::unparseable("file", format!("cannot be read as CSV: {other:?}")),
    }
}

impl<R: Read> Rows<R> {
    /// Reads and checks the header row; its problems are row 1's errors.
    pub fn new(kind: ImportKind, input: R) -> Result<Rows<R>, Error> {
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(input);
        let mut record = csv::ByteRecord::new();
        let mut errors = RowErrors::default();
        if !reader.read_byte_record(&mut record).map_err(io_error)? {
            errors.push(row_error(
                1,
                "",
                "",
                "required",
                "the file is empty: a header row is needed",
            ));
            return Err(Error::InvalidRows(errors));
        }
        let columns = kind.columns();
        let mut positions = vec![None; columns.len()];
        for (at, raw) in record.iter().enumerate() {
            let Ok(text) = std::str::from_utf8(raw) else {
                errors.push(row_error(
                    1,
                    "",
                    &String::from_utf8_lossy(raw),
                    "invalid",
                    "is not UTF-8 text",
                ));
                continue;
            };
            let text = if at == 0 {
                text.trim_start_matches('\u{feff}')
            } else {
                text
            };
            let name = text.trim().to_ascii_lowercase();
            match columns.iter().position(|(c, _)| *c == name) {
                Some(i) if positions[i].is_some() => {
                    errors.push(row_error(
                        1,
                        &name,
                        text,
                        "invalid",
                        format!("column {name} appears twice"),
                    ));
                }
                Some(i) => positions[i] = Some(at),
                None => {
                    let known: Vec<&str> = columns.iter().map(|(c, _)| *c).collect();
                    errors.push(row_error(
                        1,
                        text,
                        text,
                        "unknown_field",
                        format!(
                            "unknown column {text:?}; the {} columns are {}",
                            kind.as_str(),
                            known.join(", ")
                        ),
                    ));
                }
            }
        }
        for ((name, required), at) in columns.iter().zip(&positions) {
            if *required && at.is_none() {
                errors.push(row_error(
                    1,
                    name,
                    "",
                    "required",
                    format!("the required column {name} is missing"),
                ));
            }
        }
        if !errors.is_empty() {
            return Err(Error::InvalidRows(errors));
        }
        Ok(Rows {
            layout: Layout {
                kind,
                positions,
                width: record.len(),
            },
            reader,
            record: csv::ByteRecord::new(),
            row: 1,
        })
    }

    /// Reads the next non-blank record into `self.record`; `false` at the end of the file.
    fn read_next(&mut self) -> Result<bool, Error> {
        let mut record = std::mem::take(&mut self.record);
        let read = self.read_into(&mut record);
        self.record = record;
        read
    }

    /// Reads the next non-blank record into `record` (reusing its buffers); `false` at the
    /// end of the file.
    fn read_into(&mut self, record: &mut csv::ByteRecord) -> Result<bool, Error> {
        loop {
            if !self.reader.read_byte_record(record).map_err(io_error)? {
                return Ok(false);
            }
            self.row += 1;
            if !record.iter().all(|c| c.iter().all(u8::is_ascii_whitespace)) {
                return Ok(true);
            }
        }
    }
}

impl Layout {
    /// Checks one record of the file: its width, its text and its request form.
    fn check(&self, row: u64, record: &csv::ByteRecord) -> Result<CheckedRow, Vec<RowError>> {
        if record.len() != self.width {
            return Err(vec![row_error(
                row,
                "",
                "",
                "invalid",
                format!("has {} cells; the header has {}", record.len(), self.width),
            )]);
        }
        let cells = self.cells(row, record)?;
        check_cells(self.kind, row, &cells)
    }

    /// A record's cells by the kind's column order (`None`: absent or blank).
    fn cells<'r>(
        &self,
        row: u64,
        record: &'r csv::ByteRecord,
    ) -> Result<Vec<Option<&'r str>>, Vec<RowError>> {
        let mut errors = Vec::new();
        let mut out = Vec::with_capacity(self.positions.len());
        for ((name, _), at) in self.kind.columns().iter().zip(&self.positions) {
            let raw = at.and_then(|i| record.get(i)).unwrap_or_default();
            match std::str::from_utf8(raw) {
                Ok(t) if t.trim().is_empty() => out.push(None),
                Ok(t) => out.push(Some(t)),
                Err(_) => {
                    errors.push(row_error(
                        row,
                        name,
                        &String::from_utf8_lossy(raw),
                        "invalid",
                        "is not UTF-8 text: save the file as UTF-8",
                    ));
                    out.push(None);
                }
            }
        }
        if errors.is_empty() {
            Ok(out)
        } else {
            Err(errors)
        }
    }
}

impl<R: Read> Iterator for Rows<R> {
    type Item = RowItem;

    fn next(&mut self) -> Option<RowItem> {
        Some(match self.read_next() {
            Ok(false) => return None,
            Ok(true) => match self.layout.check(self.row, &self.record) {
                Ok(row) => RowItem::Row(self.row, row),
                Err(list) => RowItem::Bad(list),
            },
            Err(e) => RowItem::Fatal(e),
        })
    }
}

/// Records handed to a checking thread at a time.
const CHECK_BATCH: usize = 1_024;

/// A batch of records read and not yet checked; its buffers go back to the reader once
/// checked, so reading allocates nothing per row.
#[derive(Default)]
struct RawBatch {
    seq: u64,
    rows: Vec<u64>,
    records: Vec<csv::ByteRecord>,
    fatal: Option<Error>,
}

impl RawBatch {
    /// Fills the batch from `rows`; `true` when the file has more.
    fn fill<R: Read>(&mut self, rows: &mut Rows<R>) -> bool {
        self.rows.clear();
        self.records.resize_with(CHECK_BATCH, csv::ByteRecord::new);
        for slot in &mut self.records {
            match rows.read_into(slot) {
                Ok(true) => self.rows.push(rows.row),
                Ok(false) => return false,
                Err(e) => {
                    self.fatal = Some(e);
                    return false;
                }
            }
        }
        true
    }

    fn items(&mut self, layout: &Layout) -> Vec<RowItem> {
        let mut items: Vec<RowItem> = self
            .rows
            .iter()
            .zip(&self.records)
            .map(|(&row, record)| match layout.check(row, record) {
                Ok(checked) => RowItem::Row(row, checked),
                Err(list) => RowItem::Bad(list),
            })
            .collect();
        items.extend(self.fatal.take().map(RowItem::Fatal));
        items
    }
}

/// Reads every row of `rows` and checks them on `threads` threads (one reader thread
/// splits the records, the checkers take whole batches), handing `each` the items in file
/// order, batch by batch, exactly as iterating `rows` would yield them. Stops early when
/// `each` answers `false` or after a fatal read error (its item is the last one handed
/// over). Memory is bounded: a few batches are in flight at a time.
pub fn for_each_batch<R: Read + Send>(
    mut rows: Rows<R>,
    threads: usize,
    each: &mut dyn FnMut(Vec<RowItem>) -> bool,
) {
    use std::sync::mpsc::sync_channel;
    use std::sync::{Arc, Mutex};
    let threads = threads.max(1);
    let layout = rows.layout.clone();
    let (work_tx, work_rx) = sync_channel::<RawBatch>(threads * 2);
    let (done_tx, done_rx) = sync_channel::<(u64, Vec<RowItem>)>(threads * 2);
    let (spare_tx, spare_rx) = sync_channel::<RawBatch>(threads * 4);
    // The checkers share the work queue; when the last one stops, the queue closes and the
    // reader stops too.
    let work_rx = Arc::new(Mutex::new(work_rx));
    std::thread::scope(move |scope| {
        scope.spawn(move || {
            for seq in 0.. {
                let mut batch = spare_rx.try_recv().unwrap_or_default();
                batch.seq = seq;
                let more = batch.fill(&mut rows);
                if work_tx.send(batch).is_err() || !more {
                    return;
                }
            }
        });
        for _ in 0..threads {
            let (done_tx, work_rx, spare_tx, layout) = (
                done_tx.clone(),
                Arc::clone(&work_rx),
                spare_tx.clone(),
                layout.clone(),
            );
            scope.spawn(move || loop {
                let next = work_rx.lock().map(|rx| rx.recv());
                let Ok(Ok(mut batch)) = next else {
                    return;
                };
                let items = batch.items(&layout);
                if done_tx.send((batch.seq, items)).is_err() {
                    return;
                }
                // A full spare queue just lets this batch go.
                let _ = spare_tx.try_send(batch);
            });
        }
        drop((done_tx, work_rx, spare_tx));
        let done_rx = done_rx;
        // Batches finish in any order; they are handed over in file order.
        let mut waiting = std::collections::BTreeMap::new();
        let mut next = 0u64;
        for (seq, items) in done_rx.iter() {
            waiting.insert(seq, items);
            while let Some(items) = waiting.remove(&next) {
                next += 1;
                let fatal = items.iter().any(|i| matches!(i, RowItem::Fatal(_)));
                if !each(items) || fatal {
                    // Dropping the receiver stops the checkers, which stops the reader.
                    return;
                }
            }
        }
    });
}

/// One row's cells (in the kind's column order) into its request form, checked.
fn check_cells(
    kind: ImportKind,
    row: u64,
    cells: &[Option<&str>],
) -> Result<CheckedRow, Vec<RowError>> {
    let columns = kind.columns();
    let mut errors = Vec::new();
    let mut silenced: Vec<&str> = Vec::new();
    for ((name, required), cell) in columns.iter().zip(cells) {
        if *required && cell.is_none() {
            errors.push(row_error(row, name, "", "required", "must not be empty"));
            silenced.push(name);
        }
    }
    let get = |name: &str| -> Option<&str> {
        columns
            .iter()
            .position(|(c, _)| *c == name)
            .and_then(|i| cells.get(i).copied().flatten())
    };
    let text = |name: &str| get(name).unwrap_or_default().to_string();
    let opt = |name: &str| get(name).map(str::to_string);
    let checked = match kind {
        ImportKind::Customers => CustomerInput {
            id: text("id"),
            name: text("name"),
            email: opt("email"),
            timezone: opt("timezone"),
            plan_id: text("plan_id"),
            plan_since: opt("plan_since"),
        }
        .check()
        .map(CheckedRow::Customer),
        ImportKind::Plans => {
            let policy = match get("policy") {
                None => Value::Null,
                Some(p) if p.trim_start().starts_with('{') => serde_json::from_str(p)
                    .unwrap_or_else(|e| {
                        errors.push(row_error(
                            row,
                            "policy",
                            p,
                            "invalid",
                            format!("is not valid JSON: {e}"),
                        ));
                        silenced.push("policy");
                        Value::Null
                    }),
                Some(p) => Value::String(p.trim().to_string()),
            };
            PlanInput {
                id: text("id"),
                name: text("name"),
                price: Value::String(text("price").trim().to_string()),
                currency: text("currency").trim().to_string(),
                billing_cycle: text("billing_cycle").trim().to_string(),
                annual_split: opt("annual_split").map(|s| s.trim().to_string()),
                policy,
            }
            .check()
            .map(CheckedRow::Plan)
        }
        ImportKind::Incidents => IncidentInput {
            id: text("id"),
            title: text("title"),
            kind: opt("kind").map(|s| s.trim().to_string()),
            started_at: text("started_at").trim().to_string(),
            ended_at: opt("ended_at").map(|s| s.trim().to_string()),
            impact: opt("impact").map(|s| Value::String(s.trim().to_string())),
            summary: opt("summary"),
            scope: opt("scope").map(Value::String),
        }
        .check()
        .map(CheckedRow::Incident),
    };
    match checked {
        Ok(row) if errors.is_empty() => Ok(row),
        Ok(_) => Err(errors),
        Err(v) => {
            for f in v.0 {
                let (column, message) = place(kind, &f);
                if silenced.contains(&column.as_str()) {
                    continue;
                }
                let value = get(&column).unwrap_or_default().to_string();
                errors.push(row_error(row, &column, &value, f.code, message));
            }
            Err(errors)
        }
    }
}

/// The column a check's field names, and the message (with the path inside the cell when
/// the field is deeper than the column: `policy.rule.kind: …`).
fn place(kind: ImportKind, f: &FieldError) -> (String, String) {
    let head = column_of(&f.field);
    if kind.columns().iter().any(|(c, _)| *c == head) {
        let message = if head == f.field {
            f.message.clone()
        } else {
            format!("{}: {}", f.field, f.message)
        };
        (head.to_string(), message)
    } else {
        (f.field.clone(), f.message.clone())
    }
}

/// What an import is asked to do.
#[derive(Debug, Clone)]
pub struct ImportRequest {
    pub kind: ImportKind,
    pub actor: String,
    pub now: Nanos,
    pub dry_run: bool,
}

/// Rows the reading thread hands over at a time.
const HANDOFF: usize = 1_024;

/// Imports a file that `open` reads from the start each time it is called (once for the
/// SHA-256, once for the rows): streaming, so memory stays flat whatever its size. The rows
/// are read and checked on a thread of their own while the calling thread stores them.
pub fn import<R: Read + Send>(
    conn: &mut Conn,
    req: &ImportRequest,
    open: &mut dyn FnMut() -> std::io::Result<R>,
    progress: &mut dyn FnMut(u64),
) -> Result<ImportView, Error> {
    let opened = |e: std::io::Error| Error::internal_from("opening the CSV file", e);
    let sha256 = crate::csv::sha256_hex(open().map_err(opened)?)
        .map_err(|e| Error::internal_from("reading the CSV file", e))?;
    let rows = Rows::new(req.kind, open().map_err(opened)?)?;
    let run = ImportRun {
        kind: req.kind,
        sha256: sha256.clone(),
        actor: req.actor.clone(),
        now: req.now,
        dry_run: req.dry_run,
    };
    let outcome = std::thread::scope(|s| {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<RowItem>>(16);
        s.spawn(move || {
            let mut batch = Vec::with_capacity(HANDOFF);
            for item in rows {
                let fatal = matches!(item, RowItem::Fatal(_));
                batch.push(item);
                if batch.len() >= HANDOFF || fatal {
                    let full = std::mem::replace(&mut batch, Vec::with_capacity(HANDOFF));
                    // The store stopped (an error): nothing more to read.
                    if tx.send(full).is_err() || fatal {
                        return;
                    }
                }
            }
            let _ = tx.send(batch);
        });
        // Dropped when the import ends, early or not: the reading thread then stops.
        let mut items = rx.into_iter().flatten();
        run_import(conn, &run, &mut items, progress)
    })?;
    Ok(match outcome {
        Outcome::Imported(r) => r.view(false, false),
        Outcome::AlreadyImported(r) => r.view(req.dry_run, true),
        Outcome::DryRun { rows } => ImportView {
            id: None,
            kind: req.kind.as_str().to_string(),
            rows,
            sha256,
            dry_run: true,
            created_at: None,
            created_by: None,
            already_imported: false,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 5,000 customer rows, every 997th with a zone that does not exist, a blank row and a
    /// row of the wrong width: more rows than a few checking batches.
    fn file() -> String {
        let mut f = String::from("id,name,timezone,plan_id\n");
        for i in 0..5_000 {
            let zone = if i % 997 == 0 {
                "Mars/Olympus"
            } else {
                "Europe/Berlin"
            };
            f.push_str(&format!("c{i},\"Customer {i}, Inc.\",{zone},basic\n"));
            if i == 2_500 {
                f.push_str(",,,\nc-short,only two\n");
            }
        }
        f
    }

    fn shown(items: impl IntoIterator<Item = RowItem>) -> Vec<String> {
        items.into_iter().map(|i| format!("{i:?}")).collect()
    }

    #[test]
    fn checking_on_threads_hands_over_what_the_iterator_yields_in_order() {
        let f = file();
        let one =
            shown(Rows::new(ImportKind::Customers, f.as_bytes()).expect("the header is good"));
        assert_eq!(
            one.len(),
            5_001,
            "5,000 rows and the short one; the blank row is none"
        );
        assert!(
            one[0].starts_with("Bad("),
            "row 2 (c0) has the unknown zone"
        );
        assert!(one
            .iter()
            .any(|s| s.contains("has 2 cells; the header has 4")));
        for threads in [1, 2, 3] {
            let mut many = Vec::new();
            let rows = Rows::new(ImportKind::Customers, f.as_bytes()).expect("the header is good");
            for_each_batch(rows, threads, &mut |batch| {
                many.extend(shown(batch));
                true
            });
            assert_eq!(many, one, "{threads} threads");
        }
    }

    #[test]
    fn stopping_early_returns_without_reading_the_rest() {
        let f = file();
        let rows = Rows::new(ImportKind::Customers, f.as_bytes()).expect("the header is good");
        let mut batches = 0;
        for_each_batch(rows, 2, &mut |_| {
            batches += 1;
            false
        });
        assert_eq!(batches, 1);
    }
}
