//! Balances are summed in Rust with exact decimals: 100,000 entries, checked against an
//! independent exact total (integer minor units summed as i128, formatted by hand).

use sla_credit::domain::{ENGINE_VERSION, TZDB_VERSION};
use sla_credit::store::entries::insert_entries;
use sla_credit::store::ledger::{balances, entries_for_customer};
use sla_credit::store::models::{EntryRow, NewEntryRow};
use sla_credit::store::sqlite::write_tx;

use crate::common::*;

/// `minor` as a decimal string with `dp` fraction digits, without any decimal type.
fn format_minor(minor: i128, dp: u32) -> String {
    let neg = minor < 0;
    let digits = minor.unsigned_abs().to_string();
    let dp = dp as usize;
    let padded = format!("{digits:0>width$}", width = dp + 1);
    let (int, frac) = padded.split_at(padded.len() - dp);
    let mut s = String::new();
    if neg {
        s.push('-');
    }
    s.push_str(int);
    if dp > 0 {
        s.push('.');
        s.push_str(frac);
    }
    s
}

#[test]
fn a_hundred_thousand_entries_sum_exactly() {
    let db = TestDb::new();
    let mut c = db.conn();
    add_plan(&mut c, "basic", "100.00", "USD", aws());
    add_customer(&mut c, "acme", "UTC", "basic");
    // Amounts up to ±10^15 in major units (10^17 USD minor units): far past f64's exact range,
    // and their sum past i64's. Three currencies with 2, 0 and 3 minor digits.
    let currencies = [("USD", 2u32), ("JPY", 0), ("KWD", 3)];
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut expected = [0i128; 3];
    let rows: Vec<NewEntryRow> = (0..100_000i64)
        .map(|i| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            let k = (state >> 33) as usize % 3;
            let (code, dp) = currencies[k];
            let bound = 10i64.pow(15 + dp);
            let mut amount = (state >> 1) as i64 % bound;
            if state & 1 == 1 {
                amount = -amount;
            }
            if amount == 0 {
                amount = 1;
            }
            expected[k] += i128::from(amount);
            let entry = EntryRow {
                id: i + 1,
                kind: "goodwill".into(),
                customer_id: "acme".into(),
                period: "2026-01".into(),
                amount_minor: amount,
                currency: code.into(),
                minor_units: i64::from(dp),
                incident_ids: "[]".into(),
                reason: Some("sum test".into()),
                created_at: "2026-06-01T00:00:00.000000000Z".into(),
                created_by: "test".into(),
                reverses: None,
                plan_id: None,
                policy_version: None,
                rounding: None,
                explanation: "seeded".into(),
                breakdown_sha256: None,
                as_of: None,
                tzdb_version: TZDB_VERSION.into(),
                engine_version: ENGINE_VERSION.into(),
            };
            NewEntryRow {
                entry,
                customer_name: None,
                settlement_id: None,
            }
        })
        .collect();
    // One transaction of multi-row inserts.
    write_tx(&mut c, |c| insert_entries(c, &rows)).unwrap();

    let entries = entries_for_customer(&mut c, "acme").unwrap();
    assert_eq!(entries.len(), 100_000);
    let got = balances(&entries).unwrap();
    let mut want: Vec<(String, String)> = currencies
        .iter()
        .zip(expected)
        .map(|((code, dp), total)| (code.to_string(), format_minor(total, *dp)))
        .collect();
    want.sort();
    let got: Vec<(String, String)> = got
        .iter()
        .map(|b| (b.currency.clone(), b.total.clone()))
        .collect();
    assert_eq!(got, want);
    // The totals really are beyond i64 minor units.
    assert!(expected
        .iter()
        .any(|t| t.unsigned_abs() > i64::MAX as u128 / 1000));
}
