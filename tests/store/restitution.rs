//! Restitution from the command line (docs/restitution.md): an incident settled for every
//! customer is recorded as a settlement, and `notices` writes one follow-up per customer from
//! the embedded templates or a deployment's own.

use crate::cli::ok;

fn book(url: &str) {
    ok(
        url,
        &[
            "plans",
            "add",
            "--id",
            "olark",
            "--name",
            "Olark",
            "--price",
            "29.00",
            "--currency",
            "USD",
            "--billing-cycle",
            "monthly",
            "--policy",
            "olark-2-days",
        ],
    );
    for (id, zone) in [("la", "America/Los_Angeles"), ("berlin", "Europe/Berlin")] {
        ok(
            url,
            &[
                "customers",
                "add",
                "--id",
                id,
                "--name",
                id,
                "--timezone",
                zone,
                "--plan-id",
                "olark",
            ],
        );
    }
    ok(
        url,
        &[
            "incidents",
            "add",
            "--id",
            "chat",
            "--title",
            "Chat outage",
            "--started-at",
            "2025-11-30T21:06:00-08:00",
            "--ended-at",
            "2025-12-01T11:00:00-08:00",
            "--summary",
            "The chat servers lost their storage. We now roll storage changes out in stages.",
        ],
    );
}

#[test]
fn notices_write_one_file_per_settled_customer() {
    let dir = tempfile::tempdir().unwrap();
    let url = dir.path().join("n.db").display().to_string();
    book(&url);
    let report = ok(&url, &["settle", "--incident", "chat"]);
    assert_eq!(report["id"], "stl_1");
    // Los Angeles: November, 29.00 × 2 ÷ 30 = 1.93; Berlin: December, 29.00 × 2 ÷ 31 = 1.87.
    assert_eq!(report["entries_appended"], 2);
    let out = dir.path().join("notices");
    let out_text = out.display().to_string();
    let written = ok(&url, &["notices", "--incident", "chat", "--out", &out_text]);
    assert_eq!(written["customers"], 2);
    let la = std::fs::read_to_string(out.join("la.md")).unwrap();
    assert!(la.contains("**1.93 USD** for 2025-11"), "{la}");
    // 21:06 PST on 30 November is 06:06 CET on 1 December; 11:00 PST is 20:00 CET.
    assert!(
        la.contains("Sunday 30 November 2025, 21:06 PST (UTC-08:00)"),
        "{la}"
    );
    assert!(
        la.contains("We now roll storage changes out in stages."),
        "{la}"
    );
    let berlin = std::fs::read_to_string(out.join("berlin.md")).unwrap();
    assert!(berlin.contains("**1.87 USD** for 2025-12"), "{berlin}");
    assert!(
        berlin.contains("Monday 1 December 2025, 20:00 CET (UTC+01:00)"),
        "{berlin}"
    );

    // A deployment's own template, with the same variables.
    let templates = dir.path().join("templates");
    std::fs::create_dir_all(&templates).unwrap();
    std::fs::write(
        templates.join("notice.md.j2"),
        "{{ customer.name }}: {% for c in credits %}{{ c.amount }} {{ c.currency }}{% endfor %}\n",
    )
    .unwrap();
    let t = templates.display().to_string();
    ok(
        &url,
        &[
            "notices",
            "--incident",
            "chat",
            "--out",
            &out_text,
            "--templates",
            &t,
        ],
    );
    assert_eq!(
        std::fs::read_to_string(out.join("la.md")).unwrap(),
        "la: 1.93 USD\n"
    );
}

/// An export row names the settlement that appended its entry, and no other row does. The
/// export reads settlements a window of 8,192 entry ids at a time beside the entries, so 9,002
/// settled customers between two goodwill credits span two windows.
#[test]
fn export_rows_name_the_settlement_that_appended_them_across_windows() {
    let dir = tempfile::tempdir().unwrap();
    let url = dir.path().join("w.db").display().to_string();
    book(&url);
    let many = dir.path().join("many.csv");
    let mut text = String::from("id,plan_id,name,email,timezone,plan_since\n");
    for i in 0..9_000 {
        text.push_str(&format!("m{i:05},olark,Many {i},,UTC,\n"));
    }
    std::fs::write(&many, text).unwrap();
    let many = many.display().to_string();
    assert_eq!(ok(&url, &["import", "customers", &many])["rows"], 9_000);
    let sorry = ["--amount", "1.00", "--reason", "Sorry"];
    ok(
        &url,
        &[&["goodwill", "--customer", "la"][..], &sorry[..]].concat(),
    );
    let report = ok(&url, &["settle", "--incident", "chat"]);
    assert_eq!(report["id"], "stl_1");
    assert_eq!(report["entries_appended"], 9_002);
    ok(
        &url,
        &[&["goodwill", "--customer", "berlin"][..], &sorry[..]].concat(),
    );

    let out = dir.path().join("batch.csv");
    let batch = ok(&url, &["export", "--out", &out.display().to_string()]);
    assert_eq!(batch["rows"], 9_004);
    let mut r = csv::Reader::from_path(&out).unwrap();
    let header = r.headers().unwrap().clone();
    let column = |name: &str| header.iter().position(|h| h == name).unwrap();
    let (id, kind, settlement) = (column("entry_id"), column("kind"), column("settlement_id"));
    let rows: Vec<csv::StringRecord> = r.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 9_004);
    for (n, row) in rows.iter().enumerate() {
        assert_eq!(&row[id], format!("cre_{}", n + 1), "rows in entry order");
        let expected = if n == 0 || n == 9_003 {
            ("goodwill", "")
        } else {
            ("sla_credit", "stl_1")
        };
        assert_eq!((&row[kind], &row[settlement]), expected, "row {}", n + 1);
    }
}
