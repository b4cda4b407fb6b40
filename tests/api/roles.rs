//! The role matrix, table-driven from the roles table of the contract (written out here, not
//! taken from the code): every role against every route gets the status the table says; no
//! token and a revoked key get 401.

use sla_credit::http::ROUTES;
use sla_credit::store::{keys, Store};

use crate::spawn_app;

/// The contract's table: which roles may take each kind of action.
fn allowed(method: &str, path: &str) -> &'static [&'static str] {
    const ALL: &[&str] = &["support", "billing", "finance", "admin"];
    const WRITERS: &[&str] = &["billing", "admin"];
    const FINANCE: &[&str] = &["finance", "admin"];
    match (method, path) {
        // Imports and exports, created and downloaded: finance and admin.
        ("GET", "/v1/exports/{id}.csv") => FINANCE,
        ("POST", "/v1/imports/{id}")
        | ("POST", "/v1/exports")
        | ("POST", "/v1/exports/{id}/acknowledgement") => FINANCE,
        // Settling an incident for real (the body `{}` is `dry_run: false`).
        ("POST", "/v1/incidents/{id}/credits") => &["billing", "finance", "admin"],
        ("GET", _) | ("POST", "/v1/quote") => ALL,
        ("POST", "/v1/plans") | ("PUT", "/v1/plans/{id}") => WRITERS,
        ("POST", "/v1/customers") | ("POST", "/v1/customers/{id}/plan-changes") => WRITERS,
        ("POST", "/v1/incidents") | ("PATCH", "/v1/incidents/{id}") => WRITERS,
        ("POST", "/v1/customers/{id}/credits") | ("POST", "/v1/credits/{entry_id}/reversal") => {
            WRITERS
        }
        other => panic!("the role table has no row for {other:?}"),
    }
}

fn public(path: &str) -> bool {
    matches!(
        path,
        "/healthz" | "/metrics" | "/openapi.yaml" | "/problems/{slug}"
    )
}

fn concrete(path: &str) -> String {
    path.replace("{id}", "nobody")
        .replace("{entry_id}", "cre_1")
}

#[test]
fn every_role_against_every_route() {
    let app = spawn_app();
    let mut checked = 0;
    for r in ROUTES.iter().filter(|r| !public(r.path)) {
        let path = concrete(r.path);
        let body = (r.method != "GET").then_some("{}");
        // No token, and a token that is not a key: 401 with WWW-Authenticate.
        let a = app.call(r.method, &path, None, body, &[]);
        a.problem(401, "unauthorized");
        assert_eq!(a.header("www-authenticate"), Some("Bearer"));
        let a = app.call(r.method, &path, Some("slc_not-a-key"), body, &[]);
        a.problem(401, "unauthorized");
        for role in ["support", "billing", "finance", "admin"] {
            let a = app.call(r.method, &path, Some(app.token(role)), body, &[]);
            if allowed(r.method, r.path).contains(&role) {
                assert!(
                    a.status != 401 && a.status != 403,
                    "{role} {} {path}: {} {}",
                    r.method,
                    a.status,
                    a.body
                );
            } else {
                a.problem(403, "forbidden");
            }
            checked += 1;
        }
    }
    assert!(checked >= 4 * 15, "{checked}");
    // Public routes need no token.
    for path in [
        "/healthz",
        "/openapi.yaml",
        "/metrics",
        "/problems/validation",
    ] {
        assert_eq!(app.call("GET", path, None, None, &[]).status, 200, "{path}");
    }
}

#[test]
fn a_revoked_key_gets_401_and_tokens_never_appear_in_answers() {
    let app = spawn_app();
    let store = Store::open(&app.db).unwrap();
    let token = app.token("billing").to_string();
    assert_eq!(
        app.call("GET", "/v1/plans", Some(&token), None, &[]).status,
        200
    );
    keys::revoke_key(&mut store.conn().unwrap(), "billing", 1).unwrap();
    let a = app.call("GET", "/v1/plans", Some(&token), None, &[]);
    a.problem(401, "unauthorized");
    assert!(!a.body.contains(&token));
    // Tokens carry the prefix secret scanners look for and 256 random bits.
    assert!(
        token.starts_with("slc_") && token.len() == 4 + 64,
        "{token}"
    );
}

#[test]
fn created_by_is_the_keys_name() {
    let app = spawn_app();
    app.seed();
    let t = app.token("billing").to_string();
    let a = app.call(
        "POST",
        "/v1/customers/acme/credits",
        Some(&t),
        Some(
            r#"{"amount": "5.00", "reason": "Sorry for the slow dashboard", "period": "2026-01"}"#,
        ),
        &[],
    );
    assert_eq!(a.status, 201, "{}", a.body);
    assert_eq!(a.json()["created_by"], "billing");
    assert_eq!(a.json()["amount"], "5.00");
}
