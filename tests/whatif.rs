//! `sla-credit what-if` (docs/whatif.md), run as the real binary: every row equals the
//! engine's single quote for that customer and period, built as a settlement builds its target
//! (docs/rules.md §6); the output is the same bytes for any number of threads; bad files give
//! the row errors `import --dry-run` gives, exit 2, and no `--out` file.

#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use sla_credit::csv::import::Rows;
use sla_credit::domain::book::{
    fee_source, labels_touched, measuring_zone, version_for_period, Customer, IncidentRecord,
    PeriodMemo, PlanInfo, PlanVersion, Plans,
};
use sla_credit::domain::interval::{Span, Window};
use sla_credit::domain::scope::IncidentKind;
use sla_credit::domain::time::{parse_instant, Nanos};
use sla_credit::domain::{compute, CreditInput, Incident};
use sla_credit::wire::imports::{CheckedRow, ImportKind, RowItem};

const AS_OF: &str = "2026-05-01T06:00:00Z";

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_sla-credit"))
}

fn fixture(name: &str) -> String {
    format!("{}/fixtures/whatif/{name}", env!("CARGO_MANIFEST_DIR"))
}

fn csv_fixture(name: &str) -> String {
    format!("{}/fixtures/csv/{name}", env!("CARGO_MANIFEST_DIR"))
}

fn what_if(customers: &str, plans: &str, incidents: &str, extra: &[&str]) -> Output {
    bin()
        .args([
            "what-if",
            "--customers",
            customers,
            "--plans",
            plans,
            "--incidents",
            incidents,
        ])
        .args(["--as-of", AS_OF])
        .args(extra)
        .output()
        .expect("run what-if")
}

/// A deterministic generator (a 64-bit LCG).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, n: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 33) as usize) % n
    }
}

const PLANS: &[(&str, &str, &str, &str, &str, &str)] = &[
    ("t_usd", "49.99", "USD", "monthly", "", "aws-ec2-region"),
    ("t_usd2", "19.00", "USD", "monthly", "", "aws-ec2-region"),
    (
        "t_jpy",
        "5000",
        "JPY",
        "monthly",
        "",
        r#"{"rule":{"kind":"uptime_tiers","tiers":[{"uptime":"[99.9, 99.99)","credit_percent":"5"},{"uptime":"[0, 99.9)","credit_percent":"15"}]},"rounding":"up","minimum":"300"}"#,
    ),
    (
        "t_kwd",
        "12.345",
        "KWD",
        "monthly",
        "",
        r#"{"preset":"azure-vm","rounding":"half_even"}"#,
    ),
    ("m_eur", "100.00", "EUR", "monthly", "", "slack-10x"),
    (
        "m_eur_q",
        "300.00",
        "EUR",
        "quarterly",
        "",
        r#"{"rule":{"kind":"downtime_multiple","multiplier":"25","excess_only":true},"target_percent":"99.95","period":"quarter"}"#,
    ),
    ("d_usd", "29.00", "USD", "monthly", "", "olark-2-days"),
    (
        "d_kwd",
        "120.000",
        "KWD",
        "annual",
        "twelfths",
        r#"{"rule":{"kind":"days_of_service"},"timezone":"UTC","target_percent":"99.5"}"#,
    ),
    (
        "y_jpy",
        "120000",
        "JPY",
        "annual",
        "days",
        r#"{"preset":"aws-ec2-region","cap":{"days":"1"}}"#,
    ),
];

const ZONES: &[&str] = &[
    "",
    "UTC",
    "America/Los_Angeles",
    "Europe/Berlin",
    "Australia/Sydney",
    "Asia/Kolkata",
    "America/St_Johns",
];

const SINCES: &[&str] = &[
    "",
    "",
    "",
    "2025-01-01T00:00:00Z",
    "2026-03-15T00:00:00Z",
    "2026-03-31T23:30:00Z",
    "2026-06-01T00:00:00Z",
];

fn write_csv(path: &Path, header: &[&str], rows: &[Vec<String>]) {
    let mut w = csv::Writer::from_path(path).expect("create");
    w.write_record(header).expect("header");
    for r in rows {
        w.write_record(r).expect("row");
    }
    w.flush().expect("flush");
}

/// A book of 300 customers (in no particular order) over 9 plans, 7 zones and 6 incidents.
fn generate(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let plans = dir.join("plans.csv");
    let rows: Vec<Vec<String>> = PLANS
        .iter()
        .map(|(id, price, cur, cycle, split, policy)| {
            [*id, *id, *price, *cur, *cycle, *split, *policy]
                .map(str::to_string)
                .to_vec()
        })
        .collect();
    write_csv(
        &plans,
        &[
            "id",
            "name",
            "price",
            "currency",
            "billing_cycle",
            "annual_split",
            "policy",
        ],
        &rows,
    );

    let mut rng = Lcg(42);
    let mut ids: Vec<String> = (0..300).map(|i| format!("c{i:04}")).collect();
    ids.push("-dash".into());
    for i in (1..ids.len()).rev() {
        ids.swap(i, rng.next(i + 1));
    }
    let customers = dir.join("customers.csv");
    let rows: Vec<Vec<String>> = ids
        .iter()
        .map(|id| {
            let plan = PLANS[rng.next(PLANS.len())].0;
            vec![
                id.clone(),
                format!("Customer {id}, Inc."),
                ZONES[rng.next(ZONES.len())].to_string(),
                plan.to_string(),
                SINCES[rng.next(SINCES.len())].to_string(),
            ]
        })
        .collect();
    write_csv(
        &customers,
        &["id", "name", "timezone", "plan_id", "plan_since"],
        &rows,
    );

    let incidents = dir.join("incidents.csv");
    let named: Vec<String> = (0..40).map(|i| format!("c{:04}", i * 7)).collect();
    let rows: Vec<Vec<String>> = [
        [
            "o1",
            "outage",
            "2026-03-31T22:00:00Z",
            "2026-04-01T03:30:00Z",
            "",
            "all",
        ],
        [
            "o2",
            "outage",
            "2026-03-10T09:00:00Z",
            "2026-03-10T10:07:00Z",
            "0.5",
            "plans:t_usd d_usd m_eur t_jpy",
        ],
        [
            "mt",
            "maintenance",
            "2026-03-31T23:00:00Z",
            "2026-04-01T00:30:00Z",
            "",
            "all",
        ],
        [
            "o3",
            "outage",
            "2026-04-20T00:00:00Z",
            "2026-04-21T12:00:00Z",
            "",
            &format!("customers:{}", named.join(" ")),
        ],
        [
            "o4",
            "outage",
            "2026-04-29T12:00:00Z",
            "",
            "",
            "plans:t_kwd y_jpy m_eur_q",
        ],
        [
            "mt2",
            "maintenance",
            "2026-03-10T09:30:00Z",
            "2026-03-10T09:45:00Z",
            "",
            "customers:c0005 c0014 -dash",
        ],
    ]
    .iter()
    .map(|r| {
        let mut v: Vec<String> = r.iter().map(|s| s.to_string()).collect();
        v.insert(1, format!("Incident {}", r[0]));
        v
    })
    .collect();
    write_csv(
        &incidents,
        &[
            "id",
            "title",
            "kind",
            "started_at",
            "ended_at",
            "impact",
            "scope",
        ],
        &rows,
    );
    (customers, plans, incidents)
}

/// The book as the engine sees it, read back with the import reader.
fn read_book(
    customers: &Path,
    plans: &Path,
    incidents: &Path,
) -> (Vec<Customer>, Plans, Vec<IncidentRecord>) {
    let rows = |kind, path: &Path| -> Vec<CheckedRow> {
        Rows::new(kind, std::fs::File::open(path).expect("open"))
            .expect("header")
            .map(|item| match item {
                RowItem::Row(_, row) => row,
                other => panic!("{other:?}"),
            })
            .collect()
    };
    let mut book_plans = Plans::new();
    for row in rows(ImportKind::Plans, plans) {
        let CheckedRow::Plan(p) = row else { panic!() };
        let policy_json = serde_json::to_string(&p.policy.to_spec()).expect("json");
        let version = PlanVersion {
            plan_id: p.id.clone(),
            version: 1,
            name: p.name.clone(),
            currency: p.currency,
            plan: p.plan,
            policy: p.policy.clone(),
            policy_json,
            effective_at: 0,
        };
        book_plans.insert(
            p.id.clone(),
            PlanInfo {
                id: p.id,
                currency: p.currency,
                versions: vec![version],
            },
        );
    }
    let custs = rows(ImportKind::Customers, customers)
        .into_iter()
        .map(|row| {
            let CheckedRow::Customer(c) = row else {
                panic!()
            };
            Customer {
                id: c.id,
                name: c.name,
                email: c.email,
                timezone: c.timezone,
                history: vec![(c.plan_since, c.plan_id)],
            }
        })
        .collect();
    let incs = rows(ImportKind::Incidents, incidents)
        .into_iter()
        .map(|row| {
            let CheckedRow::Incident(i) = row else {
                panic!()
            };
            IncidentRecord {
                id: i.id,
                title: i.title,
                kind: i.kind,
                started_at: i.started_at,
                ended_at: i.ended_at,
                impact: i.impact,
                summary: i.summary,
                scope: i.scope,
            }
        })
        .collect();
    (custs, book_plans, incs)
}

/// The engine's single quote of every (customer, period) the outages touch, built as a
/// settlement builds its target: `(customer, period)` → the output row's cells.
fn expected(
    custs: &[Customer],
    plans: &Plans,
    incidents: &[IncidentRecord],
    as_of: Nanos,
) -> BTreeMap<(String, String), Vec<String>> {
    let mut out = BTreeMap::new();
    for cu in custs {
        let mine: Vec<&IncidentRecord> = incidents.iter().filter(|i| i.concerns(cu)).collect();
        let mut labels = BTreeSet::new();
        for i in mine.iter().filter(|i| i.kind == IncidentKind::Outage) {
            if let Some(span) = i.span(as_of) {
                labels.extend(labels_touched(cu, plans, span).expect("labels"));
            }
        }
        for label in labels {
            let v = version_for_period(cu, plans, label).expect("version");
            let zp = label.in_zone(measuring_zone(cu, v));
            let period = Span {
                start: zp.start,
                end: zp.end,
            };
            let mut outages = Vec::new();
            let mut exclusions = Vec::new();
            for i in &mine {
                let Some(span) = i.span(as_of).filter(|s| s.overlaps(&period)) else {
                    continue;
                };
                match i.kind {
                    IncidentKind::Outage => outages.push(Incident {
                        start: i.started_at,
                        windows: vec![Window {
                            span,
                            impact: i.impact,
                        }],
                    }),
                    IncidentKind::Maintenance => exclusions.push(span),
                }
            }
            let input = CreditInput {
                currency: v.currency,
                timezone: cu.timezone,
                fees: fee_source(cu, plans).expect("fees"),
                policy: v.policy.clone(),
                incidents: outages,
                exclusions,
                active: None,
                periods: vec![label],
            };
            let result = compute(&input).expect("compute");
            let p = result
                .periods
                .iter()
                .find(|p| p.label == label)
                .expect("period");
            let b = &p.breakdown;
            let neutral = |s: &str| sla_credit::csv::export::neutralize(s).into_owned();
            out.insert(
                (cu.id.clone(), label.to_string()),
                vec![
                    neutral(&cu.id),
                    label.to_string(),
                    v.currency.code().to_string(),
                    v.currency.format(p.credit),
                    b.uptime_percent.clone(),
                    b.downtime_seconds.clone(),
                    v.plan_id.clone(),
                    b.rule.clone(),
                    b.tier.clone().unwrap_or_default(),
                    b.explanation.clone(),
                ],
            );
        }
    }
    out
}

#[test]
fn every_row_equals_the_engines_single_quote() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (c, p, i) = generate(dir.path());
    let out_file = dir.path().join("credits.csv");
    let out = what_if(
        c.to_str().unwrap(),
        p.to_str().unwrap(),
        i.to_str().unwrap(),
        &["--out", out_file.to_str().unwrap()],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let (custs, plans, incidents) = read_book(&c, &p, &i);
    let want = expected(
        &custs,
        &plans,
        &incidents,
        parse_instant(AS_OF).expect("as_of"),
    );
    let mut reader = csv::Reader::from_path(&out_file).expect("read output");
    let header: Vec<String> = reader
        .headers()
        .expect("header")
        .iter()
        .map(str::to_string)
        .collect();
    assert_eq!(
        header.join(","),
        "customer_id,period,currency,credit,uptime_percent,downtime_seconds,plan_id,rule,tier,explanation"
    );
    let mut got = Vec::new();
    for r in reader.records() {
        got.push(
            r.expect("row")
                .iter()
                .map(str::to_string)
                .collect::<Vec<String>>(),
        );
    }
    let want_rows: Vec<Vec<String>> = want.values().cloned().collect();
    // The same rows, in (customer id, period) order.
    assert_eq!(got.len(), want_rows.len());
    for (g, w) in got.iter().zip(&want_rows) {
        assert_eq!(g, w);
    }
    // The book exercises what it should.
    let periods: BTreeSet<&str> = got.iter().map(|r| r[1].as_str()).collect();
    assert!(
        periods.contains("2026-03") && periods.contains("2026-04") && periods.contains("2026-Q2"),
        "{periods:?}"
    );
    let currencies: BTreeSet<&str> = got.iter().map(|r| r[2].as_str()).collect();
    assert_eq!(
        currencies.into_iter().collect::<Vec<_>>(),
        ["EUR", "JPY", "KWD", "USD"]
    );
    assert!(got
        .iter()
        .any(|r| r[2] == "KWD" && r[3].split('.').nth(1).map(str::len) == Some(3)));
    assert!(got
        .iter()
        .any(|r| r[2] == "JPY" && !r[3].contains('.') && r[3] != "0"));
    assert!(got
        .iter()
        .any(|r| r[3] != "0.00" && r[3] != "0" && r[3] != "0.000"));
    assert!(
        got.iter().any(|r| r[0] == "'-dash"),
        "the formula-like id is neutralized"
    );
}

/// A settlement lists its periods through `PeriodMemo`: over the generated book (every zone,
/// policies measuring in their own zone, plan changes, every incident), each of its answers
/// equals the function it stands for, whatever was asked before.
#[test]
fn the_period_memo_answers_what_the_functions_do() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (c, p, i) = generate(dir.path());
    let (custs, plans, incidents) = read_book(&c, &p, &i);
    let as_of = parse_instant(AS_OF).expect("as_of");
    let mut memo = PeriodMemo::default();
    let mut asked = 0;
    for cu in &custs {
        for inc in incidents.iter().filter(|i| i.concerns(cu)) {
            let Some(span) = inc.span(as_of) else {
                continue;
            };
            let labels = labels_touched(cu, &plans, span).expect("labels");
            let memo_labels = memo.labels_touched(cu, &plans, span).expect("memo labels");
            assert_eq!(memo_labels, labels.as_slice(), "{} {}", cu.id, inc.id);
            for label in labels {
                let v = version_for_period(cu, &plans, label).expect("version");
                let mv = memo.version_for_period(cu, &plans, label).expect("memo");
                assert!(std::ptr::eq(v, mv), "{} {label}", cu.id);
                let zone = measuring_zone(cu, v);
                assert_eq!(memo.in_zone(label, zone), label.in_zone(zone));
                asked += 1;
            }
        }
    }
    assert!(asked > 1000, "only {asked} periods asked");
}

#[test]
fn output_is_the_same_bytes_for_any_number_of_threads() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (c, p, i) = generate(dir.path());
    let mut outputs = Vec::new();
    for threads in ["1", "2", "3"] {
        let rows = dir.path().join(format!("rows{threads}.csv"));
        let summary = dir.path().join(format!("summary{threads}.csv"));
        let out = what_if(
            c.to_str().unwrap(),
            p.to_str().unwrap(),
            i.to_str().unwrap(),
            &[
                "--threads",
                threads,
                "--out",
                rows.to_str().unwrap(),
                "--summary-out",
                summary.to_str().unwrap(),
            ],
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        outputs.push((
            std::fs::read(&rows).unwrap(),
            std::fs::read(&summary).unwrap(),
        ));
    }
    assert!(outputs[0].0.len() > 1000);
    assert_eq!(outputs[0], outputs[1]);
    assert_eq!(outputs[0], outputs[2]);
    // Stdout when there is no --out: the same bytes.
    let out = what_if(
        c.to_str().unwrap(),
        p.to_str().unwrap(),
        i.to_str().unwrap(),
        &["--threads", "2"],
    );
    assert_eq!(out.stdout, outputs[0].0);
}

#[test]
fn the_summary_adds_up_the_rows() {
    let out = what_if(
        &fixture("customers.csv"),
        &fixture("plans.csv"),
        &fixture("incidents.csv"),
        &["--summary"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Rows on stdout, so the summary (CSV: stderr is no terminal here) goes to stderr.
    let summary = String::from_utf8_lossy(&out.stderr);
    assert!(
        summary.starts_with("dimension,key,currency,credit,periods,customers,customers_credited\n"),
        "{summary}"
    );
    let mut totals: BTreeMap<String, rust_decimal::Decimal> = BTreeMap::new();
    let mut reader = csv::Reader::from_reader(out.stdout.as_slice());
    for r in reader.records() {
        let r = r.unwrap();
        *totals.entry(r[2].to_string()).or_default() +=
            r[3].parse::<rust_decimal::Decimal>().unwrap();
    }
    for (cur, total) in totals {
        let line = format!(
            "currency,{cur},{cur},{},",
            sla_credit::domain::money::Currency::parse(&cur)
                .unwrap()
                .format(total)
        );
        assert!(summary.contains(&line), "{line} in {summary}");
    }
}

struct Db {
    _dir: tempfile::TempDir,
    url: String,
}

/// A fresh, migrated database (a dry run needs one to exist: it never creates a file).
fn db() -> Db {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}", dir.path().join("t.db").display());
    sla_credit::store::Store::open(&url).expect("a new database");
    Db { _dir: dir, url }
}

fn import(db: &Db, kind: &str, file: &str, dry_run: bool) -> Output {
    let mut cmd = bin();
    cmd.args(["--database", &db.url, "import", kind, file]);
    if dry_run {
        cmd.arg("--dry-run");
    }
    cmd.output().expect("run import")
}

/// Runs a bad file through what-if (the other two files valid) and through `import --dry-run`
/// (the files it references imported first): the same errors, exit 2, no `--out`.
fn same_errors_as_import(kind: &str, bad: &str) {
    let valid = [
        ("plans", csv_fixture("plans_valid.csv")),
        ("customers", csv_fixture("customers_excel.csv")),
        ("incidents", csv_fixture("incidents_valid.csv")),
    ];
    let file = |k: &str| {
        if k == kind {
            bad.to_string()
        } else {
            valid.iter().find(|(n, _)| *n == k).unwrap().1.clone()
        }
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let out_file = dir.path().join("credits.csv");
    let out = what_if(
        &file("customers"),
        &file("plans"),
        &file("incidents"),
        &["--out", out_file.to_str().unwrap()],
    );

    let db = db();
    for before in ["plans", "customers"] {
        if before == kind {
            break;
        }
        assert!(import(&db, before, &file(before), false).status.success());
    }
    let dry = import(&db, kind, bad, true);
    if dry.status.success() {
        // Only a database could find something wrong here (an id it already holds): the
        // file itself has no errors (a file referencing its rows may have).
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            !stderr.contains(&format!("{kind} {bad}:")),
            "{bad}: {stderr}"
        );
        return;
    }
    assert_eq!(out.status.code(), Some(2), "{bad}");
    assert_eq!(dry.status.code(), Some(2), "{bad}");
    // The bad file's block (a file that references its rows may have its own).
    assert_eq!(
        block(
            &String::from_utf8_lossy(&out.stderr),
            &format!("{kind} {bad}:")
        ),
        String::from_utf8_lossy(&dry.stderr),
        "{bad}"
    );
    assert!(out.stdout.is_empty());
    assert!(!out_file.exists(), "{bad}: nothing written to --out");
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "{bad}: no partial file"
    );
}

/// The lines after a file's header line, up to the next file's.
fn block(stderr: &str, header: &str) -> String {
    let is_header = |l: &str| {
        ["plans ", "customers ", "incidents "]
            .iter()
            .any(|k| l.starts_with(k))
            && l.ends_with(".csv:")
    };
    let mut out = String::new();
    let mut inside = false;
    for line in stderr.lines() {
        if is_header(line) {
            inside = line == header;
            continue;
        }
        if inside {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

#[test]
fn bad_files_give_the_row_errors_of_an_import_dry_run() {
    let mut seen = 0;
    for entry in std::fs::read_dir(format!("{}/fixtures/csv", env!("CARGO_MANIFEST_DIR"))).unwrap()
    {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if !name.starts_with("invalid_") {
            continue;
        }
        let head = String::from_utf8_lossy(&std::fs::read(&path).unwrap())
            .lines()
            .next()
            .unwrap_or_default()
            .to_lowercase();
        let kind = if head.contains("title") {
            "incidents"
        } else if head.contains("price") {
            "plans"
        } else {
            "customers"
        };
        same_errors_as_import(kind, path.to_str().unwrap());
        seen += 1;
    }
    assert!(seen >= 10);
    // Errors found while reading (bad rows, unknown plans) and those found when a chunk of
    // customers is stored (ids twice) come in the order an import finds them.
    same_errors_as_import("customers", &fixture("invalid_customers_many.csv"));
    same_errors_as_import("incidents", &fixture("invalid_incidents.csv"));
}

#[test]
fn every_bad_file_is_reported_before_any_work() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out_file = dir.path().join("credits.csv");
    let out = what_if(
        &fixture("invalid_customers_many.csv"),
        &csv_fixture("invalid_decimal_comma.csv"),
        &fixture("invalid_incidents.csv"),
        &["--out", out_file.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    for kind in ["plans", "customers", "incidents"] {
        assert!(err.contains(&format!("{kind} ")), "{err}");
    }
    assert!(!out_file.exists());
}
