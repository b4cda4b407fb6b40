//! What-if (docs/whatif.md): every customer's credit for the incidents of a file, computed
//! from the import files alone — no database, nothing stored. For each customer in an outage
//! incident's scope, every measurement period the incidents touch is computed as a settlement
//! computes its target (docs/rules.md §6): the customer's plan from `plan_id` and
//! `plan_since`, outages as downtime, maintenance as exclusions, the other incidents of the
//! period counted.
//!
//! How it runs: the three files are read and checked first (all errors, every file; nothing
//! is written when any is bad). Customers are kept as compact records (id, zone, plan); each
//! gets a profile and variant ([`group`]), and each profile and variant is computed once, in
//! parallel. Customers are then sorted by id and written in chunks computed in parallel and
//! written in order, so the output is the same bytes whatever the number of threads.

pub mod group;
pub mod load;
pub mod render;

use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use rayon::prelude::*;

use crate::domain::time::Nanos;
use crate::wire::error::Lines;
use crate::wire::Error;

use group::{Groups, Profile, VariantPeriod};
use load::Book;
use render::{push_cell, Agg, Stats};

/// Customers per parallel chunk.
const CHUNK: usize = 4_096;

/// What a what-if is asked.
#[derive(Debug, Clone)]
pub struct Options {
    pub paths: load::Paths,
    /// Rows go here (default: stdout).
    pub out: Option<PathBuf>,
    pub summary: bool,
    pub summary_out: Option<PathBuf>,
    /// Threads (default: every core).
    pub threads: Option<usize>,
    /// Ongoing outages count up to this instant.
    pub as_of: Nanos,
}

/// Runs a what-if; answers the process exit code (0, 2 on bad input, 1 on failure).
pub fn main(opts: &Options) -> i32 {
    let mut builder = rayon::ThreadPoolBuilder::new();
    if let Some(n) = opts.threads {
        builder = builder.num_threads(n.max(1));
    }
    let pool = match builder.build() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("threads: {e}");
            return 1;
        }
    };
    let bar = progress_bar();
    // Reading checks rows on as many threads as the pool has.
    let book = match pool.install(|| load::load(&opts.paths, &bar)) {
        Ok(b) => b,
        Err(files) => {
            bar.finish_and_clear();
            let mut code = 2;
            for f in files {
                eprintln!("{} {}:", f.kind.as_str(), f.path);
                eprintln!("{}", Lines(&f.error));
                if !f.error.is_bad_input() {
                    code = 1;
                }
            }
            return code;
        }
    };
    let result = pool.install(|| run(&book, opts, &bar));
    bar.finish_and_clear();
    match result {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("{}", Lines(&e));
            e.exit_code()
        }
    }
}

fn progress_bar() -> indicatif::ProgressBar {
    if std::io::stderr().is_terminal() {
        let bar = indicatif::ProgressBar::new(0);
        if let Ok(style) = indicatif::ProgressStyle::with_template(
            "{spinner} {msg} [{bar:40}] {pos}/{len} ({eta})",
        ) {
            bar.set_style(style);
        }
        bar
    } else {
        indicatif::ProgressBar::hidden()
    }
}

/// Everything the rows of one variant period are written from.
struct Piece {
    /// `,PERIOD,CURRENCY,`
    head: Vec<u8>,
    /// `,UPTIME,DOWNTIME,PLAN,RULE,TIER,EXPLANATION\n`
    tail: Vec<u8>,
}

fn pieces(book: &Book, groups: &Groups, variants: &[Vec<VariantPeriod>]) -> Vec<Vec<Piece>> {
    variants
        .iter()
        .zip(&groups.variant_keys)
        .map(|(periods, &(_, plan))| {
            let plan_id = book
                .plans
                .get(plan as usize)
                .map(|p| p.info.id.as_str())
                .unwrap_or_default();
            periods
                .iter()
                .map(|vp| {
                    let b = &vp.breakdown;
                    let mut head = vec![b','];
                    push_cell(&mut head, &b.period, true);
                    head.push(b',');
                    push_cell(&mut head, &b.currency, true);
                    head.push(b',');
                    let mut tail = vec![b','];
                    for (value, text) in [
                        (b.uptime_percent.as_str(), false),
                        (b.downtime_seconds.as_str(), false),
                        (plan_id, true),
                        (b.rule.as_str(), true),
                        (b.tier.as_deref().unwrap_or_default(), true),
                    ] {
                        push_cell(&mut tail, value, text);
                        tail.push(b',');
                    }
                    push_cell(&mut tail, &b.explanation, true);
                    tail.push(b'\n');
                    Piece { head, tail }
                })
                .collect()
        })
        .collect()
}

/// What the chunk workers read.
struct Shared<'a> {
    book: &'a Book,
    variant_of: &'a [u32],
    variant_profile: &'a [(u32, u32)],
    profiles: &'a [Profile],
    pieces: &'a [Vec<Piece>],
}

/// The rows and totals of one chunk of customers (indices in id order).
fn chunk_rows(
    s: &Shared<'_>,
    chunk: &[(u128, u32)],
    spare: &Spare,
) -> Result<(Vec<u8>, Stats), Error> {
    let mut out = spare.take(chunk.len() * 400);
    let mut stats = Stats::new();
    // Gather first: in id order the chunk's customers are scattered over the tables (the
    // file's order is not the id order), and this short loop keeps many of those memory
    // reads in flight at once, where the rendering loop below would wait for each in turn.
    let mut ids = String::with_capacity(chunk.len() * 16);
    let mut gathered = Vec::with_capacity(chunk.len());
    for &(prefix, c) in chunk {
        let c = c as usize;
        if let (Some(rec), Some(&variant)) = (s.book.customers.recs.get(c), s.variant_of.get(c)) {
            let bytes = prefix.to_be_bytes();
            match bytes.iter().position(|&b| b == 0) {
                // A short id is whole in its prefix: no read of the id arena.
                Some(len) => ids.push_str(std::str::from_utf8(&bytes[..len]).unwrap_or_default()),
                None => ids.push_str(s.book.customers.id(c)),
            }
            gathered.push((*rec, variant, ids.len()));
        }
    }
    let mut id_start = 0;
    for (rec, variant, id_end) in gathered {
        let id = ids.get(id_start..id_end).unwrap_or_default();
        id_start = id_end;
        let rec = &rec;
        let (Some(&(profile, _)), Some(pieces)) = (
            s.variant_profile.get(variant as usize),
            s.pieces.get(variant as usize),
        ) else {
            continue;
        };
        let Some(profile) = s.profiles.get(profile as usize) else {
            continue;
        };
        if profile.periods.is_empty() {
            continue;
        }
        let Some(plan) = s.book.plans.get(rec.plan as usize) else {
            continue;
        };
        let version = plan.version();
        let price = version.plan.price;
        let mut agg = Agg {
            customers: 1,
            ..Agg::default()
        };
        for (pp, piece) in profile.periods.iter().zip(pieces) {
            // One exact multiplication, the minimum and one rounding (docs/rules.md §5).
            let credit = pp.shared.credit(0, price);
            push_cell(&mut out, id, true);
            out.extend_from_slice(&piece.head);
            out.extend_from_slice(version.currency.format(credit).as_bytes());
            out.extend_from_slice(&piece.tail);
            agg.credit = agg
                .credit
                .checked_add(credit)
                .ok_or_else(|| Error::invalid("plans.price", "the credit total overflows"))?;
            agg.periods += 1;
        }
        if agg.credit > rust_decimal::Decimal::ZERO {
            agg.credited = 1;
        }
        stats
            .entry((rec.plan, rec.zone))
            .or_default()
            .add(&agg)
            .ok_or_else(|| Error::invalid("plans.price", "the credit total overflows"))?;
    }
    Ok((out, stats))
}

/// Chunk buffers the writer has emptied, handed back to the workers: the rows of a million
/// customers are written through a few dozen buffers instead of a fresh allocation (and its
/// page faults) for every chunk.
#[derive(Default)]
struct Spare(std::sync::Mutex<Vec<Vec<u8>>>);

impl Spare {
    fn take(&self, capacity: usize) -> Vec<u8> {
        let reused = self.0.lock().ok().and_then(|mut v| v.pop());
        let mut buf = reused.unwrap_or_default();
        buf.clear();
        buf.reserve(capacity);
        buf
    }

    fn give(&self, buf: Vec<u8>) {
        if let Ok(mut v) = self.0.lock() {
            if v.len() < 64 {
                v.push(buf);
            }
        }
    }
}

/// Where rows go: a temporary file renamed over `--out` once complete, or stdout.
enum Sink {
    File {
        tmp: PathBuf,
        dest: PathBuf,
        w: std::io::BufWriter<std::fs::File>,
    },
    Stdout(std::io::BufWriter<std::io::Stdout>),
}

fn io_err(e: std::io::Error) -> Error {
    Error::internal_from("writing the rows", e)
}

impl Sink {
    fn open(out: Option<&PathBuf>) -> Result<Sink, Error> {
        Ok(match out {
            Some(dest) => {
                let mut name = dest
                    .file_name()
                    .map(|n| n.to_os_string())
                    .unwrap_or_default();
                name.push(".partial");
                let tmp = dest.with_file_name(name);
                let f = std::fs::File::create(&tmp)
                    .map_err(|e| Error::invalid("out", format!("{}: {e}", tmp.display())))?;
                Sink::File {
                    tmp,
                    dest: dest.clone(),
                    w: std::io::BufWriter::with_capacity(1 << 20, f),
                }
            }
            None => Sink::Stdout(std::io::BufWriter::with_capacity(
                1 << 20,
                std::io::stdout(),
            )),
        })
    }

    fn write(&mut self, bytes: &[u8]) -> Result<(), Error> {
        match self {
            Sink::File { w, .. } => w.write_all(bytes).map_err(io_err),
            Sink::Stdout(w) => w.write_all(bytes).map_err(io_err),
        }
    }

    fn finish(self) -> Result<(), Error> {
        match self {
            Sink::File { tmp, dest, w } => {
                let f = w.into_inner().map_err(|e| io_err(e.into_error()))?;
                // No fsync: a what-if is recomputed, not kept as a record; the rename keeps
                // a partial file from ever being read as the output.
                drop(f);
                std::fs::rename(&tmp, &dest).map_err(io_err)
            }
            Sink::Stdout(mut w) => w.flush().map_err(io_err),
        }
    }

    fn abandon(self) {
        if let Sink::File { tmp, w, .. } = self {
            drop(w);
            let _ = std::fs::remove_file(tmp);
        }
    }
}

/// Customers in bytewise id order, each with the first 16 bytes of its id (big-endian,
/// zero-padded): ordering by them, then by the whole id where they tie, is the bytewise order
/// of ids; an id shorter than 16 bytes is whole in its prefix (ids hold no NUL byte).
fn id_order(book: &Book) -> Vec<(u128, u32)> {
    let c = &book.customers;
    let mut keys: Vec<(u128, u32)> = (0..c.len())
        .map(|i| (c.prefix(i), u32::try_from(i).unwrap_or(u32::MAX)))
        .collect();
    keys.par_sort_unstable_by(|a, b| {
        a.0.cmp(&b.0)
            .then_with(|| c.id(a.1 as usize).cmp(c.id(b.1 as usize)))
    });
    keys
}

/// Computes and writes every row; then the summary.
fn run(book: &Book, opts: &Options, bar: &indicatif::ProgressBar) -> Result<(), Error> {
    bar.set_message("grouping");
    // Sorting by id (itself parallel) overlaps with grouping, which is one pass.
    let (order, (groups, variant_of)) = rayon::join(
        || id_order(book),
        || {
            let mut groups = Groups::new(book);
            let n = book.customers.len();
            let mut variant_of = Vec::with_capacity(n);
            for c in 0..n {
                variant_of.push(groups.assign(book, u32::try_from(c).unwrap_or(u32::MAX)));
            }
            (groups, variant_of)
        },
    );
    let plans = group::plans_table(book);
    bar.set_message("computing");
    let profiles = group::compute_profiles(book, &groups, &plans, opts.as_of)?;
    let variants = group::compute_variants(book, &groups, &profiles, &plans, opts.as_of)?;
    let pieces = pieces(book, &groups, &variants);
    let shared = Shared {
        book,
        variant_of: &variant_of,
        variant_profile: &groups.variant_keys,
        profiles: &profiles,
        pieces: &pieces,
    };
    let mut sink = Sink::open(opts.out.as_ref())?;
    match write_rows(&shared, &order, &mut sink, bar) {
        Ok(stats) => {
            sink.finish()?;
            if opts.summary || opts.summary_out.is_some() {
                write_summary(book, &stats, opts)?;
            }
            Ok(())
        }
        Err(e) => {
            sink.abandon();
            Err(e)
        }
    }
}

fn write_rows(
    s: &Shared<'_>,
    order: &[(u128, u32)],
    sink: &mut Sink,
    bar: &indicatif::ProgressBar,
) -> Result<Stats, Error> {
    bar.set_message("writing");
    bar.set_length(order.len() as u64);
    bar.set_position(0);
    sink.write(render::HEADER.as_bytes())?;
    let window = CHUNK * 4 * rayon::current_num_threads().max(1);
    let overflow = || Error::invalid("plans.price", "the credit total overflows");
    // Writing runs on its own thread while the next window of chunks is computed.
    let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<Vec<u8>>>(2);
    let spare = Spare::default();
    std::thread::scope(|scope| {
        let spare = &spare;
        let writer = scope.spawn(move || -> Result<(), Error> {
            for group in rx {
                for bytes in group {
                    sink.write(&bytes)?;
                    spare.give(bytes);
                }
            }
            Ok(())
        });
        let computed = (|| -> Result<Stats, Error> {
            let mut stats = Stats::new();
            for part in order.chunks(window) {
                let done: Vec<Result<(Vec<u8>, Stats), Error>> = part
                    .par_chunks(CHUNK)
                    .map(|c| chunk_rows(s, c, spare))
                    .collect();
                let mut group = Vec::with_capacity(done.len());
                for r in done {
                    let (bytes, chunk_stats) = r?;
                    group.push(bytes);
                    render::merge(&mut stats, &chunk_stats).ok_or_else(overflow)?;
                }
                if tx.send(group).is_err() {
                    break;
                }
                bar.inc(part.len() as u64);
            }
            Ok(stats)
        })();
        drop(tx);
        let written = writer
            .join()
            .unwrap_or_else(|_| Err(Error::internal("the writer thread stopped")));
        let stats = computed?;
        written?;
        Ok(stats)
    })
}

fn write_summary(book: &Book, stats: &Stats, opts: &Options) -> Result<(), Error> {
    let plan_of = |p: u32| {
        book.plans
            .get(p as usize)
            .map(|r| (r.info.id.clone(), r.info.currency))
    };
    let zone_of = |z: u16| {
        book.zones
            .get(z as usize)
            .map(|t| t.name().to_string())
            .unwrap_or_default()
    };
    let lines = render::summary(stats, &plan_of, &zone_of)
        .ok_or_else(|| Error::invalid("plans.price", "the credit total overflows"))?;
    let csv = render::summary_csv(&lines);
    if let Some(path) = &opts.summary_out {
        std::fs::write(path, &csv)
            .map_err(|e| Error::invalid("summary-out", format!("{}: {e}", path.display())))?;
    }
    if opts.summary {
        // With rows on stdout, the summary goes to stderr so the rows stay a clean CSV.
        let text = if opts.out.is_none() {
            if std::io::stderr().is_terminal() {
                render::summary_table(&lines).into_bytes()
            } else {
                csv
            }
        } else if std::io::stdout().is_terminal() {
            render::summary_table(&lines).into_bytes()
        } else {
            csv
        };
        if opts.out.is_none() {
            let _ = std::io::stderr().write_all(&text);
        } else {
            let _ = std::io::stdout().write_all(&text);
        }
    }
    Ok(())
}
