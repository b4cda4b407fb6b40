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
