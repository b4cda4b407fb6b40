//! Helpers: a fresh database per test, seeding through the store, and the binary.

use std::process::{Command, Output};

use sla_credit::domain::time::{parse_instant, Nanos};
use sla_credit::store::customers::add_customers;
use sla_credit::store::ledger::{balances, entries_for_customer, Entry};
use sla_credit::store::settle::{settle_incident, SettleOptions};
use sla_credit::store::{customers, incidents, plans, Conn, Store};
use sla_credit::wire::credits::SettlementReport;
use sla_credit::wire::customers::{CustomerInput, NewCustomer};
use sla_credit::wire::incidents::IncidentInput;
use sla_credit::wire::plans::PlanInput;
use tempfile::TempDir;

/// A temporary directory holding one database file.
pub struct TestDb {
    /// Keeps the directory (and the database file) alive for the test.
    pub _dir: TempDir,
    pub url: String,
    pub store: Store,
}

impl TestDb {
    pub fn new() -> TestDb {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!("sqlite://{}", dir.path().join("ledger.db").display());
        let store = Store::open(&url).expect("open store");
        TestDb {
            _dir: dir,
            url,
            store,
        }
    }

    pub fn conn(&self) -> sla_credit::store::PooledConn {
        self.store.conn().expect("connection")
    }
}

pub fn t(s: &str) -> Nanos {
    parse_instant(s).expect("instant")
}

/// The clock of every test: a fixed instant after the incidents.
pub fn now() -> Nanos {
    t("2026-06-01T00:00:00Z")
}

pub fn opts() -> SettleOptions {
    SettleOptions::new(now())
}

pub fn add_plan(conn: &mut Conn, id: &str, price: &str, currency: &str, policy: serde_json::Value) {
    let new = PlanInput {
        id: id.into(),
        name: format!("Plan {id}"),
        price: serde_json::Value::String(price.into()),
        currency: currency.into(),
        billing_cycle: "monthly".into(),
        annual_split: None,
        policy,
    }
    .check()
    .expect("plan input");
    plans::add_plan(conn, &new, now()).expect("add plan");
}

/// The Amazon EC2 region tiers: [99.0, 99.99) 10%, [95.0, 99.0) 30%, [0, 95.0) 100%.
pub fn aws() -> serde_json::Value {
    serde_json::json!("aws-ec2-region")
}

pub fn customer(id: &str, zone: &str, plan_id: &str, since: Option<&str>) -> NewCustomer {
    CustomerInput {
        id: id.into(),
        name: format!("Customer {id}"),
        email: Some(format!("{id}@example.com")),
        timezone: Some(zone.into()),
        plan_id: plan_id.into(),
        plan_since: since.map(str::to_string),
    }
    .check()
    .expect("customer input")
}

pub fn add_customer(conn: &mut Conn, id: &str, zone: &str, plan_id: &str) {
    customers::add_customer(conn, &customer(id, zone, plan_id, None), now()).expect("add customer");
}

/// Many customers in one transaction.
pub fn add_many(conn: &mut Conn, list: &[NewCustomer]) {
    add_customers(conn, list, now()).expect("add customers");
}

pub fn add_incident(conn: &mut Conn, id: &str, kind: &str, start: &str, end: Option<&str>) {
    let new = IncidentInput {
        id: id.into(),
        title: format!("Incident {id}"),
        kind: Some(kind.into()),
        started_at: start.into(),
        ended_at: end.map(str::to_string),
        impact: None,
        summary: None,
        scope: None,
    }
    .check()
    .expect("incident input");
    incidents::add_incident(conn, &new, now()).expect("add incident");
}

/// Outage `id`, one hour from 2026-01-10T00:00Z: in a 31-day month U = 99.866% (10% under
/// the EC2 tiers).
pub fn add_january_hour(conn: &mut Conn, id: &str) {
    add_incident(
        conn,
        id,
        "outage",
        "2026-01-10T00:00:00Z",
        Some("2026-01-10T01:00:00Z"),
    );
}

pub fn settle(conn: &mut Conn, incident: &str) -> SettlementReport {
    let report = settle_incident(conn, incident, &opts()).expect("settle");
    assert_keys_hold(conn);
    report
}

#[derive(diesel::QueryableByName)]
struct Count {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

fn count(conn: &mut Conn, sql: &str) -> i64 {
    use diesel::RunQueryDsl;
    let row: Count = diesel::sql_query(sql).get_result(conn).expect(sql);
    row.n
}

/// A settlement appends without SQLite's per-row foreign-key lookups: afterwards the
/// connection enforces them again, and every key in the database resolves.
pub fn assert_keys_hold(conn: &mut Conn) {
    assert_eq!(
        count(conn, "SELECT foreign_keys AS n FROM pragma_foreign_keys"),
        1,
        "foreign keys are enforced again after a settlement"
    );
    assert_eq!(
        count(conn, "SELECT count(*) AS n FROM pragma_foreign_key_check"),
        0,
        "every foreign key resolves"
    );
}

/// Settles one (customer, period) directly, e.g. `settle_period(c, "acme", "2026-01")`.
pub fn settle_period(conn: &mut Conn, customer: &str, period: &str) -> SettlementReport {
    let label = sla_credit::domain::period::PeriodLabel::parse(period).expect("period label");
    sla_credit::store::settle::settle_customer_period(conn, customer, label, &opts())
        .expect("settle period")
}

pub fn entries(conn: &mut Conn, customer: &str) -> Vec<Entry> {
    entries_for_customer(conn, customer).expect("entries")
}

/// The customer's balance in its only currency, as text.
pub fn balance(conn: &mut Conn, customer: &str) -> String {
    let b = balances(&entries(conn, customer)).expect("balances");
    match b.as_slice() {
        [] => "0".into(),
        [one] => one.total.clone(),
        _ => panic!("several currencies"),
    }
}

/// The `(period, amount)` of each entry, oldest first.
pub fn amounts(conn: &mut Conn, customer: &str) -> Vec<(String, String)> {
    let mut e = entries(conn, customer);
    e.reverse();
    e.iter()
        .map(|e| (e.period.clone(), e.currency.format(e.amount)))
        .collect()
}

/// Runs the built binary against a database.
pub fn run_cli(url: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sla-credit"))
        .args(args)
        .env("DATABASE_URL", url)
        .output()
        .expect("run sla-credit")
}

/// A fresh database file with every migration before the one whose name starts with `name`
/// applied (that one is the next pending): its directory, URL and a plain connection.
pub fn before_migration(name: &str) -> (TempDir, String, Conn) {
    use diesel_migrations::MigrationHarness;
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}", dir.path().join("m.db").display());
    let mut conn = sla_credit::store::sqlite::connect(&url).expect("connect");
    loop {
        let next = conn
            .pending_migrations(sla_credit::store::sqlite::MIGRATIONS)
            .expect("pending migrations");
        let pending = next
            .first()
            .unwrap_or_else(|| panic!("no migration {name}"))
            .name()
            .to_string();
        if pending.starts_with(name) {
            return (dir, url, conn);
        }
        conn.run_next_migration(sla_credit::store::sqlite::MIGRATIONS)
            .expect("migration");
    }
}
