//! Settlement deltas (docs/rules.md §6), each expected figure worked by hand in the comments.
//!
//! Unless a test says otherwise: plan `basic` is 100.00 USD monthly under the Amazon EC2 tiers
//! ([99.0, 99.99) → 10%, [95.0, 99.0) → 30%, [0, 95.0) → 100% of the month's fee), the customer
//! is in UTC, and January 2026 has 31 × 86,400 = 2,678,400 s. 1% of it is 26,784 s (7 h 26 min
//! 24 s) and 0.01% is 267.84 s.

use sla_credit::store::customers::change_plan;
use sla_credit::store::incidents;
use sla_credit::store::ledger::{goodwill, reverse};
use sla_credit::wire::credits::GoodwillInput;
use sla_credit::wire::incidents::{CheckedPatch, IncidentInput};
use sla_credit::wire::Error as StoreError;

use crate::common::*;

fn s(x: &str) -> String {
    x.to_string()
}

fn setup() -> TestDb {
    let db = TestDb::new();
    let mut c = db.conn();
    add_plan(&mut c, "basic", "100.00", "USD", aws());
    add_customer(&mut c, "acme", "UTC", "basic");
    db
}

fn end_at(c: &mut sla_credit::store::Conn, id: &str, end: &str) {
    let patch = CheckedPatch {
        ended_at: Some(t(end)),
        ..CheckedPatch::default()
    };
    incidents::update_incident(c, id, &patch, now()).expect("update incident");
}

#[test]
fn first_settlement_then_a_second_incident_appends_the_tier_difference() {
    let db = setup();
    let mut c = db.conn();
    // A: 1 h = 3,600 s. U = (2,678,400 − 3,600) / 2,678,400 = 99.866% → 10% × 100.00 = 10.00.
    add_january_hour(&mut c, "A");
    let r = settle(&mut c, "A");
    assert_eq!(r.entries_appended, 1);
    assert_eq!(amounts(&mut c, "acme"), vec![(s("2026-01"), s("10.00"))]);

    // Re-settling unchanged inputs appends nothing.
    assert_eq!(settle(&mut c, "A").entries_appended, 0);

    // B: 8 h = 28,800 s in the same month. Together 32,400 s > 26,784 s:
    // U = 2,646,000 / 2,678,400 = 98.790% → 30% × 100.00 = 30.00. Booked 10.00, so the delta
    // is 20.00 — the tier difference, not a second full credit of 30.00.
    add_incident(
        &mut c,
        "B",
        "outage",
        "2026-01-20T00:00:00Z",
        Some("2026-01-20T08:00:00Z"),
    );
    let r = settle(&mut c, "B");
    assert_eq!(r.entries_appended, 1);
    assert_eq!(
        amounts(&mut c, "acme"),
        vec![(s("2026-01"), s("10.00")), (s("2026-01"), s("20.00"))]
    );
    assert_eq!(balance(&mut c, "acme"), "30.00");
    // Settling through either incident again, or the period directly: nothing new.
    assert_eq!(settle(&mut c, "A").entries_appended, 0);
    assert_eq!(settle(&mut c, "B").entries_appended, 0);
    assert_eq!(settle_period(&mut c, "acme", "2026-01").entries_appended, 0);
}

#[test]
fn two_short_incidents_owe_a_credit_neither_owes_alone() {
    let db = setup();
    let mut c = db.conn();
    // One 3-minute incident: 180 s < 267.84 s, U = 99.9933% ≥ 99.99: in no tier → 0.00,
    // and a zero delta appends nothing.
    add_incident(
        &mut c,
        "A",
        "outage",
        "2026-01-05T10:00:00Z",
        Some("2026-01-05T10:03:00Z"),
    );
    assert_eq!(settle(&mut c, "A").entries_appended, 0);
    // Two: 360 s > 267.84 s, U = 99.98656% → 10% × 100.00 = 10.00.
    add_incident(
        &mut c,
        "B",
        "outage",
        "2026-01-25T10:00:00Z",
        Some("2026-01-25T10:03:00Z"),
    );
    settle(&mut c, "B");
    assert_eq!(amounts(&mut c, "acme"), vec![(s("2026-01"), s("10.00"))]);
}

#[test]
fn an_extended_incident_appends_the_difference() {
    let db = setup();
    let mut c = db.conn();
    // Ongoing since 2026-01-10T00:00Z, settled as of 05:00: 18,000 s,
    // U = 2,660,400 / 2,678,400 = 99.328% → 10.00.
    add_incident(&mut c, "A", "outage", "2026-01-10T00:00:00Z", None);
    let mut o = opts();
    o.as_of = t("2026-01-10T05:00:00Z");
    // An ongoing outage is not settled for real; a dry run shows it as of 05:00.
    assert!(matches!(
        sla_credit::store::settle::settle_incident(&mut c, "A", &o),
        Err(StoreError::Conflict { .. })
    ));
    // A settlement that fails gives the connection its settings back too.
    assert_keys_hold(&mut c);
    o.dry_run = true;
    let dry = sla_credit::store::settle::settle_incident(&mut c, "A", &o).unwrap();
    assert_eq!(dry.entries_appended, 0);
    assert_eq!(dry.totals[0].amount, "10.00");
    end_at(&mut c, "A", "2026-01-10T05:00:00Z");
    settle(&mut c, "A");
    assert_eq!(amounts(&mut c, "acme"), vec![(s("2026-01"), s("10.00"))]);
    // It ends at 09:00: 32,400 s, U = 98.790% → 30.00; delta 30.00 − 10.00 = 20.00.
    end_at(&mut c, "A", "2026-01-10T09:00:00Z");
    settle(&mut c, "A");
    // Extended again to 11:00: 39,600 s, U = 98.522%: still 30% → delta 0, nothing appended.
    end_at(&mut c, "A", "2026-01-10T11:00:00Z");
    assert_eq!(settle(&mut c, "A").entries_appended, 0);
    assert_eq!(
        amounts(&mut c, "acme"),
        vec![(s("2026-01"), s("10.00")), (s("2026-01"), s("20.00"))]
    );
    assert_eq!(balance(&mut c, "acme"), "30.00");
}

#[test]
fn a_shortened_incident_appends_a_negative_delta() {
    let db = setup();
    let mut c = db.conn();
    // 00:00–09:00 = 32,400 s → 30.00 (as above).
    add_incident(
        &mut c,
        "A",
        "outage",
        "2026-01-10T00:00:00Z",
        Some("2026-01-10T09:00:00Z"),
    );
    settle(&mut c, "A");
    // Corrected to end at 05:00: 18,000 s → 10.00; delta 10.00 − 30.00 = −20.00.
    end_at(&mut c, "A", "2026-01-10T05:00:00Z");
    settle(&mut c, "A");
    assert_eq!(
        amounts(&mut c, "acme"),
        vec![(s("2026-01"), s("30.00")), (s("2026-01"), s("-20.00"))]
    );
    assert_eq!(balance(&mut c, "acme"), "10.00");
}

#[test]
fn a_shortened_incident_gives_back_a_month_it_no_longer_touches() {
    let db = setup();
    let mut c = db.conn();
    // 2026-01-31T20:00Z – 2026-02-01T06:00Z. January: 4 h = 14,400 s, U = 99.462% → 10.00.
    // February (28 days, 2,419,200 s): 6 h = 21,600 s, U = 99.107% → 10.00.
    add_incident(
        &mut c,
        "A",
        "outage",
        "2026-01-31T20:00:00Z",
        Some("2026-02-01T06:00:00Z"),
    );
    settle(&mut c, "A");
    assert_eq!(
        amounts(&mut c, "acme"),
        vec![(s("2026-01"), s("10.00")), (s("2026-02"), s("10.00"))]
    );
    // Shortened to end 2026-01-31T23:00Z: January 3 h = 10,800 s, U = 99.597% → still 10.00;
    // February has no downtime left → target 0.00, delta −10.00.
    end_at(&mut c, "A", "2026-01-31T23:00:00Z");
    let r = settle(&mut c, "A");
    assert_eq!(r.entries_appended, 1);
    assert_eq!(
        amounts(&mut c, "acme"),
        vec![
            (s("2026-01"), s("10.00")),
            (s("2026-02"), s("10.00")),
            (s("2026-02"), s("-10.00"))
        ]
    );
}

#[test]
fn maintenance_added_later_lowers_the_target() {
    let db = setup();
    let mut c = db.conn();
    // 00:00–09:00 → 30.00.
    add_incident(
        &mut c,
        "A",
        "outage",
        "2026-01-10T00:00:00Z",
        Some("2026-01-10T09:00:00Z"),
    );
    settle(&mut c, "A");
    // Maintenance 00:00–05:00 is excluded: 4 h = 14,400 s counted, U = 99.462% → 10.00;
    // settling the maintenance incident appends −20.00.
    add_incident(
        &mut c,
        "M",
        "maintenance",
        "2026-01-10T00:00:00Z",
        Some("2026-01-10T05:00:00Z"),
    );
    settle(&mut c, "M");
    assert_eq!(
        amounts(&mut c, "acme"),
        vec![(s("2026-01"), s("30.00")), (s("2026-01"), s("-20.00"))]
    );
}

#[test]
fn a_reversed_credit_stays_reversed_on_resettlement() {
    let db = setup();
    let mut c = db.conn();
    // 1 h → 10.00.
    add_january_hour(&mut c, "A");
    settle(&mut c, "A");
    let first = entries(&mut c, "acme")[0].id;
    let rev = reverse(
        &mut c,
        first,
        "customer churned; credit not owed",
        "finance",
        now(),
    )
    .unwrap();
    assert_eq!(rev.currency.format(rev.amount), "-10.00");
    assert_eq!(rev.reverses, Some(first));
    assert_eq!(balance(&mut c, "acme"), "0.00");
    // Re-settling: target 10.00, booked sla_credit 10.00 (reversals are outside the sum) →
    // nothing appended; the credit stays reversed.
    assert_eq!(settle(&mut c, "A").entries_appended, 0);
    assert_eq!(balance(&mut c, "acme"), "0.00");
    // Extended to 09:00: target 30.00 − booked 10.00 → +20.00; balance 0.00 + 20.00.
    end_at(&mut c, "A", "2026-01-10T09:00:00Z");
    settle(&mut c, "A");
    assert_eq!(balance(&mut c, "acme"), "20.00");
    // An entry is reversed once; a reversal is not reversed.
    assert!(matches!(
        reverse(&mut c, first, "again", "finance", now()),
        Err(StoreError::Conflict { .. })
    ));
    assert!(matches!(
        reverse(&mut c, rev.id, "undo", "finance", now()),
        Err(StoreError::Conflict { .. })
    ));
}

/// small: 31.00 USD/month, EC2 tiers (10%). large: 62.00 USD/month, 50% below 99.99. `acme`
/// starts on small, in UTC.
fn small_and_large() -> TestDb {
    let db = TestDb::new();
    let mut c = db.conn();
    add_plan(&mut c, "small", "31.00", "USD", aws());
    add_plan(
        &mut c,
        "large",
        "62.00",
        "USD",
        serde_json::json!({"rule": {"kind": "uptime_tiers", "tiers": [
            {"uptime": "[0, 99.99)", "credit_percent": "50"}]}}),
    );
    add_customer(&mut c, "acme", "UTC", "small");
    db
}

#[test]
fn a_plan_change_mid_month_splits_the_fee_and_keeps_the_period_start_policy() {
    let db = small_and_large();
    let mut c = db.conn();
    change_plan(&mut c, "acme", "large", t("2026-01-16T00:00:00Z"), now()).unwrap();
    // January fee: 15 days at 31.00/31 d = 15.00, plus 16 days at 62.00/31 d = 32.00 → 47.00.
    // The policy in force at the period's start (Jan 1, plan small) decides: 1 h of downtime,
    // U = 99.866% → 10% × 47.00 = 4.70 (not 50% × 47.00 = 23.50).
    add_incident(
        &mut c,
        "A",
        "outage",
        "2026-01-20T00:00:00Z",
        Some("2026-01-20T01:00:00Z"),
    );
    settle(&mut c, "A");
    assert_eq!(amounts(&mut c, "acme"), vec![(s("2026-01"), s("4.70"))]);
    // February is all large: fee 62.00, 1 h in 2,419,200 s → 99.851% → 50% → 31.00.
    add_incident(
        &mut c,
        "B",
        "outage",
        "2026-02-10T00:00:00Z",
        Some("2026-02-10T01:00:00Z"),
    );
    settle(&mut c, "B");
    assert_eq!(
        amounts(&mut c, "acme"),
        vec![(s("2026-01"), s("4.70")), (s("2026-02"), s("31.00"))]
    );
}

#[test]
fn los_angeles_and_tokyo_settle_the_same_incident_in_different_months() {
    let db = TestDb::new();
    let mut c = db.conn();
    // Slack-style: 10 × the fee paid during downtime, below 99.99%.
    add_plan(
        &mut c,
        "team",
        "100.00",
        "USD",
        serde_json::json!("slack-10x"),
    );
    add_customer(&mut c, "la", "America/Los_Angeles", "team");
    add_customer(&mut c, "tokyo", "Asia/Tokyo", "team");
    // 2026-01-31T20:00Z – 22:00Z, 7,200 s.
    add_incident(
        &mut c,
        "A",
        "outage",
        "2026-01-31T20:00:00Z",
        Some("2026-01-31T22:00:00Z"),
    );
    settle(&mut c, "A");
    // Los Angeles (UTC−8): Jan 31 12:00–14:00 local → 2026-01, a 2,678,400 s month:
    // 100.00 × 7,200 / 2,678,400 × 10 = 2.688… → 2.69.
    assert_eq!(amounts(&mut c, "la"), vec![(s("2026-01"), s("2.69"))]);
    // Tokyo (UTC+9): Feb 1 05:00–07:00 local → 2026-02, 28 days = 2,419,200 s:
    // 100.00 × 7,200 / 2,419,200 × 10 = 2.976… → 2.98.
    assert_eq!(amounts(&mut c, "tokyo"), vec![(s("2026-02"), s("2.98"))]);
}

#[test]
fn goodwill_does_not_change_the_next_settlement() {
    let db = setup();
    let mut c = db.conn();
    add_january_hour(&mut c, "A");
    settle(&mut c, "A"); // 10.00
                         // Two days of January's fee: 2 × 100.00 / 31 = 6.451… → 6.45.
    let g = goodwill(
        &mut c,
        &GoodwillInput {
            days: Some(serde_json::json!(2)),
            reason: "sorry for the trouble".into(),
            period: Some("2026-01".into()),
            ..GoodwillInput::default()
        }
        .check("acme")
        .unwrap(),
        "support",
        now(),
    )
    .unwrap();
    assert_eq!(g.currency.format(g.amount), "6.45");
    // Unchanged inputs: nothing, although the balance (16.45) now exceeds the target.
    assert_eq!(settle(&mut c, "A").entries_appended, 0);
    // B pushes January to 30.00: the delta is 30.00 − 10.00 (sla_credit only) = 20.00.
    add_incident(
        &mut c,
        "B",
        "outage",
        "2026-01-20T00:00:00Z",
        Some("2026-01-20T08:00:00Z"),
    );
    settle(&mut c, "B");
    // 10.00 + 6.45 + 20.00 = 36.45.
    assert_eq!(balance(&mut c, "acme"), "36.45");
    // An amount goodwill: 5.00.
    let g2 = goodwill(
        &mut c,
        &GoodwillInput {
            amount: Some(serde_json::json!("5.00")),
            currency: Some("USD".into()),
            reason: "gesture".into(),
            period: Some("2026-01".into()),
            ..GoodwillInput::default()
        }
        .check("acme")
        .unwrap(),
        "support",
        now(),
    )
    .unwrap();
    assert_eq!(g2.currency.format(g2.amount), "5.00");
    assert_eq!(settle(&mut c, "B").entries_appended, 0);
    assert_eq!(balance(&mut c, "acme"), "41.45");
}

#[test]
fn an_incident_scoped_to_plans_settles_only_their_customers() {
    let db = TestDb::new();
    let mut c = db.conn();
    add_plan(&mut c, "basic", "100.00", "USD", aws());
    add_plan(&mut c, "other", "100.00", "USD", aws());
    add_customer(&mut c, "in", "UTC", "basic");
    add_customer(&mut c, "out", "UTC", "other");
    let new = IncidentInput {
        id: "A".into(),
        title: "basic only".into(),
        kind: None,
        started_at: "2026-01-10T00:00:00Z".into(),
        ended_at: Some("2026-01-10T01:00:00Z".into()),
        impact: None,
        summary: None,
        scope: Some(serde_json::json!({"plans": ["basic"]})),
    }
    .check()
    .unwrap();
    incidents::add_incident(&mut c, &new, now()).unwrap();
    let r = settle(&mut c, "A");
    assert_eq!(r.customers, 1);
    assert_eq!(amounts(&mut c, "in"), vec![(s("2026-01"), s("10.00"))]);
    assert!(amounts(&mut c, "out").is_empty());
    // Settling "out"'s January directly sees no incident in its scope: target 0, nothing.
    assert_eq!(settle_period(&mut c, "out", "2026-01").entries_appended, 0);
}

/// A support page reads each entry's policy by its plan version (one read per distinct
/// version on the page): January's entry was settled under `small` (EC2 tiers), February's
/// under `large` (50 % below 99.99); the page's views are the entries' own views.
#[test]
fn a_support_page_shows_each_entry_the_policy_it_was_settled_under() {
    let db = small_and_large();
    let mut c = db.conn();
    change_plan(&mut c, "acme", "large", t("2026-02-01T00:00:00Z"), now()).unwrap();
    for (id, start, end) in [
        ("A", "2026-01-20T00:00:00Z", "2026-01-20T01:00:00Z"),
        ("B", "2026-02-10T00:00:00Z", "2026-02-10T01:00:00Z"),
    ] {
        add_incident(&mut c, id, "outage", start, Some(end));
        settle(&mut c, id);
    }
    let (_, page) = sla_credit::store::ledger::customer_page(&mut c, "acme", None, 10).unwrap();
    let tiers = |v: &sla_credit::wire::credits::EntryView| {
        let policy: serde_json::Value = serde_json::from_str(v.policy.get()).unwrap();
        policy["rule"]["tiers"][0]["credit_percent"].clone()
    };
    // Newest first: February (large, 50 %), then January (small, EC2's first tier 10 %).
    let seen: Vec<_> = page
        .iter()
        .map(|v| (v.period.clone(), v.plan_id.clone(), tiers(v)))
        .collect();
    assert_eq!(
        seen,
        vec![
            (s("2026-02"), Some(s("large")), serde_json::json!("50")),
            (s("2026-01"), Some(s("small")), serde_json::json!("10")),
        ]
    );
    let e = entries(&mut c, "acme");
    let own = sla_credit::store::ledger::entry_views(&mut c, &e).unwrap();
    let as_json = |v: &[sla_credit::wire::credits::EntryView]| serde_json::to_value(v).unwrap();
    assert_eq!(as_json(&page), as_json(&own));
}

#[test]
fn an_entry_keeps_its_breakdown_policy_and_versions() {
    let db = setup();
    let mut c = db.conn();
    add_january_hour(&mut c, "A");
    settle(&mut c, "A");
    let e = entries(&mut c, "acme");
    let v = sla_credit::store::ledger::entry_views(&mut c, &e).unwrap();
    let view = &v[0];
    assert_eq!(view.kind, "sla_credit");
    assert_eq!(view.incident_ids, vec!["A".to_string()]);
    assert_eq!(view.breakdown["credit"], "10.00");
    assert_eq!(view.breakdown["downtime_seconds"], "3600");
    let policy: serde_json::Value = serde_json::from_str(view.policy.get()).unwrap();
    assert_eq!(policy["rounding"], "half_up");
    assert_eq!(view.policy_version, Some(1));
    assert_eq!(view.tzdb_version, sla_credit::domain::TZDB_VERSION);
    assert_eq!(view.engine_version, sla_credit::domain::ENGINE_VERSION);
}

/// Batches of two: every batch after the first uses the customers the batch before it read
/// ahead on a second connection. Seven customers alternate between `basic` (100.00) and `pro`
/// (250.00 USD); one hour on 2026-01-10 is U = 99.866% → 10%: 10.00 and 25.00 each, once.
#[test]
fn small_batches_read_ahead_and_settle_every_customer_once() {
    let db = TestDb::new();
    let mut c = db.conn();
    add_plan(&mut c, "basic", "100.00", "USD", aws());
    add_plan(&mut c, "pro", "250.00", "USD", aws());
    for i in 0..7 {
        let plan = if i % 2 == 0 { "basic" } else { "pro" };
        add_customer(&mut c, &format!("c{i}"), "UTC", plan);
    }
    add_january_hour(&mut c, "A");
    let mut o = opts();
    o.batch_size = 2;
    let r = sla_credit::store::settle::settle_incident(&mut c, "A", &o).expect("settle");
    assert_eq!((r.customers, r.entries_appended), (7, 7));
    for i in 0..7 {
        let want = if i % 2 == 0 { "10.00" } else { "25.00" };
        assert_eq!(
            amounts(&mut c, &format!("c{i}")),
            vec![(s("2026-01"), s(want))]
        );
    }
    // 4 × 10.00 + 3 × 25.00 = 115.00.
    assert_eq!(r.totals.len(), 1);
    assert_eq!(r.totals[0].amount, "115.00");
    let again = sla_credit::store::settle::settle_incident(&mut c, "A", &o).expect("again");
    assert_eq!(again.entries_appended, 0);
    assert_keys_hold(&mut c);
}

/// What reading ahead relies on: a connection's data version changes when another connection
/// commits, and not when it commits itself.
#[test]
fn the_data_version_changes_for_other_connections_commits_only() {
    use sla_credit::store::sqlite::data_version;
    let db = setup();
    let mut a = db.conn();
    let mut b = db.conn();
    let v0 = data_version(&mut a).expect("version");
    add_customer(&mut a, "own", "UTC", "basic");
    assert_eq!(data_version(&mut a).expect("version"), v0);
    add_customer(&mut b, "other", "UTC", "basic");
    assert_ne!(data_version(&mut a).expect("version"), v0);
}
