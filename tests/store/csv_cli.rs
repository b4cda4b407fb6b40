//! `sla-credit import` and `sla-credit export` (docs/csv.md): exit codes, row errors on
//! stderr, dry runs, and the export written offline and again by `--batch`.

use crate::common::*;

fn fixture(name: &str) -> String {
    format!("{}/fixtures/csv/{name}", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn import_and_export_from_the_command_line() {
    let db = TestDb::new();
    let out = run_cli(
        &db.url,
        &["import", "plans", &fixture("plans_valid.csv"), "--dry-run"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["dry_run"], true);
    assert_eq!(v["rows"], 3);
    let out = run_cli(&db.url, &["import", "plans", &fixture("plans_valid.csv")]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run_cli(
        &db.url,
        &["import", "customers", &fixture("invalid_missing_plan.csv")],
    );
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim(),
        "row 3, column plan_id: no plan \"gold\""
    );
    let out = run_cli(
        &db.url,
        &["import", "customers", &fixture("customers_excel.csv")],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let out = run_cli(
        &db.url,
        &[
            "goodwill",
            "--customer",
            "acme",
            "--amount",
            "12.50",
            "--reason",
            "r",
            "--period",
            "2026-01",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let file = db._dir.path().join("exp.csv");
    let out = run_cli(&db.url, &["export", "--out", file.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["id"], "exp_1");
    assert_eq!(v["rows"], 1);
    let first = std::fs::read(&file).unwrap();
    let again = run_cli(&db.url, &["export", "--batch", "exp_1"]);
    assert!(again.status.success());
    assert_eq!(again.stdout, first);
    let text = String::from_utf8(first).unwrap();
    assert!(text.contains(",12.50,USD,"), "{text}");
    let out = run_cli(&db.url, &["export", "--batch", "exp_5"]);
    assert_eq!(out.status.code(), Some(2));
}

/// A batch bigger than one reading span (8,192 entries) is read by two threads: its file
/// still has every entry once, in order, matches its recorded SHA-256, and downloads again
/// byte-identical.
#[test]
fn a_batch_of_many_spans_is_whole_in_order_and_byte_identical_again() {
    use sha2::{Digest, Sha256};
    use std::io::Write;
    const N: usize = 20_000;
    let db = TestDb::new();
    let ok = |out: std::process::Output| {
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    };
    ok(run_cli(
        &db.url,
        &[
            "plans",
            "add",
            "--id",
            "basic",
            "--name",
            "Basic",
            "--price",
            "100.00",
            "--currency",
            "USD",
            "--billing-cycle",
            "monthly",
            "--policy",
            "aws-ec2-region",
        ],
    ));
    let file = db._dir.path().join("customers.csv");
    {
        let mut w = std::io::BufWriter::new(std::fs::File::create(&file).unwrap());
        writeln!(w, "id,name,plan_id").unwrap();
        for i in 0..N {
            if i == 12_345 {
                writeln!(w, "c{i:05},\"=SUM(A1), \"\"x\"\"\",basic").unwrap();
            } else {
                writeln!(w, "c{i:05},Customer {i},basic").unwrap();
            }
        }
    }
    ok(run_cli(
        &db.url,
        &["import", "customers", file.to_str().unwrap()],
    ));
    ok(run_cli(
        &db.url,
        &[
            "incidents",
            "add",
            "--id",
            "A",
            "--title",
            "Outage",
            "--started-at",
            "2026-01-10T00:00:00Z",
            "--ended-at",
            "2026-01-10T01:00:00Z",
        ],
    ));
    ok(run_cli(&db.url, &["settle", "--incident", "A"]));
    let out_path = db._dir.path().join("batch.csv");
    let meta: serde_json::Value = serde_json::from_slice(&ok(run_cli(
        &db.url,
        &["export", "--out", out_path.to_str().unwrap()],
    )))
    .unwrap();
    let bytes = std::fs::read(&out_path).unwrap();
    // January has 744 hours; one down leaves 99.866 %, the 10 % tier of aws-ec2-region:
    // 10.00 USD for each of the 20,000 customers.
    assert_eq!(meta["rows"], N);
    assert_eq!(
        meta["totals"],
        serde_json::json!([{"currency": "USD", "amount": "200000.00"}])
    );
    let digest: String = Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(meta["sha256"], digest.as_str());
    let text = String::from_utf8(bytes.clone()).unwrap();
    let lines: Vec<&str> = text.split_terminator("\r\n").collect();
    assert_eq!(lines.len(), N + 1);
    for (i, line) in lines.iter().skip(1).enumerate() {
        let expected = format!("cre_{},sla_credit,c{i:05},", i + 1);
        assert!(line.starts_with(&expected), "line {}: {line}", i + 2);
    }
    assert!(lines[12_346]
        .starts_with("cre_12346,sla_credit,c12345,\"'=SUM(A1), \"\"x\"\"\",2026-01,10.00,USD,A,"));
    let again = ok(run_cli(&db.url, &["export", "--batch", "exp_1"]));
    assert!(again == bytes, "the second download differs");
    let semi = ok(run_cli(
        &db.url,
        &["export", "--batch", "exp_1", "--bom", "--delimiter", ";"],
    ));
    assert!(semi.starts_with("\u{feff}entry_id;kind;".as_bytes()));
    assert_eq!(
        String::from_utf8(semi)
            .unwrap()
            .split_terminator("\r\n")
            .count(),
        N + 1
    );
    let next: serde_json::Value = serde_json::from_slice(&ok(run_cli(
        &db.url,
        &["export", "--out", out_path.to_str().unwrap()],
    )))
    .unwrap();
    assert_eq!(next["rows"], 0);
}
