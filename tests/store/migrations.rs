//! The schema: every migration up, down and up again leaves the same schema; the database
//! itself refuses to edit or remove ledger entries; pools open connections as configured.

use diesel::prelude::*;
use diesel::sql_types::Text;
use diesel_migrations::MigrationHarness;
use sla_credit::store::ledger::goodwill;
use sla_credit::store::sqlite::{connect, MIGRATIONS};
use sla_credit::wire::credits::GoodwillInput;

use crate::common::*;
use diesel::connection::SimpleConnection;

#[derive(QueryableByName, Debug, PartialEq, Eq)]
struct SchemaRow {
    #[diesel(sql_type = Text)]
    kind: String,
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Text)]
    sql: String,
}

/// Every table, index and trigger with its SQL, except diesel's own bookkeeping.
fn schema(conn: &mut SqliteConnection) -> Vec<SchemaRow> {
    diesel::sql_query(
        "SELECT type AS kind, name, coalesce(sql, '') AS sql FROM sqlite_schema \
         WHERE name NOT LIKE '__diesel%' AND name NOT LIKE 'sqlite_%' ORDER BY type, name",
    )
    .load(conn)
    .expect("schema")
}

#[test]
fn every_migration_goes_up_down_and_up_to_the_same_schema() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("m.db").display());
    let mut conn = connect(&url).unwrap();
    let count = conn.pending_migrations(MIGRATIONS).unwrap().len();
    assert!(count >= 4);
    let mut snapshots = vec![schema(&mut conn)];
    assert!(snapshots[0].is_empty());
    for step in 1..=count {
        let applied = conn.run_next_migration(MIGRATIONS).unwrap().to_string();
        let up = schema(&mut conn);
        assert_ne!(
            up,
            snapshots[step - 1],
            "migration {applied} changed nothing"
        );
        conn.revert_last_migration(MIGRATIONS).unwrap();
        assert_eq!(schema(&mut conn), snapshots[step - 1], "down of {applied}");
        conn.run_next_migration(MIGRATIONS).unwrap();
        assert_eq!(schema(&mut conn), up, "up again of {applied}");
        snapshots.push(up);
    }
    // All the way down and up again.
    conn.revert_all_migrations(MIGRATIONS).unwrap();
    assert!(schema(&mut conn).is_empty());
    conn.run_pending_migrations(MIGRATIONS).unwrap();
    assert_eq!(&schema(&mut conn), snapshots.last().unwrap());
}

#[derive(QueryableByName)]
struct PlanStep {
    #[diesel(sql_type = Text)]
    detail: String,
}

/// How SQLite means to run `sql` (EXPLAIN QUERY PLAN), one step a line.
fn plan(conn: &mut SqliteConnection, sql: &str) -> String {
    let steps: Vec<PlanStep> = diesel::sql_query(format!("EXPLAIN QUERY PLAN {sql}"))
        .load(conn)
        .expect("plan");
    steps
        .into_iter()
        .map(|s| s.detail)
        .collect::<Vec<_>>()
        .join("\n")
}

/// "Which entry reverses this one" is asked once per entry shown, and the UNIQUE constraint's
/// own index on `reverses` holds every entry (NULL for all but reversals): a page's join must
/// take the index of the reversals alone. (A single lookup may take either; it is one probe.)
#[test]
fn the_reversing_entry_is_found_in_the_index_of_reversals() {
    let db = TestDb::new();
    let page = plan(
        &mut db.conn(),
        "SELECT e.id, r.id FROM ledger_entries e \
         LEFT JOIN ledger_entries r ON r.reverses = e.id \
         WHERE e.customer_id = 'acme' AND e.id < 100 ORDER BY e.id DESC",
    );
    assert!(
        page.contains("SEARCH r USING COVERING INDEX ledger_entries_reversals (reverses=?)"),
        "{page}"
    );
}

#[test]
fn the_database_refuses_to_update_or_delete_ledger_entries() {
    let db = TestDb::new();
    let mut c = db.conn();
    add_plan(&mut c, "basic", "100.00", "USD", aws());
    add_customer(&mut c, "acme", "UTC", "basic");
    add_january_hour(&mut c, "A");
    settle(&mut c, "A");
    goodwill(
        &mut c,
        &GoodwillInput {
            amount: Some(serde_json::json!("1.00")),
            reason: "r".into(),
            period: Some("2026-01".into()),
            ..GoodwillInput::default()
        }
        .check("acme")
        .unwrap(),
        "cli",
        now(),
    )
    .unwrap();
    // A plain connection, bypassing every code path of the store.
    let mut raw = connect(&db.url).unwrap();
    for sql in [
        "UPDATE ledger_entries SET amount_minor = 999999",
        "UPDATE ledger_entries SET reason = 'edited' WHERE kind = 'goodwill'",
        "DELETE FROM ledger_entries",
        "DELETE FROM ledger_entries WHERE kind = 'goodwill'",
        "UPDATE credit_breakdowns SET body = '{}'",
        "DELETE FROM credit_breakdowns",
        "UPDATE plan_versions SET price = '1'",
        "DELETE FROM plan_versions",
    ] {
        let err = diesel::sql_query(sql).execute(&mut raw).expect_err(sql);
        let text = err.to_string();
        assert!(
            text.contains("immutable") || text.contains("append-only"),
            "{sql}: {text}"
        );
    }
    assert_eq!(balance(&mut c, "acme"), "11.00");
}

#[derive(QueryableByName)]
struct CacheSize {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    cache_size: i64,
}

#[derive(QueryableByName)]
struct MmapSize {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    mmap_size: i64,
}

/// A connection's page cache (`cache_size`) and memory map (`mmap_size`, bytes).
fn reading(conn: &mut SqliteConnection) -> (i64, i64) {
    let cache = diesel::sql_query("PRAGMA cache_size")
        .get_result::<CacheSize>(conn)
        .unwrap();
    let mmap = diesel::sql_query("PRAGMA mmap_size")
        .get_result::<MmapSize>(conn)
        .unwrap();
    (cache.cache_size, mmap.mmap_size)
}

/// A server's pooled connections keep a page cache of the size asked for (a negative
/// `cache_size` is in KiB: 16 MiB is -16384) and map as much of the file as asked (64 MiB is
/// 67,108,864 bytes); the commands' pools keep SQLite's defaults: 2,000 KiB (-2000) and no map.
#[test]
fn a_serving_pool_reads_as_asked_and_the_commands_as_sqlite_does() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("c.db").display());
    let serving = sla_credit::store::Store::open_for_serving(&url, 2, 16, 64).unwrap();
    let (mut a, mut b) = (serving.conn().unwrap(), serving.conn().unwrap());
    let asked = (-16_384, 64 << 20);
    assert_eq!((reading(&mut a), reading(&mut b)), (asked, asked));
    drop((a, b));
    let commands = sla_credit::store::Store::open(&url).unwrap();
    assert_eq!(reading(&mut commands.conn().unwrap()), (-2_000, 0));
}

/// A bulk read on a server's connection (an export, a settlement) reads by `read` calls, not
/// through the memory map, and the connection has its map back afterwards, also after a
/// failure.
#[test]
fn bulk_reads_leave_the_map_and_get_it_back() {
    use sla_credit::store::sqlite::{unmapped, with_settle_settings};
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("m.db").display());
    let serving = sla_credit::store::Store::open_for_serving(&url, 1, 16, 64).unwrap();
    let mut c = serving.conn().unwrap();
    let mapped = (-16_384, 64 << 20);
    assert_eq!(unmapped(&mut c, |c| Ok(reading(c))).unwrap(), (-16_384, 0));
    assert_eq!(reading(&mut c), mapped);
    let failed: Result<(), _> = unmapped(&mut c, |_| Err(sla_credit::wire::Error::Busy));
    assert!(matches!(failed, Err(sla_credit::wire::Error::Busy)));
    assert_eq!(reading(&mut c), mapped);
    let settling = with_settle_settings(&mut c, |c| Ok(reading(c))).unwrap();
    assert_eq!(settling.1, 0);
    assert_eq!(reading(&mut c), mapped);
}

#[derive(QueryableByName, Debug, PartialEq, Eq)]
struct Kept {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    id: i64,
    #[diesel(sql_type = diesel::sql_types::Nullable<Text>)]
    customer_name: Option<String>,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::BigInt>)]
    settlement_id: Option<i64>,
}

/// Migration 2026-12-02-000011: every entry appended since keeps its customer's name and the
/// recorded settlement that appended it (a settlement's entries; goodwill credits and
/// reversals keep the name and no settlement); an entry appended before keeps NULL in both, as
/// entries are never updated, and the export takes its name from the customers table and an
/// older `sla_credit` entry's settlement from its settlement line. An export writes what the
/// entry kept: the one row inserted below with a name that is not the customers table's and a
/// settlement but no line (which the store never does) shows it.
#[test]
fn entries_keep_their_customers_name_and_settlement_and_older_entries_are_looked_up() {
    let (dir, url, mut conn) = before_migration("2026-12-02-000011");
    // Before the migration: settlement 1 appended entry 1 for `old`, with its line; entry 2
    // is a goodwill credit.
    conn.batch_execute(
        "PRAGMA foreign_keys = OFF;
         INSERT INTO customers (id, name, timezone, created_at) VALUES
           ('old', 'Old Customer, \"Ltd.\"', 'UTC', '2025-12-01T00:00:00.000000000Z');
         INSERT INTO settlements (id, incident_id, created_at, created_by, as_of, tzdb_version,
           engine_version) VALUES (1, 'Z', '2025-12-02T00:00:00.000000000Z', 'cli',
           '2025-12-02T00:00:00.000000000Z', 't', 'e');
         INSERT INTO ledger_entries (id, kind, customer_id, period, amount_minor, currency,
           minor_units, created_at, created_by, explanation, tzdb_version, engine_version)
           VALUES (1, 'sla_credit', 'old', '2025-11', 300, 'USD', 2,
           '2025-12-02T00:00:00.000000000Z', 'cli', 'Credit: 3.00 USD', 't', 'e');
         INSERT INTO settlement_lines (settlement_id, customer_id, period, currency, minor_units,
           target_minor, booked_minor, delta_minor, entry_id)
           VALUES (1, 'old', '2025-11', 'USD', 2, 300, 0, 300, 1);
         INSERT INTO ledger_entries (id, kind, customer_id, period, amount_minor, currency,
           minor_units, reason, created_at, created_by, explanation, tzdb_version,
           engine_version) VALUES (2, 'goodwill', 'old', '2025-12', 500, 'USD', 2, 'r',
           '2025-12-02T00:00:00.000000000Z', 'cli', 'Goodwill: 5.00 USD', 't', 'e');
         PRAGMA foreign_keys = ON;",
    )
    .unwrap();
    conn.run_pending_migrations(MIGRATIONS).unwrap();
    drop(conn);

    let db = sla_credit::store::Store::open(&url).unwrap();
    let mut c = db.conn().unwrap();
    add_plan(&mut c, "basic", "31.00", "USD", aws());
    add_customer(&mut c, "acme", "UTC", "basic");
    c.batch_execute(
        "INSERT INTO plan_changes (customer_id, effective_at, plan_id, created_at) VALUES
           ('old', '2025-12-01T00:00:00.000000000Z', 'basic', '2025-12-01T00:00:00.000000000Z');",
    )
    .unwrap();
    add_january_hour(&mut c, "A");
    // Settlement 2, recorded: entries 3 (acme) and 4 (old), in customer order.
    let recorded = sla_credit::store::settle::SettleOptions {
        record: true,
        ..opts()
    };
    sla_credit::store::settle::settle_incident(&mut c, "A", &recorded).unwrap();
    let grant = GoodwillInput {
        amount: Some(serde_json::json!("1.00")),
        reason: "r".into(),
        period: Some("2026-01".into()),
        ..GoodwillInput::default()
    };
    let g = goodwill(&mut c, &grant.check("acme").unwrap(), "cli", now()).unwrap();
    sla_credit::store::ledger::reverse(&mut c, g.id, "entered twice", "cli", now()).unwrap();
    c.batch_execute(
        "INSERT INTO ledger_entries (id, kind, customer_id, period, amount_minor, currency,
           minor_units, created_at, created_by, explanation, tzdb_version, engine_version,
           customer_name, settlement_id) VALUES (7, 'sla_credit', 'acme', '2026-02', 100, 'USD',
           2, '2026-02-02T00:00:00.000000000Z', 'cli', 'Credit: 1.00 USD', 't', 'e',
           'Kept on the entry', 2);",
    )
    .unwrap();
    let kept: Vec<Kept> = diesel::sql_query(
        "SELECT id, customer_name, settlement_id FROM ledger_entries ORDER BY id",
    )
    .load(&mut c)
    .unwrap();
    let old = "Old Customer, \"Ltd.\"";
    let acme = "Customer acme";
    let row = |id: i64, name: Option<&str>, settlement: Option<i64>| Kept {
        id,
        customer_name: name.map(str::to_string),
        settlement_id: settlement,
    };
    assert_eq!(
        kept,
        vec![
            row(1, None, None),
            row(2, None, None),
            row(3, Some(acme), Some(2)),
            row(4, Some(old), Some(2)),
            row(5, Some(acme), None),
            row(6, Some(acme), None),
            row(7, Some("Kept on the entry"), Some(2)),
        ]
    );
    drop(c);

    let out = dir.path().join("batch.csv");
    crate::cli::ok(&url, &["export", "--out", &out.display().to_string()]);
    let mut r = csv::Reader::from_path(&out).unwrap();
    let header = r.headers().unwrap().clone();
    let at = |name: &str| header.iter().position(|h| h == name).unwrap();
    let (name_at, settlement_at) = (at("customer_name"), at("settlement_id"));
    let exported: Vec<(String, String)> = r
        .records()
        .map(|row| {
            let row = row.unwrap();
            (row[name_at].to_string(), row[settlement_at].to_string())
        })
        .collect();
    let cell = |name: &str, settlement: &str| (name.to_string(), settlement.to_string());
    assert_eq!(
        exported,
        vec![
            cell(old, "stl_1"),
            cell(old, ""),
            cell(acme, "stl_2"),
            cell(old, "stl_2"),
            cell(acme, ""),
            cell(acme, ""),
            cell("Kept on the entry", "stl_2"),
        ]
    );
}
