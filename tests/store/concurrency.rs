//! Four separate processes settle the same incident for the same 1,000 customers at once:
//! exactly one set of entries, and every balance equals its credit (an in-process lock would
//! prove nothing, so these are real processes on one database file).

use std::collections::HashMap;
use std::process::{Command, Stdio};

use crate::common::*;

#[test]
fn four_processes_settle_one_incident_once() {
    let db = TestDb::new();
    {
        let mut c = db.conn();
        add_plan(&mut c, "basic", "100.00", "USD", aws());
        add_plan(&mut c, "pro", "250.00", "USD", aws());
        let list: Vec<_> = (0..1000)
            .map(|i| {
                if i % 2 == 0 {
                    customer(&format!("c{i:04}"), "UTC", "basic", None)
                } else {
                    customer(&format!("c{i:04}"), "America/Los_Angeles", "pro", None)
                }
            })
            .collect();
        add_many(&mut c, &list);
        // 1 h on 2026-01-10: January in UTC and in Los Angeles alike has 2,678,400 s;
        // U = 99.866% → 10%: basic 10.00, pro 25.00.
        add_january_hour(&mut c, "A");
    }
    // Small batches, so the four processes' transactions interleave.
    let children: Vec<_> = (0..4)
        .map(|_| {
            Command::new(env!("CARGO_BIN_EXE_sla-credit"))
                .args(["settle", "--incident", "A", "--batch-size", "100"])
                .env("DATABASE_URL", &db.url)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn")
        })
        .collect();
    let mut appended = 0;
    for child in children {
        let out = child.wait_with_output().expect("wait");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        appended += report["entries_appended"].as_u64().unwrap();
    }
    assert_eq!(
        appended, 1000,
        "the four processes together appended one set"
    );

    let mut c = db.conn();
    let mut per_customer: HashMap<String, usize> = HashMap::new();
    for i in 0..1000 {
        let id = format!("c{i:04}");
        let e = entries(&mut c, &id);
        per_customer.insert(id.clone(), e.len());
        let expected = if i % 2 == 0 { "10.00" } else { "25.00" };
        assert_eq!(e.len(), 1, "{id}");
        assert_eq!(balance(&mut c, &id), expected, "{id}");
    }
    assert!(per_customer.values().all(|n| *n == 1));
}
