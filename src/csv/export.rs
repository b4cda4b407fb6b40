//! Writing billing export batches (docs/csv.md, "Exports"): a header and one row per entry,
//! oldest first, RFC 4180 (CRLF, quotes where needed). Text cells that a spreadsheet would
//! run as a formula (beginning with `=`, `+`, `-`, `@`, tab or CR) are prefixed with `'`;
//! `amount` and `policy_version` are numbers and never are. The SHA-256 of a batch is of the
//! plain form: no BOM, comma-delimited. `?bom=true` and `?delimiter=;` are for Excel.
//!
//! A batch is read in spans of entry ids by two threads, each with its own connection, and
//! each entry is written straight from the stored row ([`Render`]: the csv crate's quoting,
//! byte for byte); the calling thread takes the spans' bytes in order, hashes and writes
//! them. A new batch is read once for both its SHA-256 and its file.

use std::borrow::Cow;
use std::io::Write;
use std::sync::mpsc::{channel, sync_channel, Receiver, Sender};

use sha2::{Digest, Sha256};

use crate::domain::time::Nanos;
use crate::store::exports::{
    create_batch, for_each_entry, open_reader, range_of, BatchInfo, EntrySink, ExportEntry, Range,
    Rendered, Sums, Text, WINDOW,
};
use crate::store::sqlite::unmapped;
use crate::store::Conn;
use crate::wire::exports::{ExportLine, EXPORT_COLUMNS};
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

/// Rows of lines already made, appended to `out` (the reference form of [`Render`]).
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

/// Entry ids a reading thread takes at a time (a few MB of CSV): one of the store's windows.
const SPAN: i64 = WINDOW;

const ONES: u64 = u64::from_ne_bytes([1; 8]);
const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);

/// `b` in each byte of a word.
fn splat(b: u8) -> u64 {
    ONES * u64::from(b)
}

/// Whether a word has a byte equal to the byte `splat` was made from: exactly when
/// `zero_byte(word ^ splat)` is non-zero.
fn has_byte(word: u64, splat: u64) -> bool {
    let v = word ^ splat;
    v.wrapping_sub(ONES) & !v & HIGHS != 0
}

/// The words of a slice, eight bytes each, and the bytes left over.
fn words(bytes: &[u8]) -> (impl Iterator<Item = (usize, u64)> + '_, &[u8]) {
    let chunks = bytes.chunks_exact(8);
    let rest = chunks.remainder();
    let words = chunks.enumerate().map(|(i, word)| {
        let mut w = [0u8; 8];
        w.copy_from_slice(word);
        (i * 8, u64::from_ne_bytes(w))
    });
    (words, rest)
}

/// Whether a cell needs quotes: the csv crate's rule for `QuoteStyle::Necessary` (the
/// delimiter, a quote, CR or LF anywhere in it). Eight bytes at a time.
fn needs_quotes(cell: &[u8], delimiter: u8) -> bool {
    let [d, q, lf, cr] = [delimiter, b'"', b'\n', b'\r'].map(splat);
    let (mut words, rest) = words(cell);
    words.any(|(_, w)| has_byte(w, d) || has_byte(w, q) || has_byte(w, lf) || has_byte(w, cr))
        || rest
            .iter()
            .any(|&b| b == delimiter || matches!(b, b'"' | b'\n' | b'\r'))
}

/// One cell, `'`-prefixed if `text` and a spreadsheet would run it, quoted if needed.
fn cell(out: &mut Vec<u8>, value: &[u8], delimiter: u8, text: bool) {
    let prefix = text
        && matches!(
            value.first(),
            Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r')
        );
    if !needs_quotes(value, delimiter) {
        if prefix {
            out.push(b'\'');
        }
        out.extend_from_slice(value);
        return;
    }
    out.push(b'"');
    if prefix {
        out.push(b'\'');
    }
    // Each quote doubled; the runs between quotes copied whole.
    let mut rest = value;
    while let Some(at) = find_byte(rest, b'"') {
        let (run, after) = rest.split_at(at + 1);
        out.extend_from_slice(run);
        out.push(b'"');
        rest = after;
    }
    out.extend_from_slice(rest);
    out.push(b'"');
}

/// The first position of `b` in `hay`, eight bytes at a time.
fn find_byte(hay: &[u8], b: u8) -> Option<usize> {
    let pattern = splat(b);
    let (mut words, rest) = words(hay);
    match words.find(|&(_, w)| has_byte(w, pattern)) {
        Some((at, _)) => hay.get(at..)?.iter().position(|&c| c == b).map(|i| at + i),
        None => {
            let at = hay.len() - rest.len();
            rest.iter().position(|&c| c == b).map(|i| at + i)
        }
    }
}

fn push_u64(out: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        if let Some(d) = digits.get_mut(at) {
            *d = b'0' + (n % 10) as u8;
        }
        n /= 10;
        if n == 0 || at == 0 {
            break;
        }
    }
    out.extend_from_slice(digits.get(at..).unwrap_or_default());
}

fn push_i64(out: &mut Vec<u8>, n: i64) {
    if n < 0 {
        out.push(b'-');
    }
    push_u64(out, n.unsigned_abs());
}

/// `prefix` and a number (`cre_12`), or nothing.
fn push_id(out: &mut Vec<u8>, prefix: &str, n: Option<i64>) {
    if let Some(n) = n {
        out.extend_from_slice(prefix.as_bytes());
        push_i64(out, n);
    }
}

/// An amount in minor units as a plain signed decimal with exactly `minor_units` digits
/// after the point: what `Decimal::new(amount, minor_units)` displays (`-1250`, 2 → `-12.50`).
pub fn push_amount(out: &mut Vec<u8>, amount_minor: i64, minor_units: u32) {
    if amount_minor < 0 {
        out.push(b'-');
    }
    let abs = amount_minor.unsigned_abs();
    let Some(scale) = 10u64.checked_pow(minor_units) else {
        push_u64(out, abs);
        return;
    };
    push_u64(out, abs / scale);
    if minor_units > 0 {
        out.push(b'.');
        let mut digits = Vec::with_capacity(20);
        push_u64(&mut digits, abs % scale);
        for _ in digits.len()..minor_units as usize {
            out.push(b'0');
        }
        out.extend_from_slice(&digits);
    }
}

/// Writes export rows straight from stored entries. Consecutive entries mostly share their
/// `created_at` and incidents (a settlement writes many at once), so the last of each is
/// kept in its exported form.
#[derive(Debug, Default)]
pub struct Render {
    created_raw: Vec<u8>,
    created: String,
    incidents_raw: Vec<u8>,
    incidents: String,
    batch: Option<(i64, String)>,
}

impl Render {
    fn created_at(&mut self, raw: &[u8]) -> Result<&str, Error> {
        if self.created_raw != raw || self.created.is_empty() {
            let bad = |m: String| Error::internal(format!("ledger_entries.created_at: {m}"));
            let text = std::str::from_utf8(raw).map_err(|e| bad(e.to_string()))?;
            let n = crate::domain::time::parse_instant(text).map_err(bad)?;
            self.created = crate::domain::time::format_utc(n);
            raw.clone_into(&mut self.created_raw);
        }
        Ok(&self.created)
    }

    fn incidents(&mut self, id: i64, raw: &[u8]) -> Result<&str, Error> {
        if self.incidents_raw != raw {
            let list: Vec<String> = serde_json::from_slice(raw)
                .map_err(|e| Error::internal(format!("ledger entry {id}: {e}")))?;
            self.incidents = list.join(" ");
            raw.clone_into(&mut self.incidents_raw);
        }
        Ok(&self.incidents)
    }

    fn export_id(&mut self, batch: i64) -> &str {
        if self.batch.as_ref().map(|b| b.0) != Some(batch) {
            self.batch = Some((batch, crate::wire::exports::export_id(batch)));
        }
        self.batch.as_ref().map_or("", |b| b.1.as_str())
    }

    /// One entry of batch `batch` as a CSV row, appended to `out`.
    pub fn row(
        &mut self,
        batch: i64,
        e: &ExportEntry,
        delimiter: u8,
        out: &mut Vec<u8>,
    ) -> Result<(), Error> {
        let d = delimiter;
        let minor_units = u32::try_from(e.minor_units)
            .map_err(|x| Error::internal(format!("ledger entry {}: {x}", e.id)))?;
        push_id(out, crate::domain::ids::ENTRY_PREFIX, Some(e.id));
        for w in [
            Text::Kind,
            Text::CustomerId,
            Text::CustomerName,
            Text::Period,
        ] {
            out.push(d);
            cell(out, e.text(w), d, true);
        }
        out.push(d);
        push_amount(out, e.amount_minor, minor_units);
        out.push(d);
        cell(out, e.text(Text::Currency), d, true);
        out.push(d);
        let incidents = self.incidents(e.id, e.text(Text::IncidentIds))?;
        cell(out, incidents.as_bytes(), d, true);
        out.push(d);
        cell(out, e.text(Text::Reason), d, true);
        out.push(d);
        push_id(out, crate::domain::ids::ENTRY_PREFIX, e.reverses);
        out.push(d);
        push_id(out, crate::wire::credits::SETTLEMENT_PREFIX, e.settlement);
        out.push(d);
        let export = self.export_id(batch);
        cell(out, export.as_bytes(), d, true);
        out.push(d);
        let created = self.created_at(e.text(Text::CreatedAt))?;
        cell(out, created.as_bytes(), d, true);
        for w in [Text::CreatedBy, Text::PlanId] {
            out.push(d);
            cell(out, e.text(w), d, true);
        }
        out.push(d);
        if let Some(v) = e.policy_version {
            push_i64(out, v);
        }
        for w in [Text::Rounding, Text::Explanation] {
            out.push(d);
            cell(out, e.text(w), d, true);
        }
        out.extend_from_slice(b"\r\n");
        Ok(())
    }
}

/// What reading a batch makes: the SHA-256 of the plain form, the file in the output's
/// form, or both.
#[derive(Debug, Clone, Copy)]
struct Mode {
    hash: bool,
    write: Option<Options>,
}

impl Mode {
    /// Whether the plain form is rendered (hashed, or written as it is).
    fn plain(&self) -> bool {
        self.hash || self.write == Some(Options::default())
    }
    /// The output's form when it is not the plain one (rendered as well).
    fn other(&self) -> Option<Options> {
        self.write.filter(|o| *o != Options::default())
    }
}

/// One span's rows: the plain form and, when the output is asked for in another form, that
/// form too.
#[derive(Debug, Default)]
struct Chunk {
    plain: Vec<u8>,
    other: Vec<u8>,
}

/// A reading thread's side of the exchange, as the writing thread holds it: where its chunks
/// arrive, and where they go back to be filled again.
type Reader = (Receiver<Result<Chunk, Error>>, Sender<Chunk>);

/// What a reading thread found: its rows and sums.
type Part = Result<(u64, Sums), Error>;

/// Reads spans `first`, `first + step`, … of `range` with `conn`, rendering each into a
/// chunk handed over in order; stops when the receiver is gone. Chunks come back through
/// `back` once written and are filled again: a reader's buffers are allocated once.
fn read_spans(
    conn: &mut Conn,
    range: Range,
    mode: Mode,
    first: i64,
    step: i64,
    to: &std::sync::mpsc::SyncSender<Result<Chunk, Error>>,
    back: &Receiver<Chunk>,
) -> Part {
    let mut render = Render::default();
    let mut sums = Sums::default();
    let mut rows = 0;
    let mut k = first;
    loop {
        let start = range.after.saturating_add(k.saturating_mul(SPAN));
        if start >= range.last {
            return Ok((rows, sums));
        }
        let span = Range {
            batch: range.batch,
            after: start,
            last: start.saturating_add(SPAN).min(range.last),
        };
        let mut chunk = back.try_recv().unwrap_or_default();
        chunk.plain.clear();
        chunk.other.clear();
        let read = for_each_entry(conn, span, span.after, None, &mut |e| {
            sums.add(e);
            if mode.plain() {
                render.row(range.batch, e, b',', &mut chunk.plain)?;
            }
            if let Some(o) = mode.other() {
                render.row(range.batch, e, o.delimiter, &mut chunk.other)?;
            }
            Ok(())
        });
        match read {
            Ok(n) => rows += n,
            Err(e) => {
                let _ = to.send(Err(e));
                return Ok((rows, sums));
            }
        }
        if to.send(Ok(chunk)).is_err() {
            return Ok((rows, sums));
        }
        k += step;
    }
}

/// Reads every entry of `range` on two threads (one with `conn`, one with a reader of the
/// same database; one thread when there is none) and hashes and writes the rows in order
/// here.
fn read_range(
    conn: &mut Conn,
    range: Range,
    mode: Mode,
    out: &mut dyn Write,
) -> Result<Rendered, Error> {
    let io = |e: std::io::Error| Error::internal_from("writing the export", e);
    let mut hasher = Sha256::new();
    if mode.hash {
        hasher.update(header(Options::default())?);
    }
    if let Some(o) = mode.write {
        out.write_all(&header(o)?).map_err(io)?;
    }
    let spans = (range.last - range.after + SPAN - 1) / SPAN;
    let mut reader = if spans > 1 { open_reader(conn)? } else { None };
    let threads: i64 = if reader.is_some() { 2 } else { 1 };
    let parts = std::thread::scope(|s| -> Result<Vec<Part>, Error> {
        let mut inbox: Vec<Reader> = Vec::new();
        let mut handles = Vec::new();
        let conns: Vec<&mut Conn> = std::iter::once(conn).chain(reader.as_mut()).collect();
        for (first, c) in (0..threads).zip(conns) {
            let (tx, rx) = sync_channel(2);
            let (give_back, back) = channel();
            inbox.push((rx, give_back));
            handles.push(s.spawn(move || read_spans(c, range, mode, first, threads, &tx, &back)));
        }
        let mut written = Ok(());
        for k in 0..spans {
            let Some((from, give_back)) = inbox.get(usize::try_from(k % threads).unwrap_or(0))
            else {
                written = Err(Error::internal("an export reader is missing"));
                break;
            };
            let chunk = match from.recv() {
                Ok(Ok(c)) => c,
                Ok(Err(e)) => {
                    written = Err(e);
                    break;
                }
                Err(_) => {
                    written = Err(Error::internal("an export reader stopped"));
                    break;
                }
            };
            if mode.hash {
                hasher.update(&chunk.plain);
            }
            let bytes = if mode.other().is_some() {
                &chunk.other
            } else {
                &chunk.plain
            };
            if mode.write.is_some() {
                if let Err(e) = out.write_all(bytes) {
                    written = Err(io(e));
                    break;
                }
            }
            // The reader may be done already; then the chunk is simply dropped.
            let _ = give_back.send(chunk);
        }
        // The readers stop at their next hand-over once nobody takes their chunks.
        drop(inbox);
        let parts = handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(Error::internal("an export reader panicked")))
            })
            .collect();
        written.map(|()| parts)
    })?;
    let mut rendered = Rendered::default();
    for part in parts {
        let (rows, sums) = part?;
        rendered.rows += rows;
        rendered.sums.merge(sums);
    }
    out.flush().map_err(io)?;
    rendered.sha256 = super::hex(&hasher.finalize());
    Ok(rendered)
}

/// Renders a new batch as the store reads it.
struct Sink<'w> {
    mode: Mode,
    out: &'w mut dyn Write,
}

impl EntrySink for Sink<'_> {
    fn render(&mut self, conn: &mut Conn, range: Range) -> Result<Rendered, Error> {
        read_range(conn, range, self.mode, self.out)
    }
}

/// Makes a batch of every entry in no batch yet (possibly empty) and records the SHA-256 of
/// its plain CSV.
pub fn create(conn: &mut Conn, actor: &str, now: Nanos) -> Result<BatchInfo, Error> {
    let mut sink = Sink {
        mode: Mode {
            hash: true,
            write: None,
        },
        out: &mut std::io::sink(),
    };
    unmapped(conn, |conn| create_batch(conn, actor, now, &mut sink))
}

/// Makes a batch as [`create`] does and writes its CSV to `out` in the same pass (the
/// entries are read once, for the file and for its SHA-256).
pub fn create_into(
    conn: &mut Conn,
    actor: &str,
    now: Nanos,
    opts: Options,
    out: &mut dyn Write,
) -> Result<BatchInfo, Error> {
    let mut sink = Sink {
        mode: Mode {
            hash: true,
            write: Some(opts),
        },
        out,
    };
    unmapped(conn, |conn| create_batch(conn, actor, now, &mut sink))
}

/// Writes a batch's CSV (memory stays flat: a few spans in flight).
pub fn write_batch(
    conn: &mut Conn,
    id: i64,
    opts: Options,
    out: &mut dyn Write,
) -> Result<(), Error> {
    let range = range_of(conn, id)?
        .ok_or_else(|| Error::not_found("export", crate::wire::exports::export_id(id)))?;
    let mode = Mode {
        hash: false,
        write: Some(opts),
    };
    unmapped(conn, |conn| read_range(conn, range, mode, out)).map(|_| ())
}

/// Up to `limit` rows of a batch after entry `after`, appended to `out`: how many, and the
/// last entry's id (for the next page).
pub fn write_page(
    conn: &mut Conn,
    range: Range,
    after: i64,
    limit: usize,
    opts: Options,
    out: &mut Vec<u8>,
) -> Result<(u64, Option<i64>), Error> {
    let mut render = Render::default();
    let mut last = None;
    let n = unmapped(conn, |conn| {
        for_each_entry(conn, range, after, Some(limit), &mut |e| {
            last = Some(e.id);
            render.row(range.batch, e, opts.delimiter, out)
        })
    })?;
    Ok((n, last))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the csv crate writes for one cell (as the reference `rows` does).
    fn by_csv_crate(value: &str, delimiter: u8, text: bool) -> Vec<u8> {
        let mut out = Vec::new();
        {
            let mut w = csv::WriterBuilder::new()
                .delimiter(delimiter)
                .terminator(csv::Terminator::CRLF)
                .from_writer(&mut out);
            let shown = if text {
                neutralize(value)
            } else {
                Cow::Borrowed(value)
            };
            w.write_record([shown.as_bytes(), b"x"]).unwrap_or_default();
            w.flush().unwrap_or_default();
        }
        out
    }

    #[test]
    fn cells_are_written_as_the_csv_crate_writes_them() {
        let values = [
            "",
            "plain",
            "a,b",
            "a;b",
            "say \"hi\"",
            "\"",
            "line\nbreak",
            "cr\rx",
            "=HYPERLINK(\"http://x\",\"y\")",
            "-12.50",
            "+1",
            "@x",
            "\tx",
            "\rx",
            "Müller, Schmidt",
            "日本語;テスト",
            "¬¬¬¬¬¬¬¬ ÌÌÌÌ ¢¢¢¢ ®®®® ««««",
            "\"\"\"",
            "ab\"\"cd\"efghij\"",
            "1234567\"\"9abcdef\"h, i\"",
            "Customer \"Ltd.\", Inc. \"quoted\" twice\"",
        ];
        // Each byte that needs quotes, at every place in and around a word of eight.
        let mut placed: Vec<String> = Vec::new();
        for special in [",", ";", "\"", "\n", "\r"] {
            for at in 0..20 {
                for len in [at + 1, at + 3, 24] {
                    let mut v = "x".repeat(at);
                    v.push_str(special);
                    v.push_str(&"y".repeat(len.saturating_sub(at + 1)));
                    placed.push(v);
                }
            }
        }
        for d in [b',', b';'] {
            for v in values
                .iter()
                .copied()
                .chain(placed.iter().map(String::as_str))
            {
                for text in [true, false] {
                    let mut ours = Vec::new();
                    cell(&mut ours, v.as_bytes(), d, text);
                    ours.push(d);
                    ours.extend_from_slice(b"x\r\n");
                    assert_eq!(
                        String::from_utf8_lossy(&ours),
                        String::from_utf8_lossy(&by_csv_crate(v, d, text)),
                        "{v:?} with {:?}, text {text}",
                        d as char
                    );
                }
            }
        }
    }

    #[test]
    fn amounts_read_as_decimal_displays_them() {
        let mut samples: Vec<i64> = (-2_000..=2_000).collect();
        samples.extend([i64::MIN, i64::MIN + 1, i64::MAX, 1_000_000_007, -99_999]);
        for minor_units in 0..=4u32 {
            for &a in &samples {
                let mut ours = Vec::new();
                push_amount(&mut ours, a, minor_units);
                let expected = rust_decimal::Decimal::new(a, minor_units).to_string();
                assert_eq!(
                    String::from_utf8_lossy(&ours),
                    expected,
                    "{a} / 10^{minor_units}"
                );
            }
        }
    }
}
