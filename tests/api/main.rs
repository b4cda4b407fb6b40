//! The HTTP API as clients use it: the real server on a loopback port (port 0), a fresh
//! SQLite file per test, requests over TCP. Expected figures are worked by hand beside each
//! assertion.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)]

mod console;
mod exports;
mod idempotency;
mod imports;
mod openapi;
mod quote;
mod restitution;
mod roles;
mod routes;

use std::collections::HashMap;
use std::sync::mpsc;

use serde_json::Value;
use sla_credit::http::{start, Settings};
use sla_credit::store::{keys, Store};
use sla_credit::wire::keys::{check_new_key, Role};

/// A running server with a key per role.
pub struct TestApp {
    pub base: String,
    pub db: String,
    pub tokens: HashMap<&'static str, String>,
    handle: actix_web::dev::ServerHandle,
    _dir: tempfile::TempDir,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        // Sends the stop command; the server's thread ends with it.
        drop(self.handle.stop(false));
    }
}

/// An answer: status, headers (lower-case names) and body text.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: HashMap<String, String>,
    pub body: String,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }

    /// A problem+json answer with this status and type.
    pub fn problem(&self, status: u16, kind: &str) -> Value {
        assert_eq!(self.status, status, "{}", self.body);
        assert_eq!(
            self.header("content-type"),
            Some("application/problem+json"),
            "{}",
            self.body
        );
        let p = self.json();
        assert_eq!(p["type"], format!("/problems/{kind}"), "{}", self.body);
        assert_eq!(p["status"], status);
        p
    }
}

pub fn spawn_app() -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("api.db").display());
    let store = Store::open(&db).unwrap();
    let mut tokens = HashMap::new();
    for role in Role::ALL {
        let new = check_new_key(role.as_str(), role.as_str()).unwrap();
        let token = keys::create_key(&mut store.conn().unwrap(), &new, 0).unwrap();
        tokens.insert(role.as_str(), token);
    }
    drop(store);
    let settings = Settings {
        bind: "127.0.0.1:0".into(),
        database: db.clone(),
        pool_size: 4,
        page_cache_mib: 2,
        mmap_mib: 16,
        workers: 2,
        json_limit: 64 * 1024,
        // Revocation must show at once in the tests.
        auth_cache_ms: 0,
    };
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            let running = start(settings).expect("server starts");
            tx.send((running.addr, running.server.handle())).unwrap();
            running.server.await
        })
    });
    let (addr, handle) = rx.recv().unwrap();
    TestApp {
        base: format!("http://{addr}"),
        db,
        tokens,
        handle,
        _dir: dir,
    }
}

impl TestApp {
    pub fn token(&self, role: &str) -> &str {
        &self.tokens[role]
    }

    /// A request with an optional token, JSON body and extra headers.
    pub fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&str>,
        headers: &[(&str, &str)],
    ) -> Answer {
        let mut req = ureq::request(method, &format!("{}{path}", self.base));
        if let Some(t) = token {
            req = req.set("Authorization", &format!("Bearer {t}"));
        }
        let mut has_ct = false;
        for (k, v) in headers {
            has_ct |= k.eq_ignore_ascii_case("content-type");
            req = req.set(k, v);
        }
        let result = match body {
            Some(b) => {
                if !has_ct {
                    req = req.set("Content-Type", "application/json");
                }
                req.send_string(b)
            }
            None => req.call(),
        };
        let resp = match result {
            Ok(r) => r,
            Err(ureq::Error::Status(_, r)) => r,
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
        let body = resp.into_string().unwrap_or_default();
        Answer {
            status,
            headers,
            body,
        }
    }

    /// As admin.
    pub fn admin(&self, method: &str, path: &str, body: Option<&str>) -> Answer {
        let t = self.token("admin").to_string();
        self.call(method, path, Some(&t), body, &[])
    }

    /// A plan, a customer and (optionally) an ended outage, as admin.
    pub fn seed(&self) {
        let a = self.admin(
            "POST",
            "/v1/plans",
            Some(
                r#"{"id": "basic", "name": "Basic", "price": "100.00", "currency": "USD",
                    "billing_cycle": "monthly",
                    "policy": {"rule": {"kind": "downtime_multiple", "multiplier": "1"}}}"#,
            ),
        );
        assert_eq!(a.status, 201, "{}", a.body);
        let a = self.admin(
            "POST",
            "/v1/customers",
            Some(r#"{"id": "acme", "name": "Acme Corp", "email": "ops@acme.test", "plan_id": "basic"}"#),
        );
        assert_eq!(a.status, 201, "{}", a.body);
    }
}
