//! Incident-wide restitution through the HTTP API (docs/restitution.md): settling an incident
//! for every customer, recorded settlements and their lines, presets, and the follow-up
//! notice. Every expected figure is worked by hand from docs/rules.md beside its assertion.

use diesel::prelude::*;
use diesel::sql_types::Text;
use serde_json::Value;

use crate::{spawn_app, TestApp};

#[derive(QueryableByName)]
struct One {
    #[diesel(sql_type = Text)]
    v: String,
}

/// A logical dump of every table (each row quoted, rows sorted): what a dry run
/// must leave as it is. The file alone would not do: WAL mode may not have touched it yet.
fn dump(app: &TestApp) -> String {
    let path = app.db.trim_start_matches("sqlite://");
    let mut c = SqliteConnection::establish(path).unwrap();
    let tables: Vec<One> = diesel::sql_query(
        "SELECT name AS v FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' \
         ORDER BY name",
    )
    .load(&mut c)
    .unwrap();
    let mut out = String::new();
    for t in tables {
        let cols: Vec<One> = diesel::sql_query(format!(
            "SELECT name AS v FROM pragma_table_info('{}') ORDER BY cid",
            t.v
        ))
        .load(&mut c)
        .unwrap();
        let row = cols
            .iter()
            .map(|c| format!("quote(\"{}\")", c.v))
            .collect::<Vec<_>>()
            .join(" || ',' || ");
        let rows: Vec<One> =
            diesel::sql_query(format!("SELECT {row} AS v FROM \"{}\" ORDER BY 1", t.v))
                .load(&mut c)
                .unwrap();
        out.push_str(&format!("== {}\n", t.v));
        for r in rows {
            out.push_str(&r.v);
            out.push('\n');
        }
    }
    // Settlements append without per-row foreign-key lookups: every key must still resolve.
    let broken: One =
        diesel::sql_query("SELECT CAST(count(*) AS TEXT) AS v FROM pragma_foreign_key_check")
            .get_result(&mut c)
            .unwrap();
    assert_eq!(broken.v, "0", "foreign keys that do not resolve");
    out
}

fn post(app: &TestApp, role: &str, path: &str, body: &str) -> crate::Answer {
    let t = app.token(role).to_string();
    app.call("POST", path, Some(&t), Some(body), &[])
}

fn get(app: &TestApp, role: &str, path: &str) -> crate::Answer {
    let t = app.token(role).to_string();
    app.call("GET", path, Some(&t), None, &[])
}

/// (customer, period, target, delta) of each line.
fn figures(v: &Value) -> Vec<(String, String, String, String)> {
    v["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["customer_id"].as_str().unwrap().to_string(),
                l["period"].as_str().unwrap().to_string(),
                l["target"].as_str().unwrap().to_string(),
                l["delta"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn line(c: &str, p: &str, target: &str, delta: &str) -> (String, String, String, String) {
    (c.into(), p.into(), target.into(), delta.into())
}

/// The Olark book: a USD 29.00 monthly plan on the `olark-2-days` preset and three customers
/// in Los Angeles, New York and Berlin; an outage from 21:06 PST on 30 November of `year` to
/// 11:00 PST on 1 December.
fn olark_book(app: &TestApp, year: i32) {
    let a = post(
        app,
        "admin",
        "/v1/plans",
        r#"{"id": "olark", "name": "Olark chat", "price": "29.00", "currency": "USD",
            "billing_cycle": "monthly", "policy": {"preset": "olark-2-days"}}"#,
    );
    assert_eq!(a.status, 201, "{}", a.body);
    for (id, zone) in [
        ("berlin", "Europe/Berlin"),
        ("la", "America/Los_Angeles"),
        ("ny", "America/New_York"),
    ] {
        let body = format!(
            r#"{{"id": "{id}", "name": "Customer {id}", "email": "{id}@example.test",
                "timezone": "{zone}", "plan_id": "olark", "plan_since": "2024-01-01T00:00:00Z"}}"#
        );
        let a = post(app, "admin", "/v1/customers", &body);
        assert_eq!(a.status, 201, "{}", a.body);
    }
    let body = format!(
        r#"{{"id": "chat-{year}", "title": "Chat service outage", "kind": "outage",
            "started_at": "{year}-11-30T21:06:00-08:00", "ended_at": "{year}-12-01T11:00:00-08:00",
            "summary": "A failed storage upgrade took the chat servers offline. We are adding a staged rollout with automatic rollback to every storage change."}}"#
    );
    let a = post(app, "admin", "/v1/incidents", &body);
    assert_eq!(a.status, 201, "{}", a.body);
}

/// The lines every Olark settlement finds, worked by hand (docs/rules.md §4, fixed days):
/// Los Angeles: the outage starts 21:06 on 30 November local, so November gets 2 days of its
/// 30: 29.00 × 2 ÷ 30 = 1.9333… → 1.93; December, merely crossed, gets no second grant: 0.00.
/// New York (00:06 EST on 1 December) and Berlin (06:06 CET on 1 December): December, 31 days:
/// 29.00 × 2 ÷ 31 = 1.8709… → 1.87.
fn olark_lines(year: i32, delta: bool) -> Vec<(String, String, String, String)> {
    let d = |x: &'static str| if delta { x } else { "0.00" };
    vec![
        line("berlin", &format!("{year}-12"), "1.87", d("1.87")),
        line("la", &format!("{year}-11"), "1.93", d("1.93")),
        line("la", &format!("{year}-12"), "0.00", "0.00"),
        line("ny", &format!("{year}-12"), "1.87", d("1.87")),
    ]
}

#[test]
fn the_olark_case_settles_each_customer_once_and_writes_each_a_notice() {
    // The outage of the case ends at 2026-12-01T19:00Z. A real settlement refuses an outage
    // that ends after its as_of (default now), so when the clock is before that instant the
    // 2026 case is only dry-run (and its real run is refused), and the same case one year
    // earlier (2025, whose November also has 30 days and December 31) is settled for real.
    let end_2026 = chrono::DateTime::parse_from_rfc3339("2026-12-01T19:00:00Z").unwrap();
    let year = if chrono::Utc::now() >= end_2026 {
        2026
    } else {
        2025
    };
    if year == 2025 {
        let app = spawn_app();
        olark_book(&app, 2026);
        let a = post(
            &app,
            "finance",
            "/v1/incidents/chat-2026/credits",
            r#"{"dry_run": false}"#,
        );
        let p = a.problem(409, "not-yet-ended");
        assert_eq!(p["errors"][0]["field"], "ended_at");
        let a = post(
            &app,
            "support",
            "/v1/incidents/chat-2026/credits",
            r#"{"dry_run": true, "as_of": "2026-12-01T19:00:00Z"}"#,
        );
        assert_eq!(a.status, 200, "{}", a.body);
        assert_eq!(figures(&a.json()), olark_lines(2026, true));
    }

    let app = spawn_app();
    olark_book(&app, year);
    let path = format!("/v1/incidents/chat-{year}/credits");

    // A dry run, by any role, writes nothing.
    let before = dump(&app);
    let dry = post(&app, "support", &path, r#"{"dry_run": true}"#);
    assert_eq!(dry.status, 200, "{}", dry.body);
    assert_eq!(dump(&app), before, "a dry run changed the database");
    let dry = dry.json();
    assert_eq!(dry["id"], Value::Null);
    assert_eq!(dry["dry_run"], true);
    assert_eq!(dry["customers"], 3);
    assert_eq!(dry["entries_appended"], 0);
    // 1.93 + 1.87 + 1.87 = 5.67
    assert_eq!(
        dry["totals"],
        serde_json::json!([{"currency": "USD", "amount": "5.67"}])
    );
    assert_eq!(figures(&dry), olark_lines(year, true));
    assert_eq!(dry["has_more"], false);

    // Its lines page with limit and after.
    let first = post(&app, "support", &path, r#"{"dry_run": true, "limit": 3}"#).json();
    assert_eq!(figures(&first), olark_lines(year, true)[..3].to_vec());
    assert_eq!(first["has_more"], true);
    let body = format!(
        r#"{{"dry_run": true, "limit": 3, "after": "{}"}}"#,
        first["next_after"].as_str().unwrap()
    );
    let rest = post(&app, "support", &path, &body).json();
    assert_eq!(figures(&rest), olark_lines(year, true)[3..].to_vec());
    assert_eq!(rest["has_more"], false);

    // Support may not settle for real.
    let a = post(&app, "support", &path, r#"{"dry_run": false}"#);
    a.problem(403, "forbidden");
    assert_eq!(dump(&app), before);

    // Finance settles: the same figures, recorded as a settlement.
    let real = post(&app, "finance", &path, r#"{"dry_run": false}"#);
    assert_eq!(real.status, 201, "{}", real.body);
    let real = real.json();
    let stl = real["id"].as_str().unwrap().to_string();
    assert!(stl.starts_with("stl_"));
    assert_eq!(real["dry_run"], false);
    assert_eq!(real["customers"], 3);
    assert_eq!(real["entries_appended"], 3);
    assert_eq!(real["totals"], dry["totals"]);
    assert_eq!(figures(&real), figures(&dry));
    let entries: Vec<(String, String)> = real["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["entry_id"].is_string())
        .map(|l| {
            (
                l["customer_id"].as_str().unwrap().to_string(),
                l["entry_id"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(entries.len(), 3, "one entry per customer: {entries:?}");

    // The recorded settlement and its lines.
    let s = get(&app, "support", &format!("/v1/settlements/{stl}")).json();
    assert_eq!(s["incident_id"], format!("chat-{year}"));
    assert_eq!(s["status"], "finished");
    assert_eq!(s["created_by"], "finance");
    assert_eq!(s["customers"], 3);
    assert_eq!(s["entries_appended"], 3);
    assert_eq!(s["totals"], dry["totals"]);
    let page = get(
        &app,
        "support",
        &format!("/v1/settlements/{stl}/lines?limit=2"),
    )
    .json();
    assert_eq!(figures(&page), olark_lines(year, true)[..2].to_vec());
    assert_eq!(page["has_more"], true);
    let after = page["next_after"].as_str().unwrap();
    let page = get(
        &app,
        "support",
        &format!("/v1/settlements/{stl}/lines?limit=2&after={after}"),
    )
    .json();
    assert_eq!(figures(&page), olark_lines(year, true)[2..].to_vec());
    assert_eq!(page["has_more"], false);

    // Each entry names its settlement and its exact amount.
    for (customer, entry) in &entries {
        let e = get(&app, "support", &format!("/v1/credits/{entry}")).json();
        assert_eq!(e["settlement_id"], stl.as_str());
        let amount = if customer == "la" { "1.93" } else { "1.87" };
        assert_eq!(e["amount"], amount, "{customer}");
    }

    // A second run appends nothing.
    let again = post(&app, "billing", &path, r#"{"dry_run": false}"#);
    assert_eq!(again.status, 201, "{}", again.body);
    let again = again.json();
    assert_eq!(again["entries_appended"], 0);
    assert_eq!(figures(&again), olark_lines(year, false));
    assert_ne!(again["id"], real["id"]);

    notices_name_the_amount_and_local_times(&app, year, &entries);
}

/// The notice of each customer's credit, in Markdown and HTML.
fn notices_name_the_amount_and_local_times(app: &TestApp, year: i32, entries: &[(String, String)]) {
    let next = year + 1;
    let _ = next;
    for (customer, entry) in entries {
        let a = get(app, "support", &format!("/v1/credits/{entry}/notice"));
        assert_eq!(a.status, 200, "{}", a.body);
        assert!(a
            .header("content-type")
            .unwrap()
            .starts_with("text/markdown"));
        let text = &a.body;
        // 21:06 PST = 05:06Z = 00:06 EST = 06:06 CET; 11:00 PST = 19:00Z = 14:00 EST = 20:00 CET.
        let (amount, start, end) = match customer.as_str() {
            "la" => ("1.93 USD", "21:06 PST (UTC-08:00)", "11:00 PST (UTC-08:00)"),
            "ny" => ("1.87 USD", "00:06 EST (UTC-05:00)", "14:00 EST (UTC-05:00)"),
            _ => ("1.87 USD", "06:06 CET (UTC+01:00)", "20:00 CET (UTC+01:00)"),
        };
        assert!(text.contains(amount), "{customer}: {text}");
        assert!(text.contains(start), "{customer}: {text}");
        assert!(text.contains(end), "{customer}: {text}");
        assert!(text.contains("2 days"), "{customer}: {text}");
        assert!(text.contains("next invoice"), "{customer}: {text}");
        assert!(text.contains("Chat service outage"), "{customer}: {text}");
        assert!(text.contains("staged rollout"), "{customer}: {text}");
        let t = app.token("support").to_string();
        let h = app.call(
            "GET",
            &format!("/v1/credits/{entry}/notice"),
            Some(&t),
            None,
            &[("Accept", "text/html")],
        );
        assert_eq!(h.status, 200, "{}", h.body);
        assert!(h.header("content-type").unwrap().starts_with("text/html"));
        assert!(h.body.contains(amount), "{}", h.body);
        assert!(h.body.contains("<p>"), "{}", h.body);
    }
}

#[test]
fn tiers_are_not_additive_two_short_incidents_owe_the_ten_percent_once() {
    let app = spawn_app();
    let a = post(
        &app,
        "admin",
        "/v1/plans",
        r#"{"id": "ec2", "name": "EC2", "price": "100.00", "currency": "USD",
            "billing_cycle": "monthly", "policy": {"preset": "aws-ec2-region"}}"#,
    );
    assert_eq!(a.status, 201, "{}", a.body);
    let a = post(
        &app,
        "admin",
        "/v1/customers",
        r#"{"id": "shop", "name": "Shop", "timezone": "America/New_York", "plan_id": "ec2",
            "plan_since": "2026-01-01T00:00:00Z"}"#,
    );
    assert_eq!(a.status, 201, "{}", a.body);
    let incident = |id: &str, day: u32| {
        format!(
            r#"{{"id": "{id}", "title": "API errors", "started_at": "2026-09-{day}T10:00:00Z",
                "ended_at": "2026-09-{day}T10:03:00Z"}}"#
        )
    };
    // September 2026 in UTC (the preset measures in UTC): 30 days = 2,592,000 s.
    // One 3-minute incident: uptime (2,592,000 − 180) ÷ 2,592,000 = 99.99305…% ≥ 99.99: 0.
    assert_eq!(
        post(&app, "admin", "/v1/incidents", &incident("a", 10)).status,
        201
    );
    let first = post(
        &app,
        "finance",
        "/v1/incidents/a/credits",
        r#"{"dry_run": false}"#,
    )
    .json();
    assert_eq!(
        figures(&first),
        vec![line("shop", "2026-09", "0.00", "0.00")]
    );
    assert_eq!(first["entries_appended"], 0);
    // A second one: (2,592,000 − 360) ÷ 2,592,000 = 99.98611…% in [99.0, 99.99): 10% of
    // 100.00 = 10.00, all of it new.
    assert_eq!(
        post(&app, "admin", "/v1/incidents", &incident("b", 20)).status,
        201
    );
    let second = post(
        &app,
        "finance",
        "/v1/incidents/b/credits",
        r#"{"dry_run": false}"#,
    )
    .json();
    assert_eq!(
        figures(&second),
        vec![line("shop", "2026-09", "10.00", "10.00")]
    );
    assert_eq!(second["entries_appended"], 1);
    // Settling the first again finds the period already at its target: not 10% twice.
    let again = post(
        &app,
        "finance",
        "/v1/incidents/a/credits",
        r#"{"dry_run": false}"#,
    )
    .json();
    assert_eq!(
        figures(&again),
        vec![line("shop", "2026-09", "10.00", "0.00")]
    );
    assert_eq!(again["entries_appended"], 0);
    let credits = get(&app, "support", "/v1/customers/shop/credits").json();
    assert_eq!(credits["balances"][0]["total"], "10.00");
}

#[test]
fn bad_settlement_requests_name_the_field_and_write_nothing() {
    let app = spawn_app();
    app.seed();
    let a = post(
        &app,
        "admin",
        "/v1/incidents",
        r#"{"id": "open", "title": "Ongoing", "started_at": "2026-01-10T00:00:00Z"}"#,
    );
    assert_eq!(a.status, 201, "{}", a.body);
    let before = dump(&app);
    let p = post(
        &app,
        "admin",
        "/v1/incidents/open/credits",
        r#"{"dry_run": false, "limit": 0}"#,
    )
    .problem(422, "validation");
    assert_eq!(p["errors"][0]["field"], "limit");
    let p = post(
        &app,
        "admin",
        "/v1/incidents/open/credits",
        r#"{"dry_run": false, "as_of": "2099-01-01T00:00:00Z"}"#,
    )
    .problem(422, "validation");
    assert_eq!(p["errors"][0]["field"], "as_of");
    let p = post(
        &app,
        "admin",
        "/v1/incidents/open/credits",
        r#"{"dry_run": true, "colour": 1}"#,
    )
    .problem(422, "validation");
    assert_eq!(p["errors"][0]["field"], "colour");
    // An ongoing incident can be dry-run as of an instant, not settled.
    post(
        &app,
        "admin",
        "/v1/incidents/open/credits",
        r#"{"dry_run": false}"#,
    )
    .problem(409, "not-yet-ended");
    let a = post(
        &app,
        "support",
        "/v1/incidents/open/credits",
        r#"{"dry_run": true, "as_of": "2026-01-10T01:00:00Z"}"#,
    );
    assert_eq!(a.status, 200, "{}", a.body);
    // 1 hour of a 31-day January at 100.00 × 1: 100.00 × 3,600 ÷ 2,678,400 = 0.1344… → 0.13.
    assert_eq!(
        figures(&a.json()),
        vec![line("acme", "2026-01", "0.13", "0.13")]
    );
    post(
        &app,
        "admin",
        "/v1/incidents/nope/credits",
        r#"{"dry_run": true}"#,
    )
    .problem(404, "not-found");
    assert_eq!(dump(&app), before);
    get(&app, "support", "/v1/settlements/stl_9").problem(404, "not-found");
    get(&app, "support", "/v1/settlements/x").problem(404, "not-found");
}

#[test]
fn the_presets_are_listed_with_their_sources() {
    let app = spawn_app();
    let v = get(&app, "support", "/v1/policy-presets").json();
    let names: Vec<&str> = v["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "aws-ec2-region",
            "azure-vm",
            "atlassian",
            "mongodb-atlas",
            "slack-10x",
            "olark-2-days"
        ]
    );
    for p in v["data"].as_array().unwrap() {
        assert!(p["source"].as_str().unwrap().contains("https://"), "{p}");
        assert!(p["policy"]["rule"].is_object(), "{p}");
    }
    assert_eq!(v["data"][0]["policy"]["timezone"], "UTC");
}

#[test]
fn a_lowered_credit_is_netted_and_never_written_to_the_customer_as_negative() {
    let app = spawn_app();
    app.seed();
    // 2 h of downtime in a UTC January on 100.00 × 1: 100 × 7,200 ÷ 2,678,400 = 0.2688… → 0.27.
    let a = post(
        &app,
        "admin",
        "/v1/incidents",
        r#"{"id": "INC-9", "title": "API outage", "started_at": "2026-01-10T00:00:00Z",
            "ended_at": "2026-01-10T02:00:00Z", "summary": "A bad deploy. We added a canary."}"#,
    );
    assert_eq!(a.status, 201, "{}", a.body);
    let a = post(
        &app,
        "admin",
        "/v1/incidents/INC-9/credits",
        r#"{"dry_run": false}"#,
    );
    assert_eq!(a.status, 201, "{}", a.body);
    assert_eq!(a.json()["totals"][0]["amount"], "0.27");
    let first = a.json()["data"][0]["entry_id"]
        .as_str()
        .unwrap()
        .to_string();
    // Shortened to 1 h: 100 × 3,600 ÷ 2,678,400 = 0.1344… → 0.13; the delta is −0.14.
    let a = app.admin(
        "PATCH",
        "/v1/incidents/INC-9",
        Some(r#"{"ended_at": "2026-01-10T01:00:00Z"}"#),
    );
    assert_eq!(a.status, 200, "{}", a.body);
    let a = post(
        &app,
        "admin",
        "/v1/incidents/INC-9/credits",
        r#"{"dry_run": false}"#,
    );
    assert_eq!(a.json()["data"][0]["delta"], "-0.14");
    let second = a.json()["data"][0]["entry_id"]
        .as_str()
        .unwrap()
        .to_string();
    // The correction has no letter of its own; the first entry's letter names its amount.
    get(&app, "support", &format!("/v1/credits/{second}/notice")).problem(409, "conflict");
    let n = get(&app, "support", &format!("/v1/credits/{first}/notice"));
    assert_eq!(n.status, 200, "{}", n.body);
    assert!(n.body.contains("0.27 USD"), "{}", n.body);
    assert!(!n.body.contains("-0."), "{}", n.body);
}
