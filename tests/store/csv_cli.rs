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
