//! Writing billing export batches (docs/csv.md, "Exports"): a header and one row per entry,
//! oldest first, RFC 4180 (CRLF, quotes where needed). Text cells that a spreadsheet would
//! run as a formula (beginning with `=`, `+`, `-`, `@`, tab or CR) are prefixed with `'`;
//! `amount` and `policy_version` are numbers and never are. The SHA-256 of a batch is of the
//! plain form: no BOM, comma-delimited. `?bom=true` and `?delimiter=;` are for Excel.

use std::borrow::Cow;
use std::io::Write;

use sha2::{Digest, Sha256};

use crate::domain::time::Nanos;
use crate::store::exports::{create_batch, for_each_page, BatchInfo, Selection};
use crate::store::Conn;
use crate::wire::exports::{ExportLine, LineSink, EXPORT_COLUMNS};
use crate::wire::Error;

/// How a download is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    /// Start with a UTF-8 byte order mark (Excel then reads the file as UTF-8).
    pub bom: bool,
    /// `,` (the plain form) or `;` (Excel in locales whose decimal separator is a comma).
    pub delimiter: u8,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            bom: false,
            delimiter: b',',
        }
    }
}

impl Options {
    /// Reads `bom` (`true`|`false`) and `delimiter` (`,`|`;`) as a query gives them.
    pub fn parse(bom: Option<&str>, delimiter: Option<&str>) -> Result<Options, Error> {
        let bom = match bom {
            None | Some("false") => false,
            Some("true") => true,
            Some(_) => return Err(Error::unparseable("bom", "must be true or false")),
        };
        let delimiter = match delimiter {
            None | Some(",") => b',',
            Some(";") => b';',
            Some(_) => return Err(Error::unparseable("delimiter", "must be , or ;")),
        };
        Ok(Options { bom, delimiter })
    }
}

/// A text cell a spreadsheet would read as a formula, prefixed with `'`.
pub fn neutralize(s: &str) -> Cow<'_, str> {
    match s.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => Cow::Owned(format!("'{s}")),
        _ => Cow::Borrowed(s),
    }
}

fn cells(l: &ExportLine) -> [Cow<'_, str>; 18] {
    let t = neutralize;
    [
        t(&l.entry_id),
        t(&l.kind),
        t(&l.customer_id),
        t(&l.customer_name),
        t(&l.period),
        Cow::Borrowed(l.amount.as_str()),
        t(&l.currency),
        t(&l.incident_ids),
        t(&l.reason),
        t(&l.reverses),
        t(&l.settlement_id),
        t(&l.export_id),
        t(&l.created_at),
        t(&l.created_by),
        t(&l.plan_id),
        Cow::Borrowed(l.policy_version.as_str()),
        t(&l.rounding),
        t(&l.explanation),
    ]
}

fn writer(opts: Options, out: &mut Vec<u8>) -> csv::Writer<&mut Vec<u8>> {
    csv::WriterBuilder::new()
        .delimiter(opts.delimiter)
        .terminator(csv::Terminator::CRLF)
        .from_writer(out)
}

fn rendering(e: impl std::error::Error + Send + Sync + 'static) -> Error {
    Error::internal_from("writing CSV", e)
}

/// The BOM (when asked for) and the header row.
pub fn header(opts: Options) -> Result<Vec<u8>, Error> {
    let mut out = Vec::new();
    if opts.bom {
        out.extend_from_slice("\u{feff}".as_bytes());
    }
    {
        let mut w = writer(opts, &mut out);
        w.write_record(EXPORT_COLUMNS).map_err(rendering)?;
        w.flush().map_err(rendering)?;
    }
    Ok(out)
}

/// Rows, appended to `out`.
pub fn rows<'a>(
    lines: impl IntoIterator<Item = &'a ExportLine>,
    opts: Options,
    out: &mut Vec<u8>,
) -> Result<(), Error> {
    let mut w = writer(opts, out);
    for l in lines {
        w.write_record(cells(l).iter().map(|c| c.as_bytes()))
            .map_err(rendering)?;
    }
    w.flush().map_err(rendering)
}

/// Hashes the plain form of a new batch as the store hands its pages.
struct Hashing {
    hasher: Sha256,
    buf: Vec<u8>,
}

impl LineSink for Hashing {
    fn lines(&mut self, lines: &[ExportLine]) -> Result<(), Error> {
        self.buf.clear();
        rows(lines, Options::default(), &mut self.buf)?;
        self.hasher.update(&self.buf);
        Ok(())
    }

    fn digest(&mut self) -> String {
        super::hex(&std::mem::take(&mut self.hasher).finalize())
    }
}

/// Makes a batch of every entry in no batch yet (possibly empty) and records the SHA-256 of
/// its plain CSV.
pub fn create(conn: &mut Conn, actor: &str, now: Nanos) -> Result<BatchInfo, Error> {
    let mut hasher = Sha256::new();
    hasher.update(header(Options::default())?);
    let mut sink = Hashing {
        hasher,
        buf: Vec::new(),
    };
    create_batch(conn, actor, now, &mut sink)
}

/// Writes a batch's CSV, page by page.
pub fn write_batch(
    conn: &mut Conn,
    id: i64,
    opts: Options,
    out: &mut dyn Write,
) -> Result<(), Error> {
    let io = |e: std::io::Error| Error::internal_from("writing the export", e);
    out.write_all(&header(opts)?).map_err(io)?;
    let mut buf = Vec::new();
    for_each_page(conn, Selection::Batch(id), &mut |page| {
        buf.clear();
        rows(page.iter().map(|p| &p.line), opts, &mut buf)?;
        out.write_all(&buf).map_err(io)
    })?;
    out.flush().map_err(io)
}
