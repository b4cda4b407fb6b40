//! Migration 2026-12-01-000008: export batches made with one link row per entry become ranges
//! of entry ids holding exactly the same entries; a batch that is not a range stops the
//! migration and changes nothing.

use std::collections::HashMap;

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel_migrations::MigrationHarness;
use sla_credit::store::exports::{batches_of, pending_range, Range};
use sla_credit::store::schema::export_ranges;
use sla_credit::store::sqlite::MIGRATIONS;

/// A database with the migrations before 2026-12-01-000008 applied.
fn before_ranges() -> (tempfile::TempDir, SqliteConnection) {
    let (dir, _, conn) = crate::common::before_migration("2026-12-01-000008");
    (dir, conn)
}

fn old_batches(conn: &mut SqliteConnection, entries: i64, batches: &[&[i64]]) {
    conn.batch_execute("PRAGMA foreign_keys = OFF").unwrap();
    for id in 1..=entries {
        conn.batch_execute(&format!(
            "INSERT INTO ledger_entries (id, kind, customer_id, period, amount_minor, currency, \
             minor_units, reason, created_at, created_by, explanation, tzdb_version, \
             engine_version) VALUES ({id}, 'goodwill', 'acme', '2026-01', 100, 'USD', 2, 'r', \
             '2026-01-01T00:00:00.000000000Z', 'cli', 'x', 't', 'e')"
        ))
        .unwrap();
    }
    for (i, links) in batches.iter().enumerate() {
        let batch = i + 1;
        conn.batch_execute(&format!(
            "INSERT INTO export_batches (id, rows, sha256, created_at, created_by) VALUES \
             ({batch}, {}, '{}', '2026-01-02T00:00:00.000000000Z', 'cli')",
            links.len(),
            "0".repeat(64)
        ))
        .unwrap();
        for entry in *links {
            conn.batch_execute(&format!(
                "INSERT INTO export_entries (entry_id, export_id) VALUES ({entry}, {batch})"
            ))
            .unwrap();
        }
    }
    conn.batch_execute("PRAGMA foreign_keys = ON").unwrap();
}

#[test]
fn old_batches_become_ranges_with_the_same_entries() {
    let (_dir, mut conn) = before_ranges();
    // Batch 1 took entries 1 and 2, batch 2 was empty, batch 3 took 3 and 4; 5 is pending.
    old_batches(&mut conn, 5, &[&[1, 2], &[], &[3, 4]]);
    conn.run_next_migration(MIGRATIONS).unwrap();
    let ranges: Vec<(i64, i64, i64)> = export_ranges::table
        .order(export_ranges::export_id.asc())
        .select((
            export_ranges::export_id,
            export_ranges::after_entry_id,
            export_ranges::last_entry_id,
        ))
        .load(&mut conn)
        .unwrap();
    assert_eq!(ranges, vec![(1, 0, 2), (2, 2, 2), (3, 2, 4)]);
    let expected: HashMap<i64, i64> = [(1, 1), (2, 1), (3, 3), (4, 3)].into_iter().collect();
    assert_eq!(batches_of(&mut conn, &[1, 2, 3, 4, 5]).unwrap(), expected);
    assert_eq!(batches_of(&mut conn, &[5]).unwrap(), HashMap::new());
    // The next batch takes what no batch took: entry 5 alone.
    assert_eq!(
        pending_range(&mut conn, 4).unwrap(),
        Range {
            batch: 4,
            after: 4,
            last: 5
        }
    );
}

#[test]
fn a_batch_that_is_not_a_range_stops_the_migration() {
    let (_dir, mut conn) = before_ranges();
    // Entry 2 is in no batch, yet entry 3 after it is: not what the old code could write.
    old_batches(&mut conn, 3, &[&[1, 3]]);
    let err = conn.run_next_migration(MIGRATIONS).unwrap_err().to_string();
    assert!(err.contains("CHECK constraint failed"), "{err}");
    let links: i64 = diesel::sql_query("SELECT count(*) AS n FROM export_entries")
        .get_result::<Count>(&mut conn)
        .unwrap()
        .n;
    assert_eq!(links, 2, "the old links are kept");
    assert_eq!(
        conn.pending_migrations(MIGRATIONS).unwrap()[0]
            .name()
            .to_string()
            .get(..17),
        Some("2026-12-01-000008")
    );
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}
