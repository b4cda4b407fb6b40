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
    let a = app.call("PUT", "/v1/plans/basic", Some(&t), Some(&changed), &[("If-Match", "\"v1\"")]);
    assert_eq!(a.status, 201, "{}", a.body);
    assert_eq!(a.json()["version"], 2);
    assert_eq!(a.header("etag"), Some("\"v2\""));
    // A stale If-Match: 412.
    let again = body.replace("100.00", "130.00");
    let a = app.call("PUT", "/v1/plans/basic", Some(&t), Some(&again), &[("If-Match", "\"v1\"")]);
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
    assert!(p["detail"].as_str().unwrap().contains("line 1 column"), "{p}");
    let a = app.call("POST", "/v1/plans", Some(&t), Some("id=1"), &[("Content-Type", "text/plain")]);
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
