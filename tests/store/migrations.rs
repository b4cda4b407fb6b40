//! The schema: every migration up, down and up again leaves the same schema; the database
//! itself refuses to edit or remove ledger entries; pools open connections as configured.

use diesel::prelude::*;
use diesel::sql_types::Text;
use diesel_migrations::MigrationHarness;
use sla_credit::store::ledger::goodwill;
use sla_credit::store::sqlite::{connect, MIGRATIONS};
use sla_credit::wire::credits::GoodwillInput;

use crate::common::*;

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

fn cache_size(conn: &mut SqliteConnection) -> i64 {
    diesel::sql_query("PRAGMA cache_size")
        .get_result::<CacheSize>(conn)
        .unwrap()
        .cache_size
}

/// A server's pooled connections keep a page cache of the size asked for (a negative
/// `cache_size` is in KiB: 16 MiB is -16384); the commands' pools keep SQLite's default of
/// 2,000 KiB (-2000).
#[test]
fn a_serving_pool_has_the_page_cache_asked_for_and_the_commands_the_default() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("c.db").display());
    let serving = sla_credit::store::Store::open_for_serving(&url, 2, 16).unwrap();
    let (mut a, mut b) = (serving.conn().unwrap(), serving.conn().unwrap());
    assert_eq!((cache_size(&mut a), cache_size(&mut b)), (-16_384, -16_384));
    drop((a, b));
    let commands = sla_credit::store::Store::open(&url).unwrap();
    assert_eq!(cache_size(&mut commands.conn().unwrap()), -2_000);
}
