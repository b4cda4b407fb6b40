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

/// The rows of one import file, checked one by one as they are read.
pub struct Rows<R: Read> {
    kind: ImportKind,
    reader: csv::Reader<R>,
    /// For each of the kind's columns, its position in the file (absent: `None`).
    positions: Vec<Option<usize>>,
    width: usize,
    record: csv::ByteRecord,
    row: u64,
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
            kind,
            reader,
            positions,
            width: record.len(),
            record: csv::ByteRecord::new(),
            row: 1,
        })
    }

    /// The current record's cells by the kind's column order (`None`: absent or blank).
    fn cells(&self) -> Result<Vec<Option<&str>>, Vec<RowError>> {
        let mut errors = Vec::new();
        let mut out = Vec::with_capacity(self.positions.len());
        for ((name, _), at) in self.kind.columns().iter().zip(&self.positions) {
            let raw = at.and_then(|i| self.record.get(i)).unwrap_or_default();
            match std::str::from_utf8(raw) {
                Ok(t) if t.trim().is_empty() => out.push(None),
                Ok(t) => out.push(Some(t)),
                Err(_) => {
                    errors.push(row_error(
                        self.row,
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

    fn check_record(&self) -> Result<CheckedRow, Vec<RowError>> {
        if self.record.len() != self.width {
            return Err(vec![row_error(
                self.row,
                "",
                "",
                "invalid",
                format!(
                    "has {} cells; the header has {}",
                    self.record.len(),
                    self.width
                ),
            )]);
        }
        let cells = self.cells()?;
        check_cells(self.kind, self.row, &cells)
    }
}

impl<R: Read> Iterator for Rows<R> {
    type Item = RowItem;

    fn next(&mut self) -> Option<RowItem> {
        loop {
            match self.reader.read_byte_record(&mut self.record) {
                Ok(false) => return None,
                Ok(true) => {}
                Err(e) => return Some(RowItem::Fatal(io_error(e))),
            }
            self.row += 1;
            // A row of empty cells (spreadsheets leave them at the end) is no row.
            if self
                .record
                .iter()
                .all(|c| c.iter().all(u8::is_ascii_whitespace))
            {
                continue;
            }
            return Some(match self.check_record() {
                Ok(row) => RowItem::Row(self.row, row),
                Err(list) => RowItem::Bad(list),
            });
        }
    }
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
