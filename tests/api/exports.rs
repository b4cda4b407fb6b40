//! Billing export batches over HTTP (docs/csv.md, "Exports"): formula injection neutralized,
//! signed amounts untouched, batches one after another, byte-identical downloads, Excel
//! options, acknowledgement, and balances that know what was exported.

use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::imports::send;
use crate::{spawn_app, TestApp};

fn hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn download(app: &TestApp, path: &str) -> (u16, Vec<u8>) {
    let resp = ureq::get(&format!("{}{path}", app.base))
        .set("Authorization", &format!("Bearer {}", app.token("finance")))
        .call();
    let resp = match resp {
        Ok(r) | Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("{path}: {e}"),
    };
    let status = resp.status();
    let mut body = Vec::new();
    std::io::Read::read_to_end(&mut resp.into_reader(), &mut body).unwrap();
    (status, body)
}

fn post(app: &TestApp, role: &str, path: &str, body: &str) -> crate::Answer {
    send(app, role, "POST", path, "application/json", body.as_bytes())
}

/// A customer named like a formula, with 20.00 of goodwill, and 12.50 granted then reversed.
fn seed(app: &TestApp) {
    let a = app.admin(
        "POST",
        "/v1/plans",
        Some(
            r#"{"id": "basic", "name": "Basic", "price": "100.00", "currency": "USD",
                 "billing_cycle": "monthly", "policy": "atlassian"}"#,
        ),
    );
    assert_eq!(a.status, 201, "{}", a.body);
    let body = json!({"id": "hyper", "name": "=HYPERLINK(\"http://x\",\"y\")", "plan_id": "basic"});
    let a = app.admin("POST", "/v1/customers", Some(&body.to_string()));
    assert_eq!(a.status, 201, "{}", a.body);
    for amount in ["20.00", "12.50"] {
        let a = app.admin(
            "POST",
            "/v1/customers/hyper/credits",
            Some(&json!({"amount": amount, "reason": "Goodwill", "period": "2026-01"}).to_string()),
        );
        assert_eq!(a.status, 201, "{}", a.body);
    }
    let a = app.admin(
        "POST",
        "/v1/credits/cre_2/reversal",
        Some(r#"{"reason": "-12.50 back"}"#),
    );
    assert_eq!(a.status, 201, "{}", a.body);
}

#[test]
fn an_export_neutralizes_formulas_and_keeps_signed_amounts() {
    let app = spawn_app();
    seed(&app);
    let a = post(&app, "finance", "/v1/exports", "");
    assert_eq!(a.status, 201, "{}", a.body);
    let v = a.json();
    assert_eq!(v["id"], "exp_1");
    assert_eq!(v["status"], "created");
    assert_eq!(v["rows"], 3);
    // 20.00 + 12.50 − 12.50 = 20.00
    assert_eq!(v["totals"], json!([{"currency": "USD", "amount": "20.00"}]));

    let (status, bytes) = download(&app, "/v1/exports/exp_1.csv");
    assert_eq!(status, 200);
    assert_eq!(hex(&bytes), v["sha256"].as_str().unwrap());
    let text = String::from_utf8(bytes.clone()).unwrap();
    let lines: Vec<&str> = text.split("\r\n").collect();
    assert_eq!(
        lines[0],
        "entry_id,kind,customer_id,customer_name,period,amount,currency,incident_ids,reason,\
         reverses,settlement_id,export_id,created_at,created_by,plan_id,policy_version,rounding,explanation"
    );
    assert_eq!(lines.len(), 5, "header, 3 rows, and the final CRLF: {text}");
    assert!(
        lines[1].starts_with("cre_1,goodwill,hyper,\"'=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\",2026-01,20.00,USD,,Goodwill,,,exp_1,"),
        "{}",
        lines[1]
    );
    assert!(
        lines[3].starts_with("cre_3,reversal,hyper,\"'=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\",2026-01,-12.50,USD,,'-12.50 back,cre_2,,exp_1,"),
        "{}",
        lines[3]
    );
    let mut r = csv::Reader::from_reader(bytes.as_slice());
    let rows: Vec<csv::StringRecord> = r.records().map(Result::unwrap).collect();
    assert_eq!(&rows[2][3], "'=HYPERLINK(\"http://x\",\"y\")");
    assert_eq!(&rows[2][5], "-12.50");
    assert_eq!(&rows[2][13], "admin");

    // Entries and the support view know the batch.
    let e = app.admin("GET", "/v1/credits/cre_3", None).json();
    assert_eq!(e["export_id"], "exp_1");
    let a = app.admin(
        "POST",
        "/v1/customers/hyper/credits",
        Some(r#"{"amount": "5.00", "reason": "Later", "period": "2026-01"}"#),
    );
    assert_eq!(a.status, 201, "{}", a.body);
    let s = app.admin("GET", "/v1/customers/hyper/credits", None).json();
    assert_eq!(
        s["balances"],
        json!([{"currency": "USD", "total": "25.00", "exported": "20.00", "pending": "5.00"}])
    );
    assert_eq!(s["data"][0]["export_id"], Value::Null);
}

#[test]
fn two_exports_in_a_row_the_second_empty_and_downloads_byte_identical() {
    let app = spawn_app();
    seed(&app);
    let first = post(&app, "finance", "/v1/exports", "").json();
    let (_, one) = download(&app, "/v1/exports/exp_1.csv");
    let a = post(&app, "admin", "/v1/exports", "{}");
    assert_eq!(a.status, 201, "{}", a.body);
    let second = a.json();
    assert_eq!(second["id"], "exp_2");
    assert_eq!(second["rows"], 0);
    assert_eq!(second["totals"], json!([]));
    let (_, empty) = download(&app, "/v1/exports/exp_2.csv");
    assert_eq!(
        String::from_utf8(empty.clone())
            .unwrap()
            .matches("\r\n")
            .count(),
        1,
        "the header only"
    );
    assert_eq!(hex(&empty), second["sha256"].as_str().unwrap());
    let (_, again) = download(&app, "/v1/exports/exp_1.csv");
    assert_eq!(again, one);
    assert_eq!(hex(&again), first["sha256"].as_str().unwrap());

    // Excel options: a BOM and semicolons; the recorded SHA-256 stays that of the plain form.
    let (_, excel) = download(&app, "/v1/exports/exp_1.csv?bom=true&delimiter=%3B");
    assert!(excel.starts_with("\u{feff}entry_id;kind;".as_bytes()));
    let text = String::from_utf8(excel).unwrap();
    assert!(text.contains(";-12.50;USD;"), "{text}");
    let meta = app.admin("GET", "/v1/exports/exp_1", None).json();
    assert_eq!(meta["sha256"], first["sha256"]);
    assert_eq!(download(&app, "/v1/exports/exp_1.csv?delimiter=tab").0, 400);
    assert_eq!(download(&app, "/v1/exports/exp_9.csv").0, 404);
}

#[test]
fn billing_acknowledges_a_batch_and_the_list_shows_what_awaits_loading() {
    let app = spawn_app();
    seed(&app);
    post(&app, "finance", "/v1/exports", "");
    post(&app, "finance", "/v1/exports", "");
    let ids = |q: &str| -> Vec<String> {
        let v = app
            .call(
                "GET",
                &format!("/v1/exports{q}"),
                Some(app.token("support")),
                None,
                &[],
            )
            .json();
        v["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b["id"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(ids("?status=created"), ["exp_1", "exp_2"]);
    let a = post(
        &app,
        "finance",
        "/v1/exports/exp_1/acknowledgement",
        r#"{"reference": "load-1"}"#,
    );
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.json()["status"], "acknowledged");
    assert_eq!(a.json()["reference"], "load-1");
    assert_eq!(ids("?status=created"), ["exp_2"]);
    assert_eq!(ids("?status=acknowledged"), ["exp_1"]);
    assert_eq!(ids(""), ["exp_1", "exp_2"]);
    let a = post(
        &app,
        "finance",
        "/v1/exports/exp_1/acknowledgement",
        r#"{"reference": "load-1"}"#,
    );
    assert_eq!(a.status, 200);
    let a = post(
        &app,
        "finance",
        "/v1/exports/exp_1/acknowledgement",
        r#"{"reference": "load-2"}"#,
    );
    a.problem(409, "conflict");
    let a = post(
        &app,
        "finance",
        "/v1/exports/exp_1/acknowledgement",
        r#"{"reference": "load-1", "x": 1}"#,
    );
    a.problem(422, "validation");
    post(
        &app,
        "finance",
        "/v1/exports/exp_7/acknowledgement",
        r#"{"reference": "r"}"#,
    )
    .problem(404, "not-found");
}

#[test]
fn exports_are_made_and_downloaded_by_finance_and_admin_only() {
    let app = spawn_app();
    seed(&app);
    for role in ["support", "billing"] {
        post(&app, role, "/v1/exports", "").problem(403, "forbidden");
    }
    post(&app, "finance", "/v1/exports", "");
    let t = app.token("support").to_string();
    app.call("GET", "/v1/exports/exp_1.csv", Some(&t), None, &[])
        .problem(403, "forbidden");
    assert_eq!(
        app.call("GET", "/v1/exports/exp_1", Some(&t), None, &[])
            .status,
        200
    );
    post(&app, "finance", "/v1/exports", r#"{"all": true}"#).problem(422, "validation");
}

/// The support view links each entry to the batch that holds it, across an empty batch that
/// ends where the one before it ends (the candidate range is the first one ending at or after
/// the entry): cre_1..cre_3 in exp_1, none in exp_2, cre_4 in exp_3, cre_5 in none. Both ways
/// of reading the balances: from a page that holds every entry, and from their own statement
/// when the page does not.
#[test]
fn the_support_view_finds_each_entrys_batch_across_empty_ones() {
    let app = spawn_app();
    seed(&app);
    let grant = |amount: &str| {
        let body = json!({"amount": amount, "reason": "Later", "period": "2026-01"});
        let a = app.admin(
            "POST",
            "/v1/customers/hyper/credits",
            Some(&body.to_string()),
        );
        assert_eq!(a.status, 201, "{}", a.body);
    };
    assert_eq!(post(&app, "finance", "/v1/exports", "").json()["rows"], 3);
    assert_eq!(post(&app, "finance", "/v1/exports", "").json()["rows"], 0);
    grant("4.00");
    assert_eq!(post(&app, "finance", "/v1/exports", "").json()["rows"], 1);
    grant("1.00");

    let whole = app.admin("GET", "/v1/customers/hyper/credits", None).json();
    let links: Vec<(&str, &Value)> = whole["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["id"].as_str().unwrap(), &e["export_id"]))
        .collect();
    assert_eq!(
        links,
        vec![
            ("cre_5", &Value::Null),
            ("cre_4", &json!("exp_3")),
            ("cre_3", &json!("exp_1")),
            ("cre_2", &json!("exp_1")),
            ("cre_1", &json!("exp_1")),
        ]
    );
    // 20.00 + 12.50 − 12.50 + 4.00 exported, 1.00 not yet.
    let balances =
        json!([{"currency": "USD", "total": "25.00", "exported": "24.00", "pending": "1.00"}]);
    assert_eq!(whole["balances"], balances);
    let paged = app
        .admin("GET", "/v1/customers/hyper/credits?limit=2", None)
        .json();
    assert_eq!(paged["balances"], balances);
    assert_eq!(paged["data"][1]["export_id"], "exp_3");
}
