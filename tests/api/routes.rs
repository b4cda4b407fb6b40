//! Every route's success and error paths, with exact bodies where they are decided by the
//! contract.

use crate::spawn_app;

#[test]
fn health_needs_no_token_and_names_its_versions() {
    let app = spawn_app();
    let a = app.call("GET", "/healthz", None, None, &[]);
    assert_eq!(a.status, 200);
    let v = a.json();
    assert_eq!(v["status"], "ok");
    assert_eq!(v["engine_version"], env!("CARGO_PKG_VERSION"));
    assert!(v["tzdb_version"].as_str().unwrap().starts_with("20"));
    assert!(a.header("x-request-id").is_some());
}

#[test]
fn plans_are_created_read_listed_and_versioned() {
    let app = spawn_app();
    app.seed();
    let a = app.admin("GET", "/v1/plans/basic", None);
    assert_eq!(a.status, 200);
    assert_eq!(a.header("etag"), Some("\"v1\""));
    let v = a.json();
    assert_eq!(v["price"], "100.00");
    assert_eq!(v["currency"], "USD");
    assert_eq!(v["version"], 1);
    // The same id again: 409 id-taken.
    let a = app.admin(
        "POST",
        "/v1/plans",
        Some(r#"{"id": "basic", "name": "B", "price": "1.00", "currency": "USD", "billing_cycle": "monthly", "policy": "atlassian"}"#),
    );
    a.problem(409, "id-taken");
    // A PUT identical to the current version creates none (200); a change does (201).
    let body = r#"{"name": "Basic", "price": "100.00", "currency": "USD", "billing_cycle": "monthly",
        "policy": {"rule": {"kind": "downtime_multiple", "multiplier": "1"}}}"#;
    let a = app.admin("PUT", "/v1/plans/basic", Some(body));
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.json()["version"], 1);
    let changed = body.replace("100.00", "120.00");
    let t = app.token("admin").to_string();
    let a = app.call(
        "PUT",
        "/v1/plans/basic",
        Some(&t),
        Some(&changed),
        &[("If-Match", "\"v1\"")],
    );
    assert_eq!(a.status, 201, "{}", a.body);
    assert_eq!(a.json()["version"], 2);
    assert_eq!(a.header("etag"), Some("\"v2\""));
    // A stale If-Match: 412.
    let again = body.replace("100.00", "130.00");
    let a = app.call(
        "PUT",
        "/v1/plans/basic",
        Some(&t),
        Some(&again),
        &[("If-Match", "\"v1\"")],
    );
    a.problem(412, "precondition-failed");
    // The currency never changes.
    let a = app.admin("PUT", "/v1/plans/basic", Some(&body.replace("USD", "EUR")));
    a.problem(409, "conflict");
    let a = app.admin("GET", "/v1/plans", None);
    let v = a.json();
    assert_eq!(v["data"].as_array().unwrap().len(), 1);
    assert_eq!(v["has_more"], false);
    assert!(v["next_after"].is_string());
    let a = app.admin("GET", "/v1/plans/nope", None);
    a.problem(404, "not-found");
}

#[test]
fn bad_bodies_get_400_415_422_and_413() {
    let app = spawn_app();
    let t = app.token("admin").to_string();
    let a = app.admin("POST", "/v1/plans", Some("{\"id\": "));
    let p = a.problem(400, "bad-request");
    assert!(
        p["detail"].as_str().unwrap().contains("line 1 column"),
        "{p}"
    );
    let a = app.call(
        "POST",
        "/v1/plans",
        Some(&t),
        Some("id=1"),
        &[("Content-Type", "text/plain")],
    );
    a.problem(415, "unsupported-media-type");
    let a = app.admin(
        "POST",
        "/v1/plans",
        Some(r#"{"id": "p 1", "name": "", "price": "-1", "currency": "XTS", "billing_cycle": "weekly", "policy": "atlassian"}"#),
    );
    let p = a.problem(422, "validation");
    let fields: Vec<&str> = p["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    for f in ["id", "name", "currency", "price", "billing_cycle"] {
        assert!(fields.contains(&f), "{f} missing from {fields:?}");
    }
    let a = app.admin(
        "POST",
        "/v1/plans",
        Some(r#"{"id": "p", "name": "P", "price": "1", "currency": "USD", "billing_cycle": "monthly", "policy": "atlassian", "colour": "red"}"#),
    );
    let p = a.problem(422, "validation");
    assert_eq!(p["errors"][0]["field"], "colour");
    assert_eq!(p["errors"][0]["code"], "unknown_field");
    let big = format!("{{\"pad\": \"{}\"}}", "x".repeat(70 * 1024));
    let a = app.admin("POST", "/v1/quote", Some(&big));
    a.problem(413, "payload-too-large");
    let a = app.admin("GET", "/v1/nothing-here", None);
    a.problem(404, "not-found");
    let a = app.admin("DELETE", "/v1/plans", None);
    a.problem(405, "method-not-allowed");
    assert_eq!(a.header("allow"), Some("POST, GET"));
    let a = app.admin("GET", "/v1/plans?limit=501", None);
    let p = a.problem(400, "bad-request");
    assert_eq!(p["errors"][0]["field"], "limit");
}

#[test]
fn incidents_are_patched_with_etags_and_null_end_is_refused() {
    let app = spawn_app();
    let a = app.admin(
        "POST",
        "/v1/incidents",
        Some(r#"{"id": "INC-1", "title": "DB down", "started_at": "2026-01-10T00:00:00Z"}"#),
    );
    assert_eq!(a.status, 201, "{}", a.body);
    let tag = a.header("etag").unwrap().to_string();
    let v = a.json();
    assert_eq!(v["kind"], "outage");
    assert_eq!(v["ended_at"], serde_json::Value::Null);
    assert_eq!(v["scope"], serde_json::json!({"all": true}));
    let p = app
        .admin(
            "PATCH",
            "/v1/incidents/INC-1",
            Some(r#"{"ended_at": null}"#),
        )
        .problem(422, "validation");
    assert_eq!(p["errors"][0]["field"], "ended_at");
    let t = app.token("admin").to_string();
    let a = app.call(
        "PATCH",
        "/v1/incidents/INC-1",
        Some(&t),
        Some(r#"{"ended_at": "2026-01-10T01:00:00-08:00"}"#),
        &[("If-Match", &tag)],
    );
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.json()["ended_at"], "2026-01-10T09:00:00Z");
    assert_ne!(a.header("etag").unwrap(), tag);
    let a = app.call(
        "PATCH",
        "/v1/incidents/INC-1",
        Some(&t),
        Some(r#"{"summary": "Restored"}"#),
        &[("If-Match", &tag)],
    );
    a.problem(412, "precondition-failed");
    let a = app.admin("GET", "/v1/incidents", None);
    assert_eq!(a.json()["data"][0]["id"], "INC-1");
    app.admin("GET", "/v1/incidents/INC-2", None)
        .problem(404, "not-found");
}

#[test]
fn customers_search_pages_and_the_support_view() {
    let app = spawn_app();
    app.seed();
    for (id, name) in [("beta", "Beta GmbH"), ("acme-eu", "Acme Europe")] {
        let body = format!(
            r#"{{"id": "{id}", "name": "{name}", "timezone": "Europe/Berlin", "plan_id": "basic"}}"#
        );
        assert_eq!(app.admin("POST", "/v1/customers", Some(&body)).status, 201);
    }
    // A body naming a plan that does not exist: 422 with code not_found (not a 404).
    let p = app
        .admin(
            "POST",
            "/v1/customers",
            Some(r#"{"id": "x", "name": "X", "plan_id": "gold"}"#),
        )
        .problem(422, "validation");
    assert_eq!(p["errors"][0]["field"], "plan_id");
    assert_eq!(p["errors"][0]["code"], "not_found");
    let v = app
        .admin("GET", "/v1/customers?q=acme&limit=1", None)
        .json();
    assert_eq!(v["data"][0]["id"], "acme");
    assert_eq!(v["has_more"], true);
    let next = v["next_after"].as_str().unwrap().to_string();
    let v = app
        .admin(
            "GET",
            &format!("/v1/customers?q=acme&limit=1&after={next}"),
            None,
        )
        .json();
    assert_eq!(v["data"][0]["id"], "acme-eu");
    assert_eq!(v["has_more"], false);
    // The cursor is bound to its filters.
    app.admin("GET", &format!("/v1/customers?q=beta&after={next}"), None)
        .problem(400, "bad-request");
    // By name prefix and by e-mail prefix.
    let v = app.admin("GET", "/v1/customers?q=Beta", None).json();
    assert_eq!(v["data"][0]["id"], "beta");
    let v = app.admin("GET", "/v1/customers?q=ops%40acme", None).json();
    assert_eq!(v["data"][0]["id"], "acme");
    // Goodwill of 2 days in a UTC January: 100.00 × 2 ÷ 31 = 6.4516… → 6.45; then 1.50.
    let a = app.admin(
        "POST",
        "/v1/customers/acme/credits",
        Some(r#"{"days": 2, "reason": "Sorry", "period": "2026-01"}"#),
    );
    assert_eq!(a.status, 201, "{}", a.body);
    let first = a.json();
    assert_eq!(first["amount"], "6.45");
    assert_eq!(
        first["explanation"],
        "Goodwill: 2 days × 100.00 USD ÷ 31 days = 6.45 USD"
    );
    assert_eq!(first["kind"], "goodwill");
    assert_eq!(first["id"], "cre_1");
    let a = app.admin(
        "POST",
        "/v1/customers/acme/credits",
        Some(r#"{"amount": "1.50", "currency": "USD", "reason": "Coffee", "period": "2026-01"}"#),
    );
    assert_eq!(a.status, 201, "{}", a.body);
    // Reverse the first: -6.45; a second reversal is 409 already-reversed.
    let a = app.admin(
        "POST",
        "/v1/credits/cre_1/reversal",
        Some(r#"{"reason": "Duplicate"}"#),
    );
    assert_eq!(a.status, 201, "{}", a.body);
    assert_eq!(a.json()["amount"], "-6.45");
    assert_eq!(a.json()["reverses"], "cre_1");
    app.admin(
        "POST",
        "/v1/credits/cre_1/reversal",
        Some(r#"{"reason": "Again"}"#),
    )
    .problem(409, "already-reversed");
    let e = app.admin("GET", "/v1/credits/cre_1", None).json();
    assert_eq!(e["reversed_by"], "cre_3");
    // Support view: 6.45 + 1.50 − 6.45 = 1.50, nothing exported yet; newest first.
    let v = app
        .call(
            "GET",
            "/v1/customers/acme/credits?limit=2",
            Some(app.token("support")),
            None,
            &[],
        )
        .json();
    assert_eq!(
        v["balances"],
        serde_json::json!([{"currency": "USD", "total": "1.50", "exported": "0.00", "pending": "1.50"}])
    );
    assert_eq!(v["data"][0]["id"], "cre_3");
    assert_eq!(v["data"][1]["id"], "cre_2");
    assert_eq!(v["has_more"], true);
    assert_eq!(v["customer"]["id"], "acme");
    // The ledger feed ascends in commit order and filters by kind.
    let v = app.admin("GET", "/v1/ledger?kind=goodwill", None).json();
    let ids: Vec<&str> = v["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["cre_1", "cre_2"]);
    app.admin("GET", "/v1/ledger?kind=refund", None)
        .problem(400, "bad-request");
    app.admin("GET", "/v1/ledger?from=2026-13-01", None)
        .problem(400, "bad-request");
    app.admin("GET", "/v1/credits/cre_99", None)
        .problem(404, "not-found");
    app.admin("GET", "/v1/customers/ghost/credits", None)
        .problem(404, "not-found");
}
