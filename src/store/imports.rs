//! CSV imports (docs/csv.md): the whole file runs in one write transaction. Every row is
//! checked against the database (references, ids taken) and stored; when any row is bad, or
//! for a dry run, the transaction is rolled back, so nothing of the file stays. A successful
//! import is recorded with its kind, SHA-256, row count, who and when; the same file (kind and
//! SHA-256) is answered with its first import and stores nothing.

use std::cell::Cell;
use std::collections::HashSet;

use diesel::prelude::*;
use diesel::sql_types::Text;

use crate::domain::scope::Scope;
use crate::domain::time::{format_utc, Nanos};
use crate::wire::customers::NewCustomer;
use crate::wire::imports::{
    import_id, CheckedRow, ImportKind, ImportView, RowError, RowErrors, RowItem,
};
use crate::wire::Error;

use super::convert::ts;
use super::customers::rows_for;
use super::schema::{customers, imports, plan_changes, plans};
use super::sqlite::{is_unique_violation, write_tx, Conn};
use super::{incidents, plans as plan_store};

/// Customers per chunk: each chunk is one JSON array bound once to each of two INSERTs.
pub const CUSTOMER_CHUNK: usize = 10_000;

/// A chunk of customers, `[[id, name, email, timezone, plan_since, plan_id], …]` bound as
/// one JSON text: SQLite walks it with `jsonb_each` (each element stays in SQLite's binary form), so a chunk costs two statement runs and
/// two binds whatever its size, instead of six binds a row.
const INSERT_CUSTOMERS: &str = "INSERT INTO customers (id, name, email, timezone, created_at) \
     SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, ?2 FROM jsonb_each(?1)";
const INSERT_PLAN_CHANGES: &str =
    "INSERT INTO plan_changes (customer_id, effective_at, plan_id, created_at) \
     SELECT value ->> 0, value ->> 4, value ->> 5, ?2 FROM jsonb_each(?1)";

/// An import as stored.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = imports, check_for_backend(diesel::sqlite::Sqlite))]
pub struct ImportRow {
    pub id: i64,
    pub kind: String,
    pub sha256: String,
    pub rows: i64,
    pub created_at: String,
    pub created_by: String,
}

impl ImportRow {
    /// The view of a recorded import.
    pub fn view(&self, dry_run: bool, already: bool) -> ImportView {
        ImportView {
            id: Some(import_id(self.id)),
            kind: self.kind.clone(),
            rows: u64::try_from(self.rows).unwrap_or(0),
            sha256: self.sha256.clone(),
            dry_run,
            created_at: crate::domain::time::parse_instant(&self.created_at)
                .ok()
                .map(format_utc),
            created_by: Some(self.created_by.clone()),
            already_imported: already,
        }
    }
}

/// What an import run is.
#[derive(Debug, Clone)]
pub struct ImportRun {
    pub kind: ImportKind,
    pub sha256: String,
    pub actor: String,
    pub now: Nanos,
    pub dry_run: bool,
}

/// How an import ended (errors are `Error::InvalidRows`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Stored and recorded now.
    Imported(ImportRow),
    /// The same file was imported before: nothing stored now.
    AlreadyImported(ImportRow),
    /// Every row is valid; nothing stored.
    DryRun { rows: u64 },
}

/// The import of a file by kind and SHA-256, if it was imported.
pub fn find_import(
    conn: &mut Conn,
    kind: ImportKind,
    sha256: &str,
) -> Result<Option<ImportRow>, Error> {
    Ok(imports::table
        .filter(imports::kind.eq(kind.as_str()))
        .filter(imports::sha256.eq(sha256))
        .select(ImportRow::as_select())
        .first(conn)
        .optional()?)
}

/// One import by its number.
pub fn load_import(conn: &mut Conn, id: i64) -> Result<Option<ImportRow>, Error> {
    Ok(imports::table
        .find(id)
        .select(ImportRow::as_select())
        .first(conn)
        .optional()?)
}

/// Imports in the order they were made, after a cursor.
pub fn list_imports(
    conn: &mut Conn,
    after: Option<i64>,
    limit: usize,
) -> Result<Vec<ImportRow>, Error> {
    let mut q = imports::table
        .order(imports::id.asc())
        .limit(i64::try_from(limit).unwrap_or(i64::MAX))
        .into_boxed();
    if let Some(a) = after {
        q = q.filter(imports::id.gt(a));
    }
    Ok(q.select(ImportRow::as_select()).load(conn)?)
}

/// Marks the rollback of a dry run that found nothing wrong.
const DRY_RUN_ROLLBACK: &str = "dry run: rolled back";

/// Runs an import: every row is checked and stored in one transaction, rolled back when any
/// row is bad (the answer lists them) or for a dry run. `progress` is told each row number.
pub fn run_import(
    conn: &mut Conn,
    run: &ImportRun,
    rows: &mut dyn Iterator<Item = RowItem>,
    progress: &mut dyn FnMut(u64),
) -> Result<Outcome, Error> {
    let counted = Cell::new(0u64);
    let result = write_tx(conn, |c| {
        if let Some(first) = find_import(c, run.kind, &run.sha256)? {
            return Ok(Outcome::AlreadyImported(first));
        }
        let mut sink = Sink::new(c, run.now)?;
        let mut errors = RowErrors::default();
        for item in rows {
            match item {
                RowItem::Row(n, row) => {
                    sink.add(c, n, row, &mut errors)?;
                    progress(n);
                }
                RowItem::Bad(list) => errors.extend(list),
                RowItem::Fatal(e) => return Err(e),
            }
            counted.set(counted.get() + 1);
        }
        sink.flush(c, &mut errors)?;
        if !errors.is_empty() {
            return Err(Error::InvalidRows(errors));
        }
        if run.dry_run {
            return Err(Error::internal(DRY_RUN_ROLLBACK));
        }
        let id: Option<i64> = imports::table
            .select(diesel::dsl::max(imports::id))
            .first(c)?;
        let row = ImportRow {
            id: id.unwrap_or(0) + 1,
            kind: run.kind.as_str().to_string(),
            sha256: run.sha256.clone(),
            rows: i64::try_from(counted.get()).unwrap_or(i64::MAX),
            created_at: ts(run.now),
            created_by: run.actor.clone(),
        };
        diesel::insert_into(imports::table)
            .values(&row)
            .execute(c)?;
        Ok(Outcome::Imported(row))
    });
    match result {
        Err(Error::Internal { context, .. }) if context == DRY_RUN_ROLLBACK => {
            Ok(Outcome::DryRun {
                rows: counted.get(),
            })
        }
        other => other,
    }
}

/// Where checked rows go: customers in chunks, plans and incidents one by one.
struct Sink {
    now: Nanos,
    stamp: String,
    plans: HashSet<String>,
    pending: Vec<(u64, NewCustomer)>,
    /// The pending customers as the JSON array the INSERTs read.
    json: Vec<u8>,
    /// The last `plan_since` and its stored form (most files give one or none).
    since: Option<(Nanos, String)>,
    /// Plan and incident ids of this file (customers are told apart by their `created_at`).
    seen: HashSet<String>,
}

impl Sink {
    fn new(conn: &mut Conn, now: Nanos) -> Result<Sink, Error> {
        let plans: Vec<String> = plans::table.select(plans::id).load(conn)?;
        Ok(Sink {
            now,
            stamp: ts(now),
            plans: plans.into_iter().collect(),
            pending: Vec::with_capacity(CUSTOMER_CHUNK),
            json: Vec::new(),
            since: None,
            seen: HashSet::new(),
        })
    }

    fn add(
        &mut self,
        c: &mut Conn,
        n: u64,
        row: CheckedRow,
        errors: &mut RowErrors,
    ) -> Result<(), Error> {
        match row {
            CheckedRow::Customer(cu) => {
                if !self.plans.contains(&cu.plan_id) {
                    errors.push(row_error(
                        n,
                        "plan_id",
                        &cu.plan_id,
                        "not_found",
                        format!("no plan {:?}", cu.plan_id),
                    ));
                    return Ok(());
                }
                self.push_json(&cu)?;
                self.pending.push((n, cu));
                if self.pending.len() >= CUSTOMER_CHUNK {
                    self.flush(c, errors)?;
                }
                Ok(())
            }
            CheckedRow::Plan(p) => {
                if !self.seen.insert(p.id.clone()) {
                    errors.push(twice(n, &p.id));
                    return Ok(());
                }
                let r = plan_store::add_plan(c, &p, self.now).map(|_| ());
                self.plans.insert(p.id.clone());
                absorb(n, &p.id, "", r, errors)
            }
            CheckedRow::Incident(i) => {
                if !self.seen.insert(i.id.clone()) {
                    errors.push(twice(n, &i.id));
                    return Ok(());
                }
                let r = incidents::add_incident(c, &i, self.now).map(|_| ());
                absorb(n, &i.id, &scope_text(&i.scope), r, errors)
            }
        }
    }

    /// Appends one customer to the pending JSON array.
    fn push_json(&mut self, cu: &NewCustomer) -> Result<(), Error> {
        if self.since.as_ref().map(|s| s.0) != Some(cu.plan_since) {
            self.since = Some((cu.plan_since, ts(cu.plan_since)));
        }
        let since = self.since.as_ref().map_or("", |s| s.1.as_str());
        self.json
            .push(if self.json.is_empty() { b'[' } else { b',' });
        let row = (
            &cu.id,
            &cu.name,
            &cu.email,
            cu.timezone.name(),
            since,
            &cu.plan_id,
        );
        serde_json::to_writer(&mut self.json, &row)
            .map_err(|e| Error::internal_from("encoding customers", e))
    }

    /// Stores the pending customers: one INSERT per table for the whole chunk; when an id is
    /// taken, row by row to name each row that clashes.
    fn flush(&mut self, c: &mut Conn, errors: &mut RowErrors) -> Result<(), Error> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let chunk = std::mem::take(&mut self.pending);
        self.json.push(b']');
        let json = std::str::from_utf8(&self.json)
            .map_err(|e| Error::internal_from("encoding customers", e))?;
        let fast = c.transaction(|t| -> Result<(), diesel::result::Error> {
            for sql in [INSERT_CUSTOMERS, INSERT_PLAN_CHANGES] {
                diesel::sql_query(sql)
                    .bind::<Text, _>(json)
                    .bind::<Text, _>(&self.stamp)
                    .execute(t)?;
            }
            Ok(())
        });
        self.json.clear();
        match fast {
            Ok(()) => {}
            Err(e) if is_unique_violation(&e) => {
                let (rows, changes): (Vec<_>, Vec<_>) =
                    chunk.iter().map(|(_, n)| rows_for(n, self.now)).unzip();
                for ((n, cu), (row, change)) in chunk.iter().zip(rows.iter().zip(&changes)) {
                    let one = c.transaction(|t| -> Result<(), diesel::result::Error> {
                        diesel::insert_into(customers::table)
                            .values(row)
                            .execute(t)?;
                        diesel::insert_into(plan_changes::table)
                            .values(change)
                            .execute(t)?;
                        Ok(())
                    });
                    match one {
                        Ok(()) => {}
                        Err(e) if is_unique_violation(&e) => {
                            let stamp: Option<String> = customers::table
                                .find(&cu.id)
                                .select(customers::created_at)
                                .first(c)
                                .optional()?;
                            errors.push(if stamp.as_deref() == Some(self.stamp.as_str()) {
                                twice(*n, &cu.id)
                            } else {
                                row_error(
                                    *n,
                                    "id",
                                    &cu.id,
                                    "taken",
                                    format!("customer {:?} already exists", cu.id),
                                )
                            });
                        }
                        Err(e) => return Err(e.into()),
                    }
                }
            }
            Err(e) => return Err(e.into()),
        }
        self.pending = chunk;
        self.pending.clear();
        Ok(())
    }
}

fn row_error(row: u64, column: &str, value: &str, code: &'static str, message: String) -> RowError {
    RowError {
        row,
        column: column.to_string(),
        value: value.to_string(),
        code,
        message,
    }
}

fn twice(row: u64, id: &str) -> RowError {
    row_error(
        row,
        "id",
        id,
        "taken",
        format!("{id:?} appears more than once in this file"),
    )
}

/// The text form of a scope, as its CSV cell reads (`plans:A B`).
fn scope_text(scope: &Scope) -> String {
    match scope {
        Scope::All => "all".into(),
        Scope::Plans(ids) => format!("plans:{}", ids.join(" ")),
        Scope::Customers(ids) => format!("customers:{}", ids.join(" ")),
    }
}

/// A store error of one row becomes that row's errors (a missing reference is one of the
/// incident's `scope`); anything else stops the import.
fn absorb(
    n: u64,
    id: &str,
    scope: &str,
    r: Result<(), Error>,
    errors: &mut RowErrors,
) -> Result<(), Error> {
    match r {
        Ok(()) => Ok(()),
        Err(Error::Conflict { message, .. }) => {
            errors.push(row_error(n, "id", id, "taken", message));
            Ok(())
        }
        Err(Error::Invalid(v)) => {
            for f in v.0 {
                let column = column_of(&f.field).to_string();
                let value = if column == "scope" { scope } else { "" };
                errors.push(row_error(n, &column, value, f.code, f.message));
            }
            Ok(())
        }
        Err(e) => Err(e),
    }
}

/// The column a field path names: its first segment (`scope.plans` → `scope`).
pub fn column_of(field: &str) -> &str {
    field.split(['.', '[']).next().unwrap_or(field)
}
