//! Writing what-if rows and the summary (docs/whatif.md). Cells follow RFC 4180 (quoted when
//! they hold a comma, a quote or a line break); text cells a spreadsheet would read as a
//! formula are prefixed with `'` as in every export (docs/csv.md), amounts never are.

use std::collections::BTreeMap;

use rust_decimal::Decimal;

use crate::csv::export::neutralize;
use crate::domain::money::Currency;

/// The header of the rows file.
pub const HEADER: &str =
    "customer_id,period,currency,credit,uptime_percent,downtime_seconds,plan_id,rule,tier,explanation\n";

/// Appends one cell: neutralized when it is text, quoted when it must be.
pub fn push_cell(out: &mut Vec<u8>, value: &str, text: bool) {
    let value = if text {
        neutralize(value)
    } else {
        std::borrow::Cow::Borrowed(value)
    };
    if value
        .bytes()
        .any(|b| matches!(b, b',' | b'"' | b'\n' | b'\r'))
    {
        out.push(b'"');
        for b in value.bytes() {
            if b == b'"' {
                out.push(b'"');
            }
            out.push(b);
        }
        out.push(b'"');
    } else {
        out.extend_from_slice(value.as_bytes());
    }
}

/// Totals of one (plan, zone) group.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Agg {
    pub credit: Decimal,
    pub periods: u64,
    pub customers: u64,
    /// Customers with a credit above zero in some period.
    pub credited: u64,
}

impl Agg {
    pub fn add(&mut self, other: &Agg) -> Option<()> {
        self.credit = self.credit.checked_add(other.credit)?;
        self.periods += other.periods;
        self.customers += other.customers;
        self.credited += other.credited;
        Some(())
    }
}

/// Totals per (plan index, zone index).
pub type Stats = BTreeMap<(u32, u16), Agg>;

/// Adds one chunk's totals (exact: decimals, checked).
pub fn merge(into: &mut Stats, from: &Stats) -> Option<()> {
    for (k, a) in from {
        into.entry(*k).or_default().add(a)?;
    }
    Some(())
}

/// One line of the summary.
#[derive(Debug, Clone, PartialEq)]
pub struct SummaryLine {
    pub dimension: &'static str,
    pub key: String,
    pub currency: String,
    pub credit: String,
    pub periods: u64,
    pub customers: u64,
    pub credited: u64,
}

/// The summary: per currency, per plan, per time zone (and currency), and all customers.
pub fn summary(
    stats: &Stats,
    plan_of: &dyn Fn(u32) -> Option<(String, Currency)>,
    zone_of: &dyn Fn(u16) -> String,
) -> Option<Vec<SummaryLine>> {
    let mut currencies: BTreeMap<&'static str, (Currency, Agg)> = BTreeMap::new();
    let mut plans: BTreeMap<String, (Currency, Agg)> = BTreeMap::new();
    let mut zones: BTreeMap<(String, &'static str), (Currency, Agg)> = BTreeMap::new();
    let mut all = Agg::default();
    for ((plan, zone), a) in stats {
        let Some((plan_id, currency)) = plan_of(*plan) else {
            continue;
        };
        currencies
            .entry(currency.code())
            .or_insert((currency, Agg::default()))
            .1
            .add(a)?;
        plans
            .entry(plan_id)
            .or_insert((currency, Agg::default()))
            .1
            .add(a)?;
        zones
            .entry((zone_of(*zone), currency.code()))
            .or_insert((currency, Agg::default()))
            .1
            .add(a)?;
        all.periods += a.periods;
        all.customers += a.customers;
        all.credited += a.credited;
    }
    let line = |dimension, key: String, (c, a): &(Currency, Agg)| SummaryLine {
        dimension,
        key,
        currency: c.code().to_string(),
        credit: c.format(a.credit),
        periods: a.periods,
        customers: a.customers,
        credited: a.credited,
    };
    let mut out: Vec<SummaryLine> = Vec::new();
    out.extend(
        currencies
            .iter()
            .map(|(k, v)| line("currency", (*k).to_string(), v)),
    );
    out.extend(plans.iter().map(|(k, v)| line("plan", k.clone(), v)));
    out.extend(
        zones
            .iter()
            .map(|((z, _), v)| line("timezone", z.clone(), v)),
    );
    out.push(SummaryLine {
        dimension: "all",
        key: "all".into(),
        currency: String::new(),
        credit: String::new(),
        periods: all.periods,
        customers: all.customers,
        credited: all.credited,
    });
    Some(out)
}

/// The summary's columns.
pub const SUMMARY_HEADER: [&str; 7] = [
    "dimension",
    "key",
    "currency",
    "credit",
    "periods",
    "customers",
    "customers_credited",
];

fn cells(l: &SummaryLine) -> [String; 7] {
    [
        l.dimension.to_string(),
        l.key.clone(),
        l.currency.clone(),
        l.credit.clone(),
        l.periods.to_string(),
        l.customers.to_string(),
        l.credited.to_string(),
    ]
}

/// The summary as CSV.
pub fn summary_csv(lines: &[SummaryLine]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(SUMMARY_HEADER.join(",").as_bytes());
    out.push(b'\n');
    for l in lines {
        for (i, c) in cells(l).iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            // The dimension, key and currency are text; the rest are numbers.
            push_cell(&mut out, c, i < 3);
        }
        out.push(b'\n');
    }
    out
}

/// The summary as an aligned table (numbers right-aligned).
pub fn summary_table(lines: &[SummaryLine]) -> String {
    let rows: Vec<[String; 7]> = std::iter::once(SUMMARY_HEADER.map(str::to_string))
        .chain(lines.iter().map(cells))
        .collect();
    let mut widths = [0usize; 7];
    for r in &rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut out = String::new();
    for r in &rows {
        let mut line = String::new();
        for (i, (c, w)) in r.iter().zip(widths).enumerate() {
            if i > 0 {
                line.push_str("  ");
            }
            if i < 3 {
                line.push_str(&format!("{c:<w$}"));
            } else {
                line.push_str(&format!("{c:>w$}"));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}
