//! CSV imports over HTTP (docs/csv.md): the fixtures of fixtures/csv/, the exact row and
//! column of every mistake, and a database left unchanged by a bad file.

use diesel::prelude::*;
use diesel::sql_types::Text;
use serde_json::Value;

use crate::{spawn_app, Answer, TestApp};

pub fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/fixtures/csv/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Sends bytes with a content type, as a role.
pub fn send(
    app: &TestApp,
    role: &str,
    method: &str,
    path: &str,
    content_type: &str,
    body: &[u8],
) -> Answer {
    let req = ureq::request(method, &format!("{}{path}", app.base))
        .set("Authorization", &format!("Bearer {}", app.token(role)))
        .set("Content-Type", content_type);
    let resp = match req.send_bytes(body) {
        Ok(r) | Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("{method} {path}: {e}"),
    };
    let status = resp.status();
    let headers = resp
        .headers_names()
        .into_iter()
        .filter_map(|n| {
            resp.header(&n)
                .map(|v| (n.to_ascii_lowercase(), v.to_string()))
        })
        .collect();
    Answer {
        status,
        headers,
        body: resp.into_string().unwrap_or_default(),
    }
}

/// Uploads a fixture as `text/csv`, as finance.
pub fn upload(app: &TestApp, kind: &str, name: &str) -> Answer {
    send(
        app,
        "finance",
        "POST",
        &format!("/v1/imports/{kind}"),
        "text/csv",
        &fixture(name),
    )
}

#[derive(QueryableByName)]
struct Named {
    #[diesel(sql_type = Text)]
    name: String,
}

#[derive(QueryableByName)]
struct Dumped {
    #[diesel(sql_type = Text)]
    rows: String,
}

/// A logical dump: every table's rows as JSON, in a fixed order.
pub fn dump(app: &TestApp) -> Vec<(String, String)> {
    let path = app.db.trim_start_matches("sqlite://");
    let mut c = SqliteConnection::establish(path).unwrap();
    let tables: Vec<Named> = diesel::sql_query(
        "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name",
    )
    .load(&mut c)
    .unwrap();
    tables
        .into_iter()
        .map(|t| {
            let cols: Vec<Named> = diesel::sql_query(format!("SELECT name FROM pragma_table_info('{}')", t.name))
                .load(&mut c)
                .unwrap();
            let list: Vec<String> = cols.iter().map(|c| format!("\"{}\"", c.name)).collect();
            let sql = format!(
                "SELECT coalesce(json_group_array(json_array({0})), '[]') AS rows FROM (SELECT * FROM \"{1}\" ORDER BY {0})",
                list.join(", "),
                t.name
            );
            let d: Dumped = diesel::sql_query(sql).get_result(&mut c).unwrap();
            (t.name, d.rows)
        })
        .collect()
}

/// Plans, then customers (Excel's BOM and CRLF; quoted commas, quotes, newlines, non-ASCII).
pub fn import_book(app: &TestApp) {
    let a = upload(app, "plans", "plans_valid.csv");
    assert_eq!(a.status, 201, "{}", a.body);
    let a = upload(app, "customers", "customers_excel.csv");
    assert_eq!(a.status, 201, "{}", a.body);
    let a = upload(app, "customers", "customers_quoted.csv");
    assert_eq!(a.status, 201, "{}", a.body);
}

/// `(row, column, code)` of every listed error, and the problem.
fn errors_of(a: &Answer) -> (Vec<(u64, String, String)>, Value) {
    let p = a.problem(422, "validation");
    let list = p["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["row"].as_u64().unwrap(),
                e["column"].as_str().unwrap().to_string(),
                e["code"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    (list, p)
}

/// `(row, column, code)` of one error.
type Expected = (u64, String, String);

fn err(row: u64, column: &str, code: &str) -> (u64, String, String) {
    (row, column.to_string(), code.to_string())
}

#[test]
fn valid_files_are_imported_once_and_read_back_exactly() {
    let app = spawn_app();
    let a = upload(&app, "plans", "plans_valid.csv");
    assert_eq!(a.status, 201, "{}", a.body);
    let v = a.json();
    assert_eq!(v["id"], "imp_1");
    assert_eq!(v["kind"], "plans");
    assert_eq!(v["rows"], 3);
    assert_eq!(v["dry_run"], false);
    assert_eq!(v["created_by"], "finance");
    assert_eq!(v["sha256"].as_str().unwrap().len(), 64);
    // The price is read as text: 29.00 stays 29.00; the JSON policy and the preset both work.
    let p = app.admin("GET", "/v1/plans/basic", None).json();
    assert_eq!(p["price"], "29.00");
    let p = app.admin("GET", "/v1/plans/pro", None).json();
    assert_eq!(p["name"], "Pro, with 10x");
    assert_eq!(p["policy"]["rule"]["multiplier"], "10");
    assert_eq!(
        app.admin("GET", "/v1/plans/yearly", None).json()["annual_split"],
        "days"
    );

    // Saved by Excel: BOM, CRLF, headers in another case and order.
    let a = upload(&app, "customers", "customers_excel.csv");
    assert_eq!(a.status, 201, "{}", a.body);
    assert_eq!(a.json()["rows"], 3);
    let c = app.admin("GET", "/v1/customers/acme", None).json();
    assert_eq!(c["name"], "Acme Corp");
    assert_eq!(c["timezone"], "America/Los_Angeles");
    let c = app.admin("GET", "/v1/customers/globex", None).json();
    assert_eq!(c["email"], Value::Null);
    assert_eq!(c["plan_since"], "2026-01-01T00:00:00Z");

    let a = upload(&app, "customers", "customers_quoted.csv");
    assert_eq!(a.status, 201, "{}", a.body);
    let name = |id: &str| {
        app.admin("GET", &format!("/v1/customers/{id}"), None)
            .json()["name"]
            .clone()
    };
    assert_eq!(name("muller"), "Müller, Schmidt & Söhne GmbH");
    assert_eq!(name("quote"), "The \"Best\" Company");
    assert_eq!(name("lines"), "First line\nsecond line");
    assert_eq!(name("kabushiki"), "株式会社サンプル");
    assert_eq!(name("zoe"), "Zoë's Café — Straße");

    let a = upload(&app, "incidents", "incidents_valid.csv");
    assert_eq!(a.status, 201, "{}", a.body);
    assert_eq!(a.json()["rows"], 4);
    let i = app.admin("GET", "/v1/incidents/inc-2", None).json();
    assert_eq!(i["impact"], "0.5");
    assert_eq!(i["started_at"], "2026-02-01T09:00:00Z");
    assert_eq!(i["scope"]["plans"], serde_json::json!(["basic", "pro"]));
    let i = app.admin("GET", "/v1/incidents/inc-4", None).json();
    assert_eq!(i["kind"], "outage");
    assert_eq!(i["ended_at"], Value::Null);
    assert_eq!(i["scope"]["all"], true);

    // The same file again: nothing stored, the first import answered.
    let before = dump(&app);
    let a = upload(&app, "customers", "customers_excel.csv");
    assert_eq!(a.status, 200, "{}", a.body);
    let v = a.json();
    assert_eq!(v["id"], "imp_2");
    assert_eq!(v["already_imported"], true);
    assert_eq!(dump(&app), before);

    let list = app
        .call("GET", "/v1/imports", Some(app.token("support")), None, &[])
        .json();
    let ids: Vec<&str> = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["imp_1", "imp_2", "imp_3", "imp_4"]);
    let one = app.admin("GET", "/v1/imports/imp_3", None).json();
    assert_eq!(one["kind"], "customers");
    assert_eq!(one["rows"], 5);
    app.admin("GET", "/v1/imports/imp_99", None)
        .problem(404, "not-found");
}

#[test]
fn a_dry_run_validates_and_stores_nothing() {
    let app = spawn_app();
    let before = dump(&app);
    let a = send(
        &app,
        "admin",
        "POST",
        "/v1/imports/plans?dry_run=true",
        "text/csv",
        &fixture("plans_valid.csv"),
    );
    assert_eq!(a.status, 200, "{}", a.body);
    let v = a.json();
    assert_eq!(v["dry_run"], true);
    assert_eq!(v["rows"], 3);
    assert_eq!(v["id"], Value::Null);
    assert_eq!(dump(&app), before);
    // Not an import: the real one goes through.
    assert_eq!(upload(&app, "plans", "plans_valid.csv").status, 201);
    let a = send(
        &app,
        "admin",
        "POST",
        "/v1/imports/plans?dry_run=maybe",
        "text/csv",
        b"id\n",
    );
    a.problem(400, "bad-request");
}

#[test]
fn multipart_uploads_read_the_field_named_file() {
    let app = spawn_app();
    let csv = fixture("plans_valid.csv");
    let mut body = Vec::new();
    body.extend_from_slice(
        b"--XyZ\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nhello\r\n",
    );
    body.extend_from_slice(
        b"--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"plans.csv\"\r\nContent-Type: text/csv\r\n\r\n",
    );
    body.extend_from_slice(&csv);
    body.extend_from_slice(b"\r\n--XyZ--\r\n");
    let a = send(
        &app,
        "finance",
        "POST",
        "/v1/imports/plans",
        "multipart/form-data; boundary=XyZ",
        &body,
    );
    assert_eq!(a.status, 201, "{}", a.body);
    assert_eq!(a.json()["rows"], 3);
    let a = send(
        &app,
        "finance",
        "POST",
        "/v1/imports/plans",
        "application/json",
        b"{}",
    );
    a.problem(415, "unsupported-media-type");
}

#[test]
fn imports_are_for_finance_and_admin() {
    let app = spawn_app();
    for role in ["support", "billing"] {
        let a = send(
            &app,
            role,
            "POST",
            "/v1/imports/plans",
            "text/csv",
            &fixture("plans_valid.csv"),
        );
        a.problem(403, "forbidden");
    }
    let a = send(
        &app,
        "admin",
        "POST",
        "/v1/imports/widgets",
        "text/csv",
        b"id\n",
    );
    a.problem(404, "not-found");
}

/// Each invalid fixture: the exact errors, and the database unchanged.
#[test]
fn every_kind_of_mistake_is_named_by_row_and_column_and_nothing_is_stored() {
    let app = spawn_app();
    import_book(&app);
    let cases: Vec<(&str, &str, Vec<Expected>)> = vec![
        (
            "incidents",
            "invalid_end_before_start.csv",
            vec![err(3, "ended_at", "invalid")],
        ),
        (
            "plans",
            "invalid_decimal_comma.csv",
            vec![err(2, "price", "invalid")],
        ),
        (
            "customers",
            "invalid_unknown_column.csv",
            vec![err(1, "colour", "unknown_field")],
        ),
        (
            "customers",
            "invalid_missing_column.csv",
            vec![err(1, "plan_id", "required")],
        ),
        (
            "customers",
            "invalid_missing_plan.csv",
            vec![err(3, "plan_id", "not_found")],
        ),
        (
            "customers",
            "invalid_duplicate_id.csv",
            vec![err(4, "id", "taken")],
        ),
        (
            "customers",
            "invalid_existing_id.csv",
            vec![err(3, "id", "taken")],
        ),
        (
            "incidents",
            "invalid_bad_instant.csv",
            vec![err(2, "started_at", "invalid")],
        ),
        (
            "customers",
            "invalid_bad_zone.csv",
            vec![err(2, "timezone", "invalid")],
        ),
        (
            "plans",
            "invalid_policy_json.csv",
            vec![err(2, "policy", "invalid")],
        ),
        (
            "plans",
            "invalid_unknown_preset.csv",
            vec![err(2, "policy", "invalid")],
        ),
        (
            "incidents",
            "invalid_scope_missing_customer.csv",
            vec![err(2, "scope", "not_found")],
        ),
        (
            "customers",
            "invalid_empty_required.csv",
            vec![err(2, "name", "required")],
        ),
        (
            "customers",
            "invalid_cell_count.csv",
            vec![err(3, "", "invalid")],
        ),
        (
            "customers",
            "invalid_not_utf8.csv",
            vec![err(2, "name", "invalid")],
        ),
        (
            "customers",
            "invalid_several_rows.csv",
            vec![
                err(3, "id", "invalid"),
                err(4, "email", "invalid"),
                err(5, "timezone", "invalid"),
            ],
        ),
    ];
    for (kind, file, expected) in cases {
        let before = dump(&app);
        let a = upload(&app, kind, file);
        let (got, p) = errors_of(&a);
        assert_eq!(got, expected, "{file}: {p}");
        assert_eq!(
            p["error_count"].as_u64().unwrap() as usize,
            expected.len(),
            "{file}"
        );
        assert_eq!(dump(&app), before, "{file} changed the database");
    }
}

#[test]
fn error_bodies_carry_the_cell_and_a_message() {
    let app = spawn_app();
    import_book(&app);
    let (_, p) = errors_of(&upload(&app, "incidents", "invalid_end_before_start.csv"));
    let e = &p["errors"][0];
    assert_eq!(e["value"], "2026-01-10T04:00:00Z");
    assert_eq!(e["message"], "must be after started_at");
    let (_, p) = errors_of(&upload(&app, "plans", "invalid_decimal_comma.csv"));
    assert_eq!(p["errors"][0]["value"], "12,50");
    let (_, p) = errors_of(&upload(&app, "customers", "invalid_duplicate_id.csv"));
    assert_eq!(p["errors"][0]["value"], "c1");
    assert!(
        p["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("more than once"),
        "{p}"
    );
    let (_, p) = errors_of(&upload(&app, "customers", "invalid_existing_id.csv"));
    assert!(
        p["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("already exists"),
        "{p}"
    );
    let (_, p) = errors_of(&upload(&app, "customers", "invalid_missing_plan.csv"));
    assert_eq!(p["errors"][0]["value"], "gold");
}

#[test]
fn a_file_with_thousands_of_bad_rows_lists_the_first_1000_and_counts_all() {
    let app = spawn_app();
    import_book(&app);
    let mut csv = String::from("id,name,plan_id\n");
    for i in 0..2_500 {
        csv.push_str(&format!("c{i},Customer {i},gold\n"));
    }
    let a = send(
        &app,
        "finance",
        "POST",
        "/v1/imports/customers",
        "text/csv",
        csv.as_bytes(),
    );
    let (got, p) = errors_of(&a);
    assert_eq!(got.len(), 1_000);
    assert_eq!(got[0], err(2, "plan_id", "not_found"));
    assert_eq!(got[999], err(1_001, "plan_id", "not_found"));
    assert_eq!(p["error_count"], 2_500);
}
