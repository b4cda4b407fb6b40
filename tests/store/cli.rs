//! The command line as a person uses it: data in, settle, ledger; bad input exits 2 with
//! `field: message` and writes nothing.

use crate::common::*;

pub fn ok(url: &str, args: &[&str]) -> serde_json::Value {
    let out = run_cli(url, args);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON on stdout")
}

pub fn bad(url: &str, args: &[&str]) -> String {
    let out = run_cli(url, args);
    assert_eq!(out.status.code(), Some(2), "{args:?}");
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(!stderr.contains("panicked"), "{stderr}");
    stderr
}

#[test]
fn a_person_can_settle_and_read_the_ledger() {
    let dir = tempfile::tempdir().unwrap();
    // A plain path is a SQLite file too; created and migrated on first use.
    let url = dir.path().join("cli.db").display().to_string();
    ok(
        &url,
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
    );
    ok(
        &url,
        &[
            "customers",
            "add",
            "--id",
            "acme",
            "--name",
            "Acme",
            "--email",
            "ops@acme.test",
            "--timezone",
            "America/Los_Angeles",
            "--plan-id",
            "basic",
        ],
    );
    ok(
        &url,
        &[
            "incidents",
            "add",
            "--id",
            "A",
            "--title",
            "DB down",
            "--started-at",
            "2026-01-10T00:00:00Z",
            "--ended-at",
            "2026-01-10T01:00:00Z",
        ],
    );
    // 1 h: 3,600 s in LA's January (2,678,400 s) → 10% × 100.00 = 10.00.
    let r = ok(&url, &["settle", "--incident", "A"]);
    assert_eq!(r["entries_appended"], 1);
    assert_eq!(r["totals"][0]["amount"], "10.00");
    let r = ok(
        &url,
        &[
            "settle",
            "--customer",
            "acme",
            "--period",
            "2026-01",
            "--lines",
        ],
    );
    assert_eq!(r["entries_appended"], 0);
    assert_eq!(r["data"][0]["target"], "10.00");
    let l = ok(&url, &["ledger", "--customer", "acme", "--breakdown"]);
    assert_eq!(l["balances"][0]["total"], "10.00");
    assert_eq!(l["data"][0]["breakdown"]["period"], "2026-01");
    let id = l["data"][0]["id"].as_str().unwrap().to_string();
    let g = ok(
        &url,
        &[
            "goodwill",
            "--customer",
            "acme",
            "--days",
            "2",
            "--reason",
            "sorry",
            "--period",
            "2026-01",
        ],
    );
    // 2 × 100.00 / 31 = 6.45.
    assert_eq!(g[0]["amount"], "6.45");
    let rv = ok(&url, &["reverse", "--entry", &id, "--reason", "duplicate"]);
    assert_eq!(rv[0]["amount"], "-10.00");
    let l = ok(&url, &["ledger", "--customer", "acme"]);
    assert_eq!(l["balances"][0]["total"], "6.45");
    // sqlite:// and sqlite: name the same file.
    let l2 = ok(&format!("sqlite:{url}"), &["ledger", "--customer", "acme"]);
    assert_eq!(l2["balances"], l["balances"]);
}

#[test]
fn bad_input_exits_2_names_the_field_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("bad.db").display());
    let e = bad(
        &url,
        &[
            "plans",
            "add",
            "--id",
            "p",
            "--name",
            "P",
            "--price",
            "abc",
            "--currency",
            "XTS",
            "--billing-cycle",
            "weekly",
            "--policy",
            "{\"rule\": 1}",
        ],
    );
    for field in ["price:", "currency:", "billing_cycle:", "policy"] {
        assert!(e.contains(field), "{field} missing in {e}");
    }
    ok(
        &url,
        &[
            "plans",
            "add",
            "--id",
            "p",
            "--name",
            "P",
            "--price",
            "10.00",
            "--currency",
            "USD",
            "--billing-cycle",
            "monthly",
            "--policy",
            "olark-2-days",
        ],
    );
    let e = bad(
        &url,
        &[
            "customers",
            "add",
            "--id",
            "c",
            "--name",
            "C",
            "--timezone",
            "Mars/Base",
            "--plan-id",
            "p",
        ],
    );
    assert!(e.starts_with("timezone:"), "{e}");
    let e = bad(
        &url,
        &[
            "customers",
            "add",
            "--id",
            "c",
            "--name",
            "C",
            "--plan-id",
            "nope",
        ],
    );
    assert!(e.starts_with("plan_id:"), "{e}");
    let e = bad(
        &url,
        &[
            "customers",
            "add",
            "--id",
            "bad id!",
            "--name",
            "C",
            "--plan-id",
            "p",
        ],
    );
    assert!(e.starts_with("id:"), "{e}");
    let e = bad(
        &url,
        &[
            "incidents",
            "add",
            "--id",
            "i",
            "--title",
            "T",
            "--started-at",
            "2026-01-10T00:00:00Z",
            "--ended-at",
            "2026-01-09T00:00:00Z",
            "--impact",
            "1.5",
            "--scope",
            "teams:x",
        ],
    );
    for field in ["ended_at:", "impact:", "scope:"] {
        assert!(e.contains(field), "{field} missing in {e}");
    }
    let e = bad(&url, &["settle", "--incident", "nope"]);
    assert!(e.starts_with("incident:"), "{e}");
    let e = bad(&url, &["settle", "--customer", "c", "--period", "2026-13"]);
    assert!(e.starts_with("period:"), "{e}");
    let e = bad(&url, &["settle", "--incident", "i", "--as-of", "yesterday"]);
    assert!(e.starts_with("as_of:"), "{e}");
    let e = bad(&url, &["reverse", "--entry", "42", "--reason", "x"]);
    assert!(e.starts_with("entry:"), "{e}");
    let e = bad(
        &url,
        &[
            "goodwill",
            "--customer",
            "nope",
            "--days",
            "2",
            "--reason",
            "x",
        ],
    );
    assert!(e.starts_with("customer:"), "{e}");
    let e = bad(&url, &["ledger", "--customer", "nobody"]);
    assert!(e.starts_with("customer:"), "{e}");
    // Nothing but the one good plan was written.
    let mut c = sla_credit::store::sqlite::connect(&url).unwrap();
    assert!(sla_credit::store::customers::customer_ids(&mut c)
        .unwrap()
        .is_empty());
    assert_eq!(
        sla_credit::store::plans::load_plans(&mut c).unwrap().len(),
        1
    );
}
