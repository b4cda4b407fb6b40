//! What a new user hit on the first run: time that has not happened yet, databases that are
//! not ours, read-only commands that must not create files, and command-line values that look
//! like options. Every figure is worked by hand in the comments.

use std::time::{Duration, Instant};

use crate::cli::{bad, ok};
use crate::common::run_cli;

fn plan_and_customer(url: &str) {
    ok(
        url,
        &[
            "plans",
            "add",
            "--id",
            "basic",
            "--name",
            "Basic",
            "--price",
            "100.00",
            "--currency",
            "USD",
            "--billing-cycle",
            "monthly",
            "--policy",
            r#"{"rule": {"kind": "downtime_multiple", "multiplier": "1"}}"#,
        ],
    );
    ok(
        url,
        &[
            "customers",
            "add",
            "--id",
            "acme",
            "--name",
            "Acme",
            "--plan-id",
            "basic",
        ],
    );
}

fn db(dir: &tempfile::TempDir, name: &str) -> String {
    format!("sqlite://{}", dir.path().join(name).display())
}

#[test]
fn a_future_end_is_refused_for_real_and_dry_run_counts_only_elapsed_time() {
    let dir = tempfile::tempdir().unwrap();
    let url = db(&dir, "f.db");
    plan_and_customer(&url);
    // A typo'd year: the outage "ends" in 2099.
    ok(
        &url,
        &[
            "incidents",
            "add",
            "--id",
            "typo",
            "--title",
            "DB down",
            "--started-at",
            "2026-01-10T00:00:00Z",
            "--ended-at",
            "2099-01-10T01:00:00Z",
        ],
    );
    let err = bad(&url, &["settle", "--incident", "typo"]);
    assert!(err.starts_with("ended_at:"), "{err}");
    // Nothing was appended.
    let l = ok(&url, &["ledger", "--customer", "acme"]);
    assert_eq!(l["data"].as_array().unwrap().len(), 0);
    // As of 2026-01-10T06:00Z, 6 h = 21,600 s have passed in a 31-day UTC January
    // (2,678,400 s): 100.00 × 21,600 ÷ 2,678,400 × 1 = 0.80645… → 0.81. Only January is touched.
    let r = ok(
        &url,
        &[
            "settle",
            "--incident",
            "typo",
            "--dry-run",
            "--as-of",
            "2026-01-10T06:00:00Z",
        ],
    );
    assert_eq!(r["entries_appended"], 0);
    assert_eq!(r["dry_run"], true);
    assert_eq!(r["totals"][0]["amount"], "0.81");
    assert_eq!(r["data"].as_array().unwrap().len(), 1);
    assert_eq!(r["data"][0]["period"], "2026-01");
    assert_eq!(r["data"][0]["delta"], "0.81");
    assert_eq!(r["data"][0]["entry_id"], serde_json::Value::Null);
    // A real run may not look into the future either.
    let err = bad(
        &url,
        &[
            "settle",
            "--incident",
            "typo",
            "--as-of",
            "2099-02-01T00:00:00Z",
        ],
    );
    assert!(err.starts_with("as_of:"), "{err}");
}

#[test]
fn planned_maintenance_ahead_of_time_is_fine() {
    let dir = tempfile::tempdir().unwrap();
    let url = db(&dir, "m.db");
    plan_and_customer(&url);
    ok(
        &url,
        &[
            "incidents",
            "add",
            "--id",
            "out",
            "--title",
            "Outage",
            "--started-at",
            "2026-01-10T00:00:00Z",
            "--ended-at",
            "2026-01-10T02:00:00Z",
        ],
    );
    ok(
        &url,
        &[
            "incidents",
            "add",
            "--id",
            "mnt",
            "--kind",
            "maintenance",
            "--title",
            "Upgrade",
            "--started-at",
            "2026-01-10T01:00:00Z",
            "--ended-at",
            "2099-01-31T00:00:00Z",
        ],
    );
    // 2 h of outage, the second hour under maintenance: 3,600 s count.
    // 100.00 × 3,600 ÷ 2,678,400 = 0.1344… → 0.13.
    let r = ok(&url, &["settle", "--incident", "out"]);
    assert_eq!(r["entries_appended"], 1);
    assert_eq!(r["totals"][0]["amount"], "0.13");
}

#[test]
fn a_file_that_is_not_sqlite_fails_at_once_naming_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("garbage.db");
    std::fs::write(
        &path,
        b"this is not a database, just some text of some length",
    )
    .unwrap();
    let before = std::fs::read(&path).unwrap();
    let started = Instant::now();
    let err = bad(&path.display().to_string(), &["customers", "list"]);
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    assert!(err.contains(&path.display().to_string()), "{err}");
    assert!(err.starts_with("database:"), "{err}");
    // A writing command is refused the same way, and the file is left alone.
    let err = bad(
        &path.display().to_string(),
        &[
            "goodwill",
            "--customer",
            "acme",
            "--amount",
            "1.00",
            "--reason",
            "x",
        ],
    );
    assert!(err.contains("not a SQLite database"), "{err}");
    assert_eq!(std::fs::read(&path).unwrap(), before);
}

#[test]
fn read_only_commands_create_no_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("missing.db");
    let url = path.display().to_string();
    for args in [
        vec!["ledger", "--customer", "acme"],
        vec!["customers", "show", "--id", "acme"],
        vec!["plans", "list"],
        vec!["incidents", "list"],
    ] {
        let err = bad(&url, &args);
        assert!(err.contains(&url), "{args:?}: {err}");
        assert!(!path.exists(), "{args:?} created {url}");
    }
    // Nothing else appeared beside it either (no -wal, no -shm).
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn another_applications_database_is_refused_and_left_byte_identical() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("other.db");
    {
        use diesel::connection::SimpleConnection;
        use diesel::Connection;
        let mut c = diesel::SqliteConnection::establish(&path.display().to_string()).unwrap();
        c.batch_execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY, total TEXT); INSERT INTO invoices VALUES (1, '9.99');")
            .unwrap();
    }
    let before = std::fs::read(&path).unwrap();
    let url = format!("sqlite://{}", path.display());
    for args in [
        vec!["plans", "list"],
        vec![
            "plans",
            "add",
            "--id",
            "p",
            "--name",
            "P",
            "--price",
            "1.00",
            "--currency",
            "USD",
            "--billing-cycle",
            "monthly",
            "--policy",
            "atlassian",
        ],
    ] {
        let err = bad(&url, &args);
        assert!(err.contains("another application"), "{args:?}: {err}");
    }
    assert_eq!(std::fs::read(&path).unwrap(), before);
    let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().flatten().collect();
    assert_eq!(names.len(), 1, "no -wal or -shm file was created");
}

#[test]
fn url_options_are_refused_not_taken_as_a_file_name() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=ro", dir.path().join("x.db").display());
    let err = bad(&url, &["plans", "list"]);
    assert!(err.starts_with("database:"), "{err}");
    assert!(err.contains("mode=ro"), "{err}");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn negative_numbers_reach_the_validation_message() {
    let dir = tempfile::tempdir().unwrap();
    let url = db(&dir, "n.db");
    let err = bad(
        &url,
        &[
            "plans",
            "add",
            "--id",
            "p",
            "--name",
            "P",
            "--price",
            "-29.00",
            "--currency",
            "USD",
            "--billing-cycle",
            "monthly",
            "--policy",
            "atlassian",
        ],
    );
    assert!(err.contains("price: must not be negative"), "{err}");
    plan_and_customer(&url);
    let err = bad(
        &url,
        &[
            "goodwill",
            "--customer",
            "acme",
            "--amount",
            "-5",
            "--reason",
            "sorry",
        ],
    );
    assert!(err.contains("amount:"), "{err}");
    assert!(!err.contains("unexpected argument"), "{err}");
}

#[test]
fn an_update_that_changes_nothing_adds_no_version() {
    let dir = tempfile::tempdir().unwrap();
    let url = db(&dir, "u.db");
    plan_and_customer(&url);
    let err = bad(&url, &["plans", "update", "--id", "basic"]);
    assert!(err.contains("changes nothing"), "{err}");
    let err = bad(
        &url,
        &["plans", "update", "--id", "basic", "--price", "100.00"],
    );
    assert!(err.contains("changes nothing"), "{err}");
    let versions = ok(&url, &["plans", "show", "--id", "basic"]);
    assert_eq!(versions.as_array().unwrap().len(), 1);
    // A real change is a new version.
    ok(
        &url,
        &["plans", "update", "--id", "basic", "--price", "120.00"],
    );
    let versions = ok(&url, &["plans", "show", "--id", "basic"]);
    assert_eq!(versions.as_array().unwrap().len(), 2);
    assert_eq!(versions[1]["price"], "120.00");
}

#[test]
fn a_policy_argument_is_json_or_a_preset_name_and_errors_say_which() {
    let dir = tempfile::tempdir().unwrap();
    let url = db(&dir, "p.db");
    let base = [
        "plans",
        "add",
        "--id",
        "p",
        "--name",
        "P",
        "--price",
        "1.00",
        "--currency",
        "USD",
        "--billing-cycle",
        "monthly",
        "--policy",
    ];
    let with = |policy: &str| {
        let mut v: Vec<&str> = base.to_vec();
        v.push(policy);
        v.iter().map(|s| s.to_string()).collect::<Vec<_>>()
    };
    let args = with(r#"{"rule": {"kind": "downtime_multiple",}}"#);
    let err = bad(&url, &args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(err.starts_with("policy: is not valid JSON"), "{err}");
    assert!(err.contains("line 1 column"), "{err}");
    // An unknown preset is named, and the overrides' own problems are listed beside it.
    let args = with(r#"{"preset": "nope", "rounding": "sideways"}"#);
    let err = bad(&url, &args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(err.contains("policy.preset:"), "{err}");
    assert!(err.contains("rounding"), "{err}");
}

#[test]
fn a_dry_run_reports_nothing_appended_and_shows_the_deltas() {
    let dir = tempfile::tempdir().unwrap();
    let url = db(&dir, "d.db");
    plan_and_customer(&url);
    ok(
        &url,
        &[
            "incidents",
            "add",
            "--id",
            "A",
            "--title",
            "Outage",
            "--started-at",
            "2026-01-10T00:00:00Z",
            "--ended-at",
            "2026-01-10T01:00:00Z",
        ],
    );
    // 3,600 s of 2,678,400: 100.00 × 3,600 ÷ 2,678,400 = 0.1344… → 0.13.
    let r = ok(&url, &["settle", "--incident", "A", "--dry-run"]);
    assert_eq!(r["entries_appended"], 0);
    assert_eq!(r["data"][0]["delta"], "0.13");
    let l = ok(&url, &["ledger", "--customer", "acme"]);
    assert_eq!(l["data"].as_array().unwrap().len(), 0);
    let r = ok(&url, &["settle", "--incident", "A"]);
    assert_eq!(r["entries_appended"], 1);
    assert_eq!(r["data"][0]["entry_id"], "cre_1");
    // The compact ledger: amount, period, kind, explanation; instants also in the customer's zone.
    let l = ok(&url, &["ledger", "--customer", "acme"]);
    assert_eq!(l["data"][0]["amount"], "0.13");
    assert_eq!(l["data"][0]["kind"], "sla_credit");
    assert!(l["data"][0].get("breakdown").is_none());
    assert!(l["data"][0]["created_at_local"].is_string());
}

#[test]
fn instants_after_2100_are_refused_naming_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let url = db(&dir, "t.db");
    plan_and_customer(&url);
    let err = bad(
        &url,
        &[
            "incidents",
            "add",
            "--id",
            "far",
            "--title",
            "Far",
            "--started-at",
            "2150-01-01T00:00:00Z",
        ],
    );
    assert!(err.starts_with("started_at:"), "{err}");
    let err = bad(
        &url,
        &[
            "customers",
            "plan-change",
            "--id",
            "acme",
            "--plan-id",
            "basic",
            "--effective-at",
            "2150-07-01T00:00:00-04:00",
        ],
    );
    assert!(err.starts_with("effective_at:"), "{err}");
    // A quote in July 2150 (New York), refused on the outage's start.
    let quote = dir.path().join("q.json");
    std::fs::write(
        &quote,
        r#"{"currency": "USD", "timezone": "America/New_York",
            "plan": {"price": "100.00", "billing_cycle": "monthly"},
            "policy": {"rule": {"kind": "downtime_multiple"}},
            "outages": [{"start": "2150-07-01T12:00:00Z", "end": "2150-07-01T13:00:00Z"}]}"#,
    )
    .unwrap();
    let out = run_cli(&url, &["quote", &quote.display().to_string()]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("outages[0].start:"), "{err}");
    // The last accepted instant is 2100-01-01T00:00:00Z itself.
    ok(
        &url,
        &[
            "incidents",
            "add",
            "--id",
            "edge",
            "--title",
            "Edge",
            "--kind",
            "maintenance",
            "--started-at",
            "2099-12-31T23:00:00Z",
            "--ended-at",
            "2100-01-01T00:00:00Z",
        ],
    );
}

/// The bundled SQLite is built as `.cargo/config.toml` says (README, "The ledger"): a build
/// that lost those options would still pass every other test, only slower.
#[test]
fn sqlite_is_built_multi_threaded_without_shared_caches_or_memory_statistics() {
    use diesel::RunQueryDsl;
    #[derive(diesel::QueryableByName)]
    struct Opt {
        #[diesel(sql_type = diesel::sql_types::Text)]
        compile_options: String,
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let mut conn = sla_credit::store::sqlite::connect(&db(&dir, "opts.db")).expect("connect");
    let opts: Vec<String> = diesel::sql_query("SELECT compile_options FROM pragma_compile_options")
        .load::<Opt>(&mut conn)
        .expect("compile options")
        .into_iter()
        .map(|o| o.compile_options)
        .collect();
    assert!(opts.iter().any(|o| o == "THREADSAFE=2"), "{opts:?}");
    assert!(opts.iter().any(|o| o == "DEFAULT_MEMSTATUS=0"), "{opts:?}");
    assert!(
        !opts.iter().any(|o| o == "ENABLE_MEMORY_MANAGEMENT"),
        "{opts:?}"
    );
}
