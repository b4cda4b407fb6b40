//! A CSV import is one transaction: a process importing a 1,000,000-row file that is
//! SIGKILLed mid-way leaves none of its rows, and the same upload then succeeds once
//! (docs/csv.md). No fixed sleeps: the test watches the write-ahead log grow.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use diesel::prelude::*;
use sla_credit::store::schema::{customers, imports};
use sla_credit::store::sqlite::connect;

use crate::common::*;

const ROWS: usize = 1_000_000;

fn counts(url: &str) -> (i64, i64) {
    let mut c = connect(url).unwrap();
    let n = customers::table.count().get_result(&mut c).unwrap();
    let i = imports::table.count().get_result(&mut c).unwrap();
    (n, i)
}

#[test]
fn a_killed_import_stores_nothing_and_the_same_file_then_imports_once() {
    let db = TestDb::new();
    add_plan(&mut db.conn(), "basic", "100.00", "USD", aws());
    let file = db._dir.path().join("customers.csv");
    {
        let mut w = std::io::BufWriter::new(std::fs::File::create(&file).unwrap());
        writeln!(w, "id,name,email,timezone,plan_id").unwrap();
        for i in 0..ROWS {
            writeln!(
                w,
                "c{i:07},\"Customer {i}, Inc.\",c{i}@example.com,Europe/Berlin,basic"
            )
            .unwrap();
        }
    }
    let path = file.to_str().unwrap().to_string();
    let wal = db._dir.path().join("ledger.db-wal");
    let wal_len = || std::fs::metadata(&wal).map_or(0, |m| m.len());
    let start_len = wal_len();
    let mut child = Command::new(env!("CARGO_BIN_EXE_sla-credit"))
        .args(["import", "customers", &path])
        .env("DATABASE_URL", &db.url)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    // Uncommitted pages spill into the WAL as the transaction grows: 4 MB of them means
    // the import is well under way.
    let deadline = Instant::now() + Duration::from_secs(600);
    let mut exited = None;
    while Instant::now() < deadline {
        if wal_len() > start_len + 4 * 1024 * 1024 {
            break;
        }
        if let Some(s) = child.try_wait().unwrap() {
            exited = Some(s);
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(
        exited.is_none(),
        "the import ended before it could be killed: {exited:?}"
    );
    child.kill().expect("kill");
    child.wait().expect("reap");
    assert_eq!(counts(&db.url), (0, 0), "a killed import left rows behind");

    let out = run_cli(&db.url, &["import", "customers", &path]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["id"], "imp_1");
    assert_eq!(v["rows"], ROWS);
    assert_eq!(counts(&db.url), (ROWS as i64, 1));

    // The same file again: recognized, nothing stored twice.
    let out = run_cli(&db.url, &["import", "customers", &path]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["id"], "imp_1");
    assert_eq!(v["already_imported"], true);
    assert_eq!(counts(&db.url), (ROWS as i64, 1));
}
