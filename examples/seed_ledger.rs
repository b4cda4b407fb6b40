//! Seeds a database for the HTTP benchmark: CUSTOMERS customers on one plan, each with
//! ENTRIES_PER_CUSTOMER goodwill entries (multi-row INSERTs in one transaction).
//!
//! `cargo run --release --example seed_ledger -- DB_URL CUSTOMERS ENTRIES_PER_CUSTOMER`
#![allow(clippy::unwrap_used, clippy::expect_used)]

use sla_credit::domain::{ENGINE_VERSION, TZDB_VERSION};
use sla_credit::store::customers::add_customers;
use sla_credit::store::entries::insert_entries;
use sla_credit::store::models::{EntryRow, NewEntryRow};
use sla_credit::store::plans::add_plan;
use sla_credit::store::sqlite::write_tx;
use sla_credit::store::Store;
use sla_credit::wire::customers::CustomerInput;
use sla_credit::wire::plans::PlanInput;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let url = &args[1];
    let customers: usize = args[2].parse().unwrap();
    let per: usize = args[3].parse().unwrap();
    let store = Store::open(url).unwrap();
    let mut c = store.conn().unwrap();
    let plan = PlanInput {
        id: "basic".into(),
        name: "Basic".into(),
        price: serde_json::json!("100.00"),
        currency: "USD".into(),
        billing_cycle: "monthly".into(),
        annual_split: None,
        policy: serde_json::json!("aws-ec2-region"),
    }
    .check()
    .unwrap();
    add_plan(&mut c, &plan, 0).unwrap();
    let list: Vec<_> = (0..customers)
        .map(|i| {
            CustomerInput {
                id: format!("c{i:06}"),
                name: format!("Customer {i}"),
                email: Some(format!("ops{i}@example.test")),
                timezone: Some("America/Los_Angeles".into()),
                plan_id: "basic".into(),
                plan_since: None,
            }
            .check()
            .unwrap()
        })
        .collect();
    add_customers(&mut c, &list, 0).unwrap();
    let mut id = 1i64;
    write_tx(&mut c, |c| {
        let mut rows = Vec::with_capacity(10_000);
        for k in 0..per {
            for i in 0..customers {
                let entry = EntryRow {
                    id,
                    kind: "goodwill".into(),
                    customer_id: format!("c{i:06}"),
                    period: format!("2026-{:02}", 1 + k % 12),
                    amount_minor: 100 + i64::try_from(k).unwrap(),
                    currency: "USD".into(),
                    minor_units: 2,
                    incident_ids: "[]".into(),
                    reason: Some("Sorry for the outage".into()),
                    created_at: format!("2026-06-01T00:00:{:02}.{:09}Z", k % 60, i),
                    created_by: "seed".into(),
                    reverses: None,
                    plan_id: Some("basic".into()),
                    policy_version: Some(1),
                    rounding: Some("half_up".into()),
                    explanation: "Goodwill: 1.00 USD".into(),
                    breakdown_sha256: None,
                    as_of: None,
                    tzdb_version: TZDB_VERSION.into(),
                    engine_version: ENGINE_VERSION.into(),
                };
                rows.push(NewEntryRow {
                    entry,
                    customer_name: Some(format!("Customer {i}")),
                    settlement_id: None,
                });
                id += 1;
                if rows.len() == 10_000 {
                    insert_entries(c, &rows)?;
                    rows.clear();
                }
            }
        }
        insert_entries(c, &rows)
    })
    .unwrap();
    println!("seeded {customers} customers, {} entries", id - 1);
}
