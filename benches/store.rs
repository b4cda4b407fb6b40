//! Settlement throughput: settling one incident for 100,000 customers, in entries per
//! second, beside the raw insert ceiling of the same SQLite library measured in the same run:
//! the very rows the settlement wrote, inserted again into an identically seeded database in
//! one transaction (a) by one prepared single-row INSERT re-executed per row, and (b) by
//! multi-row INSERTs; and (c) by the prepared single-row INSERT into a bare table of the same
//! columns without constraints, index or triggers. Ratios are given against each.
//!
//! `cargo bench --bench store` (env `STORE_BENCH_CUSTOMERS`, default 100000; with
//! `STORE_BENCH_DISTINCT=1` every customer has a plan of its own, a distinct price, so no two
//! customers share a computation or a breakdown).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Instant;

use diesel::prelude::*;
use sla_credit::domain::time::parse_instant;
use sla_credit::store::customers::add_customers;
use sla_credit::store::entries::insert_entries;
use sla_credit::store::incidents::add_incident;
use sla_credit::store::models::{BreakdownRow, EntryRow, NewEntryRow};
use sla_credit::store::plans::add_plan;
use sla_credit::store::schema::{credit_breakdowns, ledger_entries};
use sla_credit::store::settle::{settle_incident, SettleOptions};
use sla_credit::store::sqlite::write_tx;
use sla_credit::store::Store;
use sla_credit::wire::customers::CustomerInput;
use sla_credit::wire::incidents::IncidentInput;
use sla_credit::wire::plans::PlanInput;

// A bare table of the same columns: no constraint, no index, no trigger (ceiling (c)).
diesel::table! {
    bare_entries (id) {
        id -> BigInt,
        kind -> Text,
        customer_id -> Text,
        period -> Text,
        amount_minor -> BigInt,
        currency -> Text,
        minor_units -> BigInt,
        incident_ids -> Text,
        reason -> Nullable<Text>,
        created_at -> Text,
        created_by -> Text,
        reverses -> Nullable<BigInt>,
        plan_id -> Nullable<Text>,
        policy_version -> Nullable<BigInt>,
        rounding -> Nullable<Text>,
        explanation -> Text,
        breakdown_sha256 -> Nullable<Text>,
        as_of -> Nullable<Text>,
        tzdb_version -> Text,
        engine_version -> Text,
    }
}

#[derive(Insertable)]
#[diesel(table_name = bare_entries, treat_none_as_default_value = false)]
struct BareRow {
    id: i64,
    kind: String,
    customer_id: String,
    period: String,
    amount_minor: i64,
    currency: String,
    minor_units: i64,
    incident_ids: String,
    reason: Option<String>,
    created_at: String,
    created_by: String,
    reverses: Option<i64>,
    plan_id: Option<String>,
    policy_version: Option<i64>,
    rounding: Option<String>,
    explanation: String,
    breakdown_sha256: Option<String>,
    as_of: Option<String>,
    tzdb_version: String,
    engine_version: String,
}

impl From<&EntryRow> for BareRow {
    fn from(r: &EntryRow) -> Self {
        let r = r.clone();
        BareRow {
            id: r.id,
            kind: r.kind,
            customer_id: r.customer_id,
            period: r.period,
            amount_minor: r.amount_minor,
            currency: r.currency,
            minor_units: r.minor_units,
            incident_ids: r.incident_ids,
            reason: r.reason,
            created_at: r.created_at,
            created_by: r.created_by,
            reverses: r.reverses,
            plan_id: r.plan_id,
            policy_version: r.policy_version,
            rounding: r.rounding,
            explanation: r.explanation,
            breakdown_sha256: r.breakdown_sha256,
            as_of: r.as_of,
            tzdb_version: r.tzdb_version,
            engine_version: r.engine_version,
        }
    }
}

fn seed(store: &Store, n: usize) {
    let now = parse_instant("2026-06-01T00:00:00Z").unwrap();
    let mut c = store.conn().unwrap();
    for (id, price, policy) in [
        ("basic", "100.00", serde_json::json!("aws-ec2-region")),
        ("pro", "250.00", serde_json::json!("azure-vm")),
        ("team", "80.00", serde_json::json!("slack-10x")),
    ] {
        let p = PlanInput {
            id: id.into(),
            name: id.into(),
            price: serde_json::Value::String(price.into()),
            currency: "USD".into(),
            billing_cycle: "monthly".into(),
            annual_split: None,
            policy,
        }
        .check()
        .unwrap();
        add_plan(&mut c, &p, now).unwrap();
    }
    let distinct = std::env::var("STORE_BENCH_DISTINCT").is_ok();
    let mut distinct_ids = Vec::new();
    if distinct {
        let presets = ["aws-ec2-region", "azure-vm", "slack-10x"];
        for i in 0..n {
            let p = PlanInput {
                id: format!("p{i}"),
                name: format!("p{i}"),
                price: serde_json::Value::String(format!("{}.{:02}", 10 + i / 100, i % 100)),
                currency: "USD".into(),
                billing_cycle: "monthly".into(),
                annual_split: None,
                policy: serde_json::json!(presets[i % 3]),
            }
            .check()
            .unwrap();
            add_plan(&mut c, &p, now).unwrap();
            distinct_ids.push(format!("p{i}"));
        }
    }
    let zones = ["UTC", "America/Los_Angeles", "Europe/Berlin", "Asia/Tokyo"];
    let plans = ["basic", "pro", "team"];
    let list: Vec<_> = (0..n)
        .map(|i| {
            CustomerInput {
                id: format!("cust-{i:07}"),
                name: format!("Customer {i}"),
                email: Some(format!("billing+{i}@example.com")),
                timezone: Some(zones[i % zones.len()].into()),
                plan_id: if distinct {
                    distinct_ids[i].clone()
                } else {
                    plans[i % plans.len()].into()
                },
                plan_since: None,
            }
            .check()
            .unwrap()
        })
        .collect();
    add_customers(&mut c, &list, now).unwrap();
    let inc = IncidentInput {
        id: "INC-1".into(),
        title: "Primary database unavailable".into(),
        kind: None,
        started_at: "2026-01-14T09:00:00Z".into(),
        ended_at: Some("2026-01-14T10:30:00Z".into()),
        impact: None,
        summary: None,
        scope: None,
    }
    .check()
    .unwrap();
    add_incident(&mut c, &inc, now).unwrap();
}

fn fresh(n: usize) -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("bench.db").display());
    let store = Store::open(&url).unwrap();
    seed(&store, n);
    (dir, store)
}

fn main() {
    let n: usize = std::env::var("STORE_BENCH_CUSTOMERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let runs = 3;
    let mut settle_rates = Vec::new();
    let mut single_rates = Vec::new();
    let mut multi_rates = Vec::new();
    let mut bare_rates = Vec::new();
    for run in 0..runs {
        // Settlement, end to end: read customers and booked sums, compute, append.
        let (_d1, s1) = fresh(n);
        let mut c1 = s1.conn().unwrap();
        let mut opts = SettleOptions::new(parse_instant("2026-06-01T00:00:00Z").unwrap());
        opts.keep_lines = false;
        let t = Instant::now();
        let report = settle_incident(&mut c1, "INC-1", &opts).unwrap();
        let secs = t.elapsed().as_secs_f64();
        assert_eq!(report.entries_appended, n);
        settle_rates.push(n as f64 / secs);

        let rows: Vec<NewEntryRow> = ledger_entries::table
            .select((
                EntryRow::as_select(),
                ledger_entries::customer_name,
                ledger_entries::settlement_id,
            ))
            .load::<(EntryRow, Option<String>, Option<i64>)>(&mut c1)
            .unwrap()
            .into_iter()
            .map(|(entry, customer_name, settlement_id)| NewEntryRow {
                entry,
                customer_name,
                settlement_id,
            })
            .collect();
        let breakdowns: Vec<BreakdownRow> = credit_breakdowns::table
            .select(BreakdownRow::as_select())
            .load(&mut c1)
            .unwrap();

        // Ceiling (a): one prepared INSERT (diesel caches it), executed once per row.
        let (_d2, s2) = fresh(n);
        let mut c2 = s2.conn().unwrap();
        write_tx(&mut c2, |c| {
            diesel::insert_into(credit_breakdowns::table)
                .values(&breakdowns)
                .execute(c)?;
            Ok(())
        })
        .unwrap();
        let t = Instant::now();
        write_tx(&mut c2, |c| {
            for r in &rows {
                diesel::insert_into(ledger_entries::table)
                    .values(r)
                    .execute(c)?;
            }
            Ok(())
        })
        .unwrap();
        single_rates.push(n as f64 / t.elapsed().as_secs_f64());

        // Ceiling (b): multi-row INSERTs of the same rows.
        let (_d3, s3) = fresh(n);
        let mut c3 = s3.conn().unwrap();
        write_tx(&mut c3, |c| {
            diesel::insert_into(credit_breakdowns::table)
                .values(&breakdowns)
                .execute(c)?;
            Ok(())
        })
        .unwrap();
        let t = Instant::now();
        write_tx(&mut c3, |c| insert_entries(c, &rows)).unwrap();
        multi_rates.push(n as f64 / t.elapsed().as_secs_f64());

        // Ceiling (c): the same rows, prepared single-row INSERT, into a bare table.
        diesel::sql_query("CREATE TABLE bare_entries AS SELECT * FROM ledger_entries WHERE 0")
            .execute(&mut c3)
            .unwrap();
        let bare: Vec<BareRow> = rows.iter().map(|r| BareRow::from(&r.entry)).collect();
        let t = Instant::now();
        write_tx(&mut c3, |c| {
            for r in &bare {
                diesel::insert_into(bare_entries::table)
                    .values(r)
                    .execute(c)?;
            }
            Ok(())
        })
        .unwrap();
        bare_rates.push(n as f64 / t.elapsed().as_secs_f64());
        let width: usize =
            rows.iter().map(|r| row_bytes(&r.entry)).sum::<usize>() / rows.len().max(1);
        eprintln!(
            "run {run}: settle {:.0}/s, prepared single-row {:.0}/s, multi-row {:.0}/s, bare table {:.0}/s, ~{width} B/row",
            settle_rates[run], single_rates[run], multi_rates[run], bare_rates[run]
        );
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(|a, b| a.total_cmp(b));
        v[v.len() / 2]
    };
    let settle = median(&mut settle_rates);
    let single = median(&mut single_rates);
    let multi = median(&mut multi_rates);
    let bare = median(&mut bare_rates);
    let ceiling = single.max(multi);
    println!("customers: {n} (median of {runs} runs)");
    println!("settle one incident: {settle:.0} entries/s");
    println!("ceiling, prepared single-row INSERT, one transaction: {single:.0} rows/s");
    println!("ceiling, multi-row INSERT, one transaction: {multi:.0} rows/s");
    println!(
        "ceiling, prepared single-row INSERT into a bare table (no constraint, index or trigger): {bare:.0} rows/s"
    );
    println!(
        "ratio to the faster ceiling into the ledger table: {:.0}%",
        settle / ceiling * 100.0
    );
    println!(
        "ratio to the bare-table ceiling: {:.0}%",
        settle / bare * 100.0
    );
}

fn row_bytes(r: &EntryRow) -> usize {
    r.kind.len()
        + r.customer_id.len()
        + r.period.len()
        + 8 * 5
        + r.currency.len()
        + r.incident_ids.len()
        + r.reason.as_ref().map_or(0, String::len)
        + r.created_at.len()
        + r.created_by.len()
        + r.plan_id.as_ref().map_or(0, String::len)
        + r.rounding.as_ref().map_or(0, String::len)
        + r.explanation.len()
        + r.breakdown_sha256.as_ref().map_or(0, String::len)
        + r.as_of.as_ref().map_or(0, String::len)
        + r.tzdb_version.len()
        + r.engine_version.len()
}
