//! Reading the three what-if files with the import reader (docs/csv.md, "Imports"): every row
//! is checked by the same command an import runs, and the checks an import makes against the
//! database are made against the other files instead — a customer's `plan_id` against the
//! plans file, an incident's `scope` against the plans and customers files, ids appearing
//! twice within a file. Errors are reported as `import KIND FILE --dry-run` reports them, in
//! the same order.
//!
//! Customers are kept as compact records: the id in one text arena, a zone index and a plan
//! index; memory grows by about 60 bytes per customer (records and the id index) beyond the
//! plan and zone tables, plus 32 bytes while sorting by id.

use std::collections::{HashMap, HashSet};
use std::hash::Hasher;
use std::io::Read;

use chrono_tz::Tz;

use crate::csv::import::{for_each_batch, Rows};
use crate::domain::book::{IncidentRecord, PlanInfo, PlanVersion};
use crate::domain::scope::Scope;
use crate::domain::time::Nanos;
use crate::wire::customers::NewCustomer;
use crate::wire::imports::{CheckedRow, ImportKind, RowError, RowErrors, RowItem};
use crate::wire::plans::NewPlan;
use crate::wire::Error;

// Customers an import stores per chunk: duplicate ids are found (and reported) when such a
// chunk is flushed, so the order of errors follows it; the what-if flushes as an import does.
use crate::store::imports::CUSTOMER_CHUNK;

/// A plan of the plans file.
#[derive(Debug, Clone)]
pub struct PlanRec {
    pub info: PlanInfo,
}

impl PlanRec {
    pub fn version(&self) -> &PlanVersion {
        self.info.latest()
    }
}

/// One customer, compactly.
#[derive(Debug, Clone, Copy)]
pub struct CustRec {
    pub plan: u32,
    pub zone: u16,
    pub since: Nanos,
}

/// Every customer of the customers file.
#[derive(Debug, Default)]
pub struct Customers {
    arena: String,
    ends: Vec<usize>,
    pub recs: Vec<CustRec>,
    by_hash: HashIndex,
    /// Ids whose hash another id already has (rare).
    collided: HashMap<String, u32>,
}

/// A 64-bit hash of an id (FNV-1a, then a final mix). Ids that share a hash are told apart by
/// comparing them, so the quality only matters for speed.
fn hash_of(id: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in id.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
    }
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^ (h >> 33)
}

/// The map from id hashes: the key is a hash already, so it is used as it is.
#[derive(Debug, Default, Clone, Copy)]
pub struct PassThrough(u64);

impl Hasher for PassThrough {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 << 8) | u64::from(*b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

type HashIndex = HashMap<u64, u32, std::hash::BuildHasherDefault<PassThrough>>;

/// FNV-1a for the small tables looked up once per customer row (plans by id, zones): keys
/// come from the files, but these tables hold only what the plans file and the zone database
/// define, so a keyed hash buys nothing here.
#[derive(Debug, Default, Clone, Copy)]
pub struct FnvHasher(u64);

impl Hasher for FnvHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        let mut h = if self.0 == 0 {
            0xcbf2_9ce4_8422_2325
        } else {
            self.0
        };
        for b in bytes {
            h = (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3);
        }
        self.0 = h;
    }
}

pub type Fnv = std::hash::BuildHasherDefault<FnvHasher>;

impl Customers {
    pub fn len(&self) -> usize {
        self.recs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.recs.is_empty()
    }

    /// The id of customer `i`.
    pub fn id(&self, i: usize) -> &str {
        let start = if i == 0 {
            0
        } else {
            self.ends.get(i - 1).copied().unwrap_or(0)
        };
        let end = self.ends.get(i).copied().unwrap_or(start);
        self.arena.get(start..end).unwrap_or_default()
    }

    /// The first 16 bytes of customer `i`'s id, big-endian (zero-padded): ordering by it, then
    /// by the whole id where it ties, is the bytewise order of ids.
    pub fn prefix(&self, i: usize) -> u128 {
        let mut buf = [0u8; 16];
        let id = self.id(i).as_bytes();
        let n = id.len().min(16);
        buf[..n].copy_from_slice(&id[..n]);
        u128::from_be_bytes(buf)
    }

    /// The index of a customer by id.
    pub fn find(&self, id: &str) -> Option<u32> {
        match self.by_hash.get(&hash_of(id)) {
            Some(&i) if self.id(i as usize) == id => Some(i),
            Some(_) => self.collided.get(id).copied(),
            None => None,
        }
    }

    /// Adds a customer unless its id is already there (answers whether it was added).
    fn add(&mut self, id: &str, rec: CustRec) -> bool {
        if self.find(id).is_some() {
            return false;
        }
        let i = u32::try_from(self.recs.len()).unwrap_or(u32::MAX);
        let h = hash_of(id);
        match self.by_hash.entry(h) {
            std::collections::hash_map::Entry::Occupied(_) => {
                self.collided.insert(id.to_string(), i);
            }
            std::collections::hash_map::Entry::Vacant(v) => {
                v.insert(i);
            }
        }
        self.arena.push_str(id);
        self.ends.push(self.arena.len());
        self.recs.push(rec);
        true
    }
}

/// What the three files hold, once every row is valid.
#[derive(Debug, Default)]
pub struct Book {
    pub plans: Vec<PlanRec>,
    pub plan_index: HashMap<String, u32, Fnv>,
    pub zones: Vec<Tz>,
    pub customers: Customers,
    pub incidents: Vec<IncidentRecord>,
}

/// The problems of one file.
#[derive(Debug)]
pub struct FileErrors {
    /// `customers`, `plans` or `incidents`.
    pub kind: ImportKind,
    pub path: String,
    pub error: Error,
}

/// Where the three files are.
#[derive(Debug, Clone)]
pub struct Paths {
    pub customers: std::path::PathBuf,
    pub plans: std::path::PathBuf,
    pub incidents: std::path::PathBuf,
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

/// Reads every row of one file, handing the checked ones to `add`; bad rows and what `add`
/// finds go into the file's errors. Rows are read on one thread and checked on as many as
/// the pool has (the import reader's [`for_each_batch`]), overlapping with what `add` does;
/// they arrive in file order, so the errors are those `import --dry-run` lists, in its order.
fn read_file<R: Read + Send>(
    kind: ImportKind,
    input: R,
    add: &mut dyn FnMut(u64, CheckedRow, &mut RowErrors),
) -> Result<(), Error> {
    let rows = Rows::new(kind, input)?;
    let mut errors = RowErrors::default();
    let mut fatal = None;
    for_each_batch(rows, rayon::current_num_threads(), &mut |batch| {
        for item in batch {
            match item {
                RowItem::Row(n, row) => add(n, row, &mut errors),
                RowItem::Bad(list) => errors.extend(list),
                RowItem::Fatal(e) => {
                    fatal = Some(e);
                    return false;
                }
            }
        }
        true
    });
    if let Some(e) = fatal {
        return Err(e);
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(Error::InvalidRows(errors))
    }
}

fn open(path: &std::path::Path, bar: &indicatif::ProgressBar) -> Result<impl Read + Send, Error> {
    let f = std::fs::File::open(path)
        .map_err(|e| Error::invalid("file", format!("{}: {e}", path.display())))?;
    Ok(bar.wrap_read(std::io::BufReader::with_capacity(256 * 1024, f)))
}

fn plan_rec(p: NewPlan) -> Result<PlanRec, Error> {
    let policy_json = serde_json::to_string(&p.policy.to_spec())
        .map_err(|e| Error::internal_from("the policy as JSON", e))?;
    let version = PlanVersion {
        plan_id: p.id.clone(),
        version: 1,
        name: p.name,
        currency: p.currency,
        plan: p.plan,
        policy: p.policy,
        policy_json,
        effective_at: 0,
    };
    Ok(PlanRec {
        info: PlanInfo {
            id: p.id,
            currency: p.currency,
            versions: vec![version],
        },
    })
}

fn load_plans(
    path: &std::path::Path,
    book: &mut Book,
    bar: &indicatif::ProgressBar,
) -> Result<(), Error> {
    let mut failure = None;
    let r = read_file(
        ImportKind::Plans,
        open(path, bar)?,
        &mut |n, row, errors| {
            let CheckedRow::Plan(p) = row else { return };
            if book.plan_index.contains_key(&p.id) {
                errors.push(twice(n, &p.id));
                return;
            }
            let at = u32::try_from(book.plans.len()).unwrap_or(u32::MAX);
            book.plan_index.insert(p.id.clone(), at);
            match plan_rec(p) {
                Ok(rec) => book.plans.push(rec),
                Err(e) => failure = Some(e),
            }
        },
    );
    match failure {
        Some(e) => Err(e),
        None => r,
    }
}

/// The pending customers of one chunk: an id seen before is this file's duplicate.
fn flush(pending: &mut Vec<(u64, String, CustRec)>, book: &mut Book, errors: &mut RowErrors) {
    for (n, id, rec) in pending.drain(..) {
        if !book.customers.add(&id, rec) {
            errors.push(twice(n, &id));
        }
    }
}

fn zone_index(book: &mut Book, zones: &mut HashMap<Tz, u16, Fnv>, tz: Tz) -> u16 {
    *zones.entry(tz).or_insert_with(|| {
        book.zones.push(tz);
        u16::try_from(book.zones.len() - 1).unwrap_or(u16::MAX)
    })
}

fn load_customers(
    path: &std::path::Path,
    book: &mut Book,
    bar: &indicatif::ProgressBar,
) -> Result<(), Error> {
    let mut zones: HashMap<Tz, u16, Fnv> = HashMap::default();
    let mut pending: Vec<(u64, String, CustRec)> = Vec::with_capacity(CUSTOMER_CHUNK);
    let mut tail = RowErrors::default();
    let r = read_file(
        ImportKind::Customers,
        open(path, bar)?,
        &mut |n, row, errors| {
            let CheckedRow::Customer(NewCustomer {
                id,
                timezone,
                plan_id,
                plan_since,
                ..
            }) = row
            else {
                return;
            };
            let Some(&plan) = book.plan_index.get(&plan_id) else {
                errors.push(row_error(
                    n,
                    "plan_id",
                    &plan_id,
                    "not_found",
                    format!("no plan {plan_id:?}"),
                ));
                return;
            };
            let zone = zone_index(book, &mut zones, timezone);
            pending.push((
                n,
                id,
                CustRec {
                    plan,
                    zone,
                    since: plan_since,
                },
            ));
            if pending.len() >= CUSTOMER_CHUNK {
                flush(&mut pending, book, errors);
            }
        },
    );
    // The last chunk is flushed after every row is read, as an import does.
    flush(&mut pending, book, &mut tail);
    match r {
        Err(Error::InvalidRows(mut errors)) => {
            let unlisted = tail.total.saturating_sub(tail.listed.len());
            errors.extend(tail.listed);
            errors.total += unlisted;
            Err(Error::InvalidRows(errors))
        }
        Ok(()) if !tail.is_empty() => Err(Error::InvalidRows(tail)),
        other => other,
    }
}

/// The text form of a scope, as its CSV cell reads (`plans:A B`).
fn scope_text(scope: &Scope) -> String {
    match scope {
        Scope::All => "all".into(),
        Scope::Plans(ids) => format!("plans:{}", ids.join(" ")),
        Scope::Customers(ids) => format!("customers:{}", ids.join(" ")),
    }
}

/// The first id of a scope that the other files do not hold, as an import names it.
fn missing_reference(book: &Book, scope: &Scope) -> Option<String> {
    match scope {
        Scope::All => None,
        Scope::Plans(ids) => ids
            .iter()
            .find(|id| !book.plan_index.contains_key(id.as_str()))
            .map(|m| format!("no plan {m:?}")),
        Scope::Customers(ids) => ids
            .iter()
            .find(|id| book.customers.find(id).is_none())
            .map(|m| format!("no customer {m:?}")),
    }
}

fn load_incidents(
    path: &std::path::Path,
    book: &mut Book,
    bar: &indicatif::ProgressBar,
) -> Result<(), Error> {
    let mut seen: HashSet<String> = HashSet::new();
    let mut list = Vec::new();
    let r = read_file(
        ImportKind::Incidents,
        open(path, bar)?,
        &mut |n, row, errors| {
            let CheckedRow::Incident(i) = row else { return };
            if !seen.insert(i.id.clone()) {
                errors.push(twice(n, &i.id));
                return;
            }
            if let Some(message) = missing_reference(book, &i.scope) {
                errors.push(row_error(
                    n,
                    "scope",
                    &scope_text(&i.scope),
                    "not_found",
                    message,
                ));
                return;
            }
            list.push(IncidentRecord {
                id: i.id,
                title: i.title,
                kind: i.kind,
                started_at: i.started_at,
                ended_at: i.ended_at,
                impact: i.impact,
                summary: i.summary,
                scope: i.scope,
            });
        },
    );
    book.incidents = list;
    r
}

/// Reads and checks the three files: plans first (customers name them), then customers,
/// then incidents (their scope names both). Every file is read whatever the others hold;
/// a file's errors are all listed.
pub fn load(paths: &Paths, bar: &indicatif::ProgressBar) -> Result<Book, Vec<FileErrors>> {
    let mut book = Book::default();
    let mut failed = Vec::new();
    let steps: [(ImportKind, &std::path::Path); 3] = [
        (ImportKind::Plans, &paths.plans),
        (ImportKind::Customers, &paths.customers),
        (ImportKind::Incidents, &paths.incidents),
    ];
    for (kind, path) in steps {
        bar.set_message(format!("reading {}", kind.as_str()));
        let r = match kind {
            ImportKind::Plans => load_plans(path, &mut book, bar),
            ImportKind::Customers => load_customers(path, &mut book, bar),
            ImportKind::Incidents => load_incidents(path, &mut book, bar),
        };
        if let Err(error) = r {
            failed.push(FileErrors {
                kind,
                path: path.display().to_string(),
                error,
            });
        }
    }
    if failed.is_empty() {
        Ok(book)
    } else {
        Err(failed)
    }
}
