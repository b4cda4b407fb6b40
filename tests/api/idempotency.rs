//! Idempotency-Key: retries never make a second effect.

use std::sync::Arc;

use crate::spawn_app;

const BODY: &str = r#"{"amount": "5.00", "reason": "Sorry for Tuesday", "period": "2026-01"}"#;

fn entries(app: &crate::TestApp) -> usize {
    let a = app.admin("GET", "/v1/ledger?customer_id=acme", None);
    a.json()["data"].as_array().unwrap().len()
}

#[test]
fn concurrent_retries_make_one_entry() {
    let app = Arc::new(spawn_app());
    app.seed();
    let token = app.token("billing").to_string();
    let threads: Vec<_> = (0..32)
        .map(|_| {
            let app = Arc::clone(&app);
            let token = token.clone();
            std::thread::spawn(move || {
                app.call(
                    "POST",
                    "/v1/customers/acme/credits",
                    Some(&token),
                    Some(BODY),
                    &[("Idempotency-Key", "gw-2026-01-acme")],
                )
            })
        })
        .collect();
    let answers: Vec<_> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    let created: Vec<_> = answers.iter().filter(|a| a.status == 201).collect();
    assert!(!created.is_empty());
    let first_body = &created[0].body;
    for a in &answers {
        match a.status {
            201 => assert_eq!(&a.body, first_body, "every 201 is the first response"),
            409 => {
                a.problem(409, "idempotency-in-flight");
                assert!(a.header("retry-after").is_some());
            }
            other => panic!("unexpected {other}: {}", a.body),
        }
    }
    let originals = created
        .iter()
        .filter(|a| a.header("idempotent-replayed").is_none())
        .count();
    assert_eq!(originals, 1, "exactly one request ran");
    assert_eq!(entries(&app), 1);

    // A retry after the first finished replays it byte for byte.
    let again = app.call(
        "POST",
        "/v1/customers/acme/credits",
        Some(&token),
        Some(BODY),
        &[("Idempotency-Key", "gw-2026-01-acme")],
    );
    assert_eq!(again.status, 201);
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(&again.body, first_body);
    assert_eq!(entries(&app), 1);

    // The same key with another body: 422, nothing written.
    let other = app.call(
        "POST",
        "/v1/customers/acme/credits",
        Some(&token),
        Some(&BODY.replace("5.00", "6.00")),
        &[("Idempotency-Key", "gw-2026-01-acme")],
    );
    other.problem(422, "idempotency-key-reused");
    assert_eq!(entries(&app), 1);

    // The same key under another API key is another key.
    let admin = app.token("admin").to_string();
    let a = app.call(
        "POST",
        "/v1/customers/acme/credits",
        Some(&admin),
        Some(BODY),
        &[("Idempotency-Key", "gw-2026-01-acme")],
    );
    assert_eq!(a.status, 201);
    assert!(a.header("idempotent-replayed").is_none());
    assert_eq!(entries(&app), 2);
}

#[test]
fn handler_errors_are_replayed_and_bad_requests_are_not_stored() {
    let app = spawn_app();
    app.seed();
    let token = app.token("billing").to_string();
    let missing = r#"{"amount": "5.00", "reason": "x"}"#;
    let a = app.call(
        "POST",
        "/v1/customers/ghost/credits",
        Some(&token),
        Some(missing),
        &[("Idempotency-Key", "k1")],
    );
    a.problem(404, "not-found");
    let b = app.call(
        "POST",
        "/v1/customers/ghost/credits",
        Some(&token),
        Some(missing),
        &[("Idempotency-Key", "k1")],
    );
    assert_eq!(b.status, 404);
    assert_eq!(b.header("idempotent-replayed"), Some("true"));
    assert_eq!(a.body, b.body);
    // A 400 is never stored: the corrected retry with the same key runs.
    let bad = app.call(
        "POST",
        "/v1/customers/acme/credits",
        Some(&token),
        Some("{"),
        &[("Idempotency-Key", "k2")],
    );
    bad.problem(400, "bad-request");
    let good = app.call(
        "POST",
        "/v1/customers/acme/credits",
        Some(&token),
        Some(BODY),
        &[("Idempotency-Key", "k2")],
    );
    // A different body for the same key would be 422 had the 400 been stored.
    assert_eq!(good.status, 201, "{}", good.body);
    // A goodwill reference is a natural key beyond the idempotency window.
    let with_ref = r#"{"days": 1, "reason": "Sorry", "period": "2026-01", "reference": "T-77"}"#;
    let first = app.call(
        "POST",
        "/v1/customers/acme/credits",
        Some(&token),
        Some(with_ref),
        &[],
    );
    assert_eq!(first.status, 201, "{}", first.body);
    // 1 day × 100.00 ÷ 31 days = 3.2258… → 3.23 (half_up).
    assert_eq!(first.json()["amount"], "3.23");
    assert_eq!(first.json()["reference"], "T-77");
    let id = first.json()["id"].as_str().unwrap().to_string();
    let second = app.call(
        "POST",
        "/v1/customers/acme/credits",
        Some(&token),
        Some(with_ref),
        &[],
    );
    let p = second.problem(409, "id-taken");
    assert!(p["detail"].as_str().unwrap().contains(&id), "{p}");
}
