//! A settlement SIGKILLed mid-way leaves every customer with its full entry or none, and a
//! re-run completes the rest without duplicates. No fixed sleeps: the test polls the database
//! for progress.

use std::collections::HashMap;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use diesel::prelude::*;
use sla_credit::store::schema::ledger_entries;
use sla_credit::store::sqlite::connect;

use crate::common::*;

const CUSTOMERS: usize = 100_000;
const BATCH: usize = 2_000;

fn count(conn: &mut SqliteConnection) -> i64 {
    ledger_entries::table.count().get_result(conn).unwrap_or(0)
}

#[test]
fn a_killed_settlement_is_all_or_nothing_per_customer_and_a_rerun_completes_it() {
    let db = TestDb::new();
    {
        let mut c = db.conn();
        add_plan(&mut c, "basic", "100.00", "USD", aws());
        let list: Vec<_> = (0..CUSTOMERS)
            .map(|i| customer(&format!("c{i:06}"), "UTC", "basic", None))
            .collect();
        add_many(&mut c, &list);
        // 1 h in January: 10% × 100.00 = 10.00 for everyone.
        add_january_hour(&mut c, "A");
    }
    let mut child = Command::new(env!("CARGO_BIN_EXE_sla-credit"))
        .args([
            "settle",
            "--incident",
            "A",
            "--batch-size",
            &BATCH.to_string(),
        ])
        .env("DATABASE_URL", &db.url)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let mut watcher = connect(&db.url).unwrap();
    let deadline = Instant::now() + Duration::from_secs(300);
    let mut seen = 0;
    while Instant::now() < deadline {
        seen = count(&mut watcher);
        if seen > 0 {
            break;
        }
        if child.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::yield_now();
    }
    // `Child::kill` is SIGKILL on Unix: no destructor, no rollback handler runs.
    child.kill().expect("kill");
    child.wait().expect("reap");
    assert!(
        seen > 0,
        "the settlement made no progress before the deadline"
    );

    let mut c = connect(&db.url).unwrap();
    let settled = count(&mut c) as usize;
    assert!(
        settled > 0 && settled < CUSTOMERS,
        "killed mid-way: {settled} of {CUSTOMERS} settled"
    );
    assert_eq!(settled % BATCH, 0, "only whole batches are committed");
    check_each_customer_at_most_once(&mut c, true);

    // The re-run finishes the rest.
    let out = run_cli(&db.url, &["settle", "--incident", "A"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        report["entries_appended"].as_u64().unwrap() as usize,
        CUSTOMERS - settled
    );
    assert_eq!(count(&mut c) as usize, CUSTOMERS);
    check_each_customer_at_most_once(&mut c, false);
}

/// Every customer has one entry of 10.00 (or, when `partial`, possibly none), never two.
fn check_each_customer_at_most_once(c: &mut SqliteConnection, partial: bool) {
    let rows: Vec<(String, i64)> = ledger_entries::table
        .select((ledger_entries::customer_id, ledger_entries::amount_minor))
        .load(c)
        .unwrap();
    let mut per: HashMap<String, Vec<i64>> = HashMap::new();
    for (id, amount) in rows {
        per.entry(id).or_default().push(amount);
    }
    for (id, amounts) in &per {
        assert_eq!(amounts, &vec![1000], "{id}");
    }
    if !partial {
        assert_eq!(per.len(), CUSTOMERS);
    }
}
