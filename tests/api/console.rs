//! The web console as a browser meets it, over real HTTP: the session cookie, the sign-in
//! redirect, the security headers, escaping, CSRF, and the roles checked on the server.

use std::collections::HashMap;

use crate::{spawn_app, Answer, TestApp};

const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// A cookie jar and a client that does not follow redirects.
struct Browser<'a> {
    app: &'a TestApp,
    agent: ureq::Agent,
    cookies: HashMap<String, String>,
    /// Every `Set-Cookie` of the last answer.
    set_cookies: Vec<String>,
}

impl<'a> Browser<'a> {
    fn new(app: &'a TestApp) -> Self {
        Browser {
            app,
            agent: ureq::AgentBuilder::new().redirects(0).build(),
            cookies: HashMap::new(),
            set_cookies: Vec::new(),
        }
    }

    fn request(&self, method: &str, path: &str) -> ureq::Request {
        let mut r = self
            .agent
            .request(method, &format!("{}{path}", self.app.base));
        if !self.cookies.is_empty() {
            let c: Vec<String> = self
                .cookies
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            r = r.set("Cookie", &c.join("; "));
        }
        r
    }

    fn finish(&mut self, result: Result<ureq::Response, ureq::Error>) -> Answer {
        let resp = match result {
            Ok(r) | Err(ureq::Error::Status(_, r)) => r,
            Err(e) => panic!("{e}"),
        };
        self.set_cookies = resp
            .all("set-cookie")
            .iter()
            .map(|s| s.to_string())
            .collect();
        for c in &self.set_cookies {
            let pair = c.split(';').next().unwrap();
            let (k, v) = pair.split_once('=').unwrap();
            if v.is_empty() || c.contains("Max-Age=0") {
                self.cookies.remove(k);
            } else {
                self.cookies.insert(k.to_string(), v.to_string());
            }
        }
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

    fn get(&mut self, path: &str) -> Answer {
        let r = self.request("GET", path).call();
        self.finish(r)
    }

    fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Answer {
        let r = self.request("POST", path).send_form(form);
        self.finish(r)
    }

    fn post_with(&mut self, path: &str, form: &[(&str, &str)], headers: &[(&str, &str)]) -> Answer {
        let mut r = self.request("POST", path);
        for (k, v) in headers {
            r = r.set(k, v);
        }
        let r = r.send_form(form);
        self.finish(r)
    }

    /// Signs in with a role's key; answers the sign-in POST.
    fn sign_in(&mut self, role: &str) -> Answer {
        let page = self.get("/");
        assert_eq!(page.status, 200, "{}", page.body);
        let pre = csrf(&page.body);
        let token = self.app.token(role).to_string();
        let a = self.post(
            "/sign-in",
            &[("csrf", &pre), ("token", &token), ("next", "/customers")],
        );
        assert_eq!(a.status, 303, "{}", a.body);
        a
    }
}

/// The first CSRF hidden field of a page.
fn csrf(html: &str) -> String {
    let at = html.find("name=\"csrf\" value=\"").expect("a CSRF field");
    let rest = &html[at + "name=\"csrf\" value=\"".len()..];
    rest[..rest.find('"').unwrap()].to_string()
}

fn signed_in<'a>(app: &'a TestApp, role: &str) -> Browser<'a> {
    let mut b = Browser::new(app);
    b.sign_in(role);
    b
}

/// The customer's ledger entries, through the API.
fn entries(app: &TestApp, customer: &str) -> usize {
    let a = app.admin("GET", &format!("/v1/customers/{customer}/credits"), None);
    assert_eq!(a.status, 200, "{}", a.body);
    a.json()["data"].as_array().unwrap().len()
}

/// An ended one-hour outage on every customer: 3600 s of January's 2 678 400 s at
/// USD 100.00 × multiplier 1 = 0.1344… → 0.13 USD.
fn seed_incident(app: &TestApp) {
    let a = app.admin(
        "POST",
        "/v1/incidents",
        Some(
            r#"{"id": "inc-1", "title": "Database down", "kind": "outage",
                "started_at": "2026-01-10T00:00:00Z", "ended_at": "2026-01-10T01:00:00Z"}"#,
        ),
    );
    assert_eq!(a.status, 201, "{}", a.body);
}

#[test]
fn sign_in_sets_an_http_only_strict_session_cookie_and_sign_out_clears_it() {
    let app = spawn_app();
    app.seed();
    let mut b = Browser::new(&app);
    let a = b.sign_in("support");
    assert_eq!(a.header("location"), Some("/customers"));
    let cookie = b
        .set_cookies
        .iter()
        .find(|c| c.starts_with("slc_console="))
        .expect("a session cookie")
        .clone();
    assert!(cookie.contains("; HttpOnly"), "{cookie}");
    assert!(cookie.contains("; SameSite=Strict"), "{cookie}");
    assert!(cookie.contains("; Path=/"), "{cookie}");
    let id = cookie
        .split(';')
        .next()
        .unwrap()
        .trim_start_matches("slc_console=");
    assert_eq!(id.len(), 64, "256 random bits in hex: {id}");
    assert!(id.bytes().all(|c| c.is_ascii_hexdigit()));
    let page = b.get("/customers");
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("Acme Corp"), "{}", page.body);
    assert!(page.body.contains("support"), "the role is shown");

    // Signing out ends the session on the server: the old cookie no longer opens a page.
    let old = b.cookies.clone();
    let token = csrf(&page.body);
    let a = b.post("/sign-out", &[("csrf", &token)]);
    assert_eq!(a.status, 303);
    assert!(b
        .set_cookies
        .iter()
        .any(|c| c.starts_with("slc_console=;") && c.contains("Max-Age=0")));
    b.cookies = old;
    let a = b.get("/customers");
    assert_eq!(a.status, 303);
    assert!(a.header("location").unwrap().starts_with("/?next="));
}

#[test]
fn a_wrong_key_does_not_sign_in() {
    let app = spawn_app();
    let mut b = Browser::new(&app);
    let page = b.get("/");
    let pre = csrf(&page.body);
    let a = b.post("/sign-in", &[("csrf", &pre), ("token", "slc_nope")]);
    assert_eq!(a.status, 401);
    assert!(a.body.contains("not a live API key"), "{}", a.body);
    assert!(!b.cookies.contains_key("slc_console"));
    // No form token (another site posting the sign-in form): refused.
    let mut other = Browser::new(&app);
    let token = app.token("admin").to_string();
    let a = other.post("/sign-in", &[("token", &token)]);
    assert_eq!(a.status, 403, "{}", a.body);
    assert!(!other.cookies.contains_key("slc_console"));
}

#[test]
fn pages_without_a_session_redirect_to_sign_in() {
    let app = spawn_app();
    app.seed();
    let mut b = Browser::new(&app);
    for path in [
        "/customers",
        "/customers?q=ac",
        "/customers/acme",
        "/incidents",
        "/incidents/x",
    ] {
        let a = b.get(path);
        assert_eq!(a.status, 303, "{path}: {}", a.body);
        let to = a.header("location").unwrap();
        assert!(
            to.starts_with("/?next=%2F") || to.starts_with("/?next=/"),
            "{path}: {to}"
        );
    }
    let a = b.post(
        "/customers/acme/goodwill",
        &[("grant", "days"), ("value", "1"), ("reason", "x")],
    );
    assert_eq!(a.status, 303);
    assert_eq!(entries(&app, "acme"), 0);
    let a = b.get("/console/search?q=a");
    assert_eq!(a.status, 401);
    // A forged session id is no session.
    b.cookies.insert("slc_console".into(), "0".repeat(64));
    assert_eq!(b.get("/customers").status, 303);
}

#[test]
fn every_console_answer_has_a_strict_csp_and_nosniff() {
    let app = spawn_app();
    app.seed();
    let mut b = Browser::new(&app);
    let sign_in = b.get("/");
    b.sign_in("admin");
    let pages = [
        sign_in,
        b.get("/customers"),
        b.get("/customers/acme"),
        b.get("/incidents"),
        b.get("/customers/nobody"),
        b.get("/console/static/console.js"),
        b.get("/console/static/console.css"),
    ];
    for a in &pages {
        let csp = a.header("content-security-policy").expect("a CSP");
        assert_eq!(csp, CSP);
        assert!(!csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"));
        assert_eq!(a.header("x-content-type-options"), Some("nosniff"));
        assert_eq!(a.header("x-frame-options"), Some("DENY"));
        // Nothing inline for the CSP to refuse.
        assert!(
            !a.body.contains("<script>") && !a.body.contains("style="),
            "{}",
            a.body
        );
    }
    assert_eq!(pages[4].status, 404);
    assert!(pages[4]
        .header("content-type")
        .unwrap()
        .starts_with("text/html"));
    assert!(pages[5]
        .header("content-type")
        .unwrap()
        .starts_with("text/javascript"));
    assert!(pages[6]
        .header("content-type")
        .unwrap()
        .starts_with("text/css"));
    // The API still answers its own paths, problem+json included.
    app.call("GET", "/v1/nope", None, None, &[])
        .problem(404, "not-found");
    let a = app.admin("GET", "/v1/customers", None);
    assert_eq!(a.status, 200);
    assert_eq!(a.header("content-type"), Some("application/json"));
}

#[test]
fn a_script_name_renders_as_text() {
    let app = spawn_app();
    app.seed();
    let a = app.admin(
        "POST",
        "/v1/customers",
        Some(r#"{"id": "xss", "name": "<script>alert(1)</script>", "email": "x@evil.test", "plan_id": "basic"}"#),
    );
    assert_eq!(a.status, 201, "{}", a.body);
    let mut b = signed_in(&app, "support");
    for path in ["/customers?q=xss", "/customers/xss"] {
        let a = b.get(path);
        assert_eq!(a.status, 200, "{}", a.body);
        assert!(
            a.body.contains("&lt;script&gt;alert(1)&lt;"),
            "{path}: {}",
            a.body
        );
        assert!(!a.body.contains("<script>alert"), "{path}: {}", a.body);
    }
    // The search endpoint answers JSON, which the script writes with textContent.
    let a = b.get("/console/search?q=xs");
    assert_eq!(a.status, 200);
    assert_eq!(a.json()[0]["name"], "<script>alert(1)</script>");
    assert_eq!(a.json()[0]["href"], "/customers/xss");
}

#[test]
fn a_post_without_the_csrf_token_is_refused() {
    let app = spawn_app();
    app.seed();
    seed_incident(&app);
    let mut b = signed_in(&app, "billing");
    let page = b.get("/customers/acme");
    let token = csrf(&page.body);
    let form = [("grant", "days"), ("value", "1"), ("reason", "Sorry")];
    let a = b.post("/customers/acme/goodwill", &form);
    assert_eq!(a.status, 403, "{}", a.body);
    let a = b.post(
        "/customers/acme/goodwill",
        &[
            ("csrf", "0".repeat(64).as_str()),
            ("grant", "days"),
            ("value", "1"),
            ("reason", "Sorry"),
        ],
    );
    assert_eq!(a.status, 403, "{}", a.body);
    // The right token from another site's page.
    let a = b.post_with(
        "/customers/acme/goodwill",
        &[
            ("csrf", &token),
            ("grant", "days"),
            ("value", "1"),
            ("reason", "Sorry"),
        ],
        &[("Origin", "http://evil.test")],
    );
    assert_eq!(a.status, 403, "{}", a.body);
    let a = b.post_with(
        "/customers/acme/goodwill",
        &[
            ("csrf", &token),
            ("grant", "days"),
            ("value", "1"),
            ("reason", "Sorry"),
        ],
        &[("Origin", "null")],
    );
    assert_eq!(a.status, 403, "an opaque origin: {}", a.body);
    let a = b.post("/incidents/inc-1/settle", &[("action", "settle")]);
    assert_eq!(a.status, 403, "{}", a.body);
    assert_eq!(entries(&app, "acme"), 0, "nothing written");
    // With the token it goes through.
    let a = b.post(
        "/customers/acme/goodwill",
        &[
            ("csrf", &token),
            ("grant", "days"),
            ("value", "1"),
            ("reason", "Sorry"),
        ],
    );
    assert_eq!(a.status, 303, "{}", a.body);
    assert_eq!(entries(&app, "acme"), 1);
}

#[test]
fn a_support_session_sees_no_write_controls_and_its_forged_posts_are_403() {
    let app = spawn_app();
    app.seed();
    seed_incident(&app);
    let mut b = signed_in(&app, "support");
    let page = b.get("/customers/acme");
    assert_eq!(page.status, 200);
    assert!(!page.body.contains("goodwill-form"), "{}", page.body);
    let token = csrf(&page.body);
    let a = b.post(
        "/customers/acme/goodwill",
        &[
            ("csrf", &token),
            ("grant", "amount"),
            ("value", "5.00"),
            ("reason", "Forged"),
        ],
    );
    assert_eq!(a.status, 403, "{}", a.body);
    assert!(
        a.body.contains("support key may not grant goodwill"),
        "{}",
        a.body
    );
    assert_eq!(entries(&app, "acme"), 0, "nothing written");

    let page = b.get("/incidents/inc-1");
    assert!(page.body.contains("id=\"dry-run\""));
    assert!(!page.body.contains("id=\"settle\""), "{}", page.body);
    let a = b.post(
        "/incidents/inc-1/settle",
        &[("csrf", &token), ("action", "settle")],
    );
    assert_eq!(a.status, 403, "{}", a.body);
    assert_eq!(entries(&app, "acme"), 0, "nothing written");
    // A dry run is a read: support may.
    let a = b.post(
        "/incidents/inc-1/settle",
        &[("csrf", &token), ("action", "dry-run")],
    );
    assert_eq!(a.status, 200, "{}", a.body);
    assert!(a.body.contains("0.13 USD"), "{}", a.body);
    assert_eq!(entries(&app, "acme"), 0);
}

#[test]
fn billing_grants_goodwill_and_sees_its_mistakes_on_the_page() {
    let app = spawn_app();
    app.seed();
    let mut b = signed_in(&app, "billing");
    let page = b.get("/customers/acme");
    assert!(page.body.contains("goodwill-form"));
    let token = csrf(&page.body);
    let a = b.post(
        "/customers/acme/goodwill",
        &[
            ("csrf", &token),
            ("grant", "days"),
            ("value", "abc"),
            ("reason", ""),
        ],
    );
    assert_eq!(a.status, 422, "{}", a.body);
    assert!(a.body.contains("The credit was not granted"), "{}", a.body);
    assert!(a.body.contains("<code>reason</code>"), "{}", a.body);
    assert_eq!(entries(&app, "acme"), 0);
    let a = b.post(
        "/customers/acme/goodwill",
        &[
            ("csrf", &token),
            ("grant", "amount"),
            ("value", "12.50"),
            ("reason", "Sorry"),
            ("reference", "T-1"),
        ],
    );
    assert_eq!(a.status, 303, "{}", a.body);
    let to = a.header("location").unwrap().to_string();
    let page = b.get(&to);
    assert!(page.body.contains("12.50 USD"), "{}", page.body);
    assert!(page.body.contains("Goodwill credit cre_"), "{}", page.body);
    // The same reference again: a 409 on the page, nothing written.
    let a = b.post(
        "/customers/acme/goodwill",
        &[
            ("csrf", &token),
            ("grant", "amount"),
            ("value", "1.00"),
            ("reason", "Again"),
            ("reference", "T-1"),
        ],
    );
    assert_eq!(a.status, 409, "{}", a.body);
    assert_eq!(entries(&app, "acme"), 1);
    // A form that cannot be read is a 400 page, never a 500.
    let a = b.post_with(
        "/customers/acme/goodwill",
        &[("csrf", &token), ("grant", "days"), ("grant", "amount")],
        &[],
    );
    assert!(
        a.status == 400 || a.status == 422,
        "{}: {}",
        a.status,
        a.body
    );
}

#[test]
fn dry_run_then_settle_an_incident() {
    let app = spawn_app();
    app.seed();
    seed_incident(&app);
    let mut b = signed_in(&app, "finance");
    let list = b.get("/incidents");
    assert!(list.body.contains("Database down"), "{}", list.body);
    let page = b.get("/incidents/inc-1");
    assert!(page.body.contains("2026-01-10T00:00:00Z"), "{}", page.body);
    assert!(page.body.contains("every customer"));
    let token = csrf(&page.body);
    let a = b.post(
        "/incidents/inc-1/settle",
        &[("csrf", &token), ("action", "dry-run")],
    );
    assert_eq!(a.status, 200, "{}", a.body);
    assert!(a.body.contains("data-dry-run=\"true\""));
    assert!(
        a.body.contains("<li data-currency=\"USD\">0.13 USD</li>"),
        "{}",
        a.body
    );
    assert!(a.body.contains("2026-01: 1 customer(s)"), "{}", a.body);
    assert_eq!(entries(&app, "acme"), 0);
    let a = b.post(
        "/incidents/inc-1/settle",
        &[("csrf", &token), ("action", "settle")],
    );
    assert_eq!(a.status, 200, "{}", a.body);
    assert!(a.body.contains("data-dry-run=\"false\""));
    assert!(a.body.contains("1 entry appended"), "{}", a.body);
    assert_eq!(entries(&app, "acme"), 1);
    // The customer page reads the credit and its explanation.
    let page = b.get("/customers/acme");
    assert!(
        page.body.contains("<td class=\"num total\">0.13 USD</td>"),
        "{}",
        page.body
    );
    assert!(page.body.contains("<details>"));
    let a = b.post(
        "/incidents/nobody/settle",
        &[("csrf", &token), ("action", "dry-run")],
    );
    assert_eq!(a.status, 404, "{}", a.body);
}

impl Browser<'_> {
    /// The upload form's POST: `multipart/form-data` with the CSRF token, the kind and a file.
    fn upload(&mut self, csrf: &str, kind: &str, name: &str, file: &str) -> Answer {
        let boundary = "----console-test-boundary";
        let mut body = String::new();
        for (field, value) in [("csrf", csrf), ("kind", kind)] {
            body.push_str(&format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"\r\n\r\n{value}\r\n"
            ));
        }
        body.push_str(&format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n\
             Content-Type: text/csv\r\n\r\n{file}\r\n--{boundary}--\r\n"
        ));
        let r = self
            .request("POST", "/imports")
            .set(
                "Content-Type",
                &format!("multipart/form-data; boundary={boundary}"),
            )
            .send_bytes(body.as_bytes());
        self.finish(r)
    }
}

/// The value of a hidden field of a page.
fn hidden(html: &str, name: &str) -> String {
    let key = format!("name=\"{name}\" value=\"");
    let at = html.find(&key).unwrap_or_else(|| panic!("no field {name}"));
    let rest = &html[at + key.len()..];
    rest[..rest.find('"').unwrap()].to_string()
}

fn customer_exists(app: &TestApp, id: &str) -> bool {
    app.admin("GET", &format!("/v1/customers/{id}"), None)
        .status
        == 200
}

#[test]
fn finance_uploads_a_csv_dry_run_first_then_confirms() {
    let app = spawn_app();
    app.seed();
    let mut b = signed_in(&app, "finance");
    let page = b.get("/imports");
    assert_eq!(page.status, 200);
    assert!(page.body.contains("id=\"upload-form\""), "{}", page.body);
    let token = csrf(&page.body);
    // Row 3's zone does not exist: the whole file is refused, even its good row 2.
    let bad = "id,name,timezone,plan_id\ngood,Good,UTC,basic\nbad,Bad,Mars/Olympus,basic\n";
    let a = b.upload(&token, "customers", "bad.csv", bad);
    assert_eq!(a.status, 422, "{}", a.body);
    assert!(a.body.contains("id=\"row-errors\""), "{}", a.body);
    assert!(a.body.contains("Mars&#x2f;Olympus"), "{}", a.body);
    assert!(!customer_exists(&app, "good"), "nothing stored");
    // Without the token, nothing is read.
    let a = b.upload(
        "0",
        "customers",
        "good.csv",
        "id,name,plan_id\nnew,New,basic\n",
    );
    assert_eq!(a.status, 403, "{}", a.body);
    // A clean file: a dry run (nothing stored), then the confirmation imports it.
    let good = "id,name,plan_id\nnew,New <b>Co</b>,basic\n";
    let a = b.upload(&token, "customers", "good.csv", good);
    assert_eq!(a.status, 200, "{}", a.body);
    assert!(a.body.contains("id=\"confirm-import\""), "{}", a.body);
    assert!(!customer_exists(&app, "new"), "a dry run stores nothing");
    let sha = hidden(&a.body, "sha256");
    let form = [
        ("csrf", token.as_str()),
        ("kind", "customers"),
        ("sha256", &sha),
    ];
    let wrong = [
        ("csrf", token.as_str()),
        ("kind", "plans"),
        ("sha256", &sha),
    ];
    assert_eq!(b.post("/imports/confirm", &wrong).status, 409);
    let a = b.post("/imports/confirm", &form);
    assert_eq!(a.status, 303, "{}", a.body);
    assert_eq!(a.header("location"), Some("/imports/imp_1?stored=1"));
    assert!(customer_exists(&app, "new"));
    // The checked file is used once.
    assert_eq!(b.post("/imports/confirm", &form).status, 409);
    let page = b.get("/imports/imp_1");
    assert!(page.body.contains(&sha), "{}", page.body);
    // The same file again is recognized as imp_1.
    let a = b.upload(&token, "customers", "good.csv", good);
    assert!(a.body.contains("id=\"already-imported\""), "{}", a.body);
    assert!(!a.body.contains("id=\"confirm-import\""), "{}", a.body);
}

#[test]
fn a_support_session_may_not_import_or_export() {
    let app = spawn_app();
    app.seed();
    let mut b = signed_in(&app, "support");
    let page = b.get("/imports");
    assert_eq!(page.status, 200);
    assert!(!page.body.contains("upload-form"), "{}", page.body);
    let token = csrf(&page.body);
    let a = b.upload(
        &token,
        "customers",
        "f.csv",
        "id,name,plan_id\nforged,F,basic\n",
    );
    assert_eq!(a.status, 403, "{}", a.body);
    assert!(!customer_exists(&app, "forged"));
    let a = b.post(
        "/imports/confirm",
        &[("csrf", &token), ("kind", "customers"), ("sha256", "0")],
    );
    assert_eq!(a.status, 403, "{}", a.body);
    let page = b.get("/exports");
    assert!(!page.body.contains("create-export"), "{}", page.body);
    let a = b.post("/exports", &[("csrf", &token)]);
    assert_eq!(a.status, 403, "{}", a.body);
    let list = app.admin("GET", "/v1/exports", None).json();
    assert_eq!(list["data"].as_array().unwrap().len(), 0, "no batch made");
    // A batch made by finance: support reads it, but may not download or acknowledge it.
    let mut f = signed_in(&app, "finance");
    let page = f.get("/exports");
    assert_eq!(f.post("/exports", &[]).status, 403, "no token");
    let a = f.post("/exports", &[("csrf", &csrf(&page.body))]);
    assert_eq!(a.status, 303, "{}", a.body);
    assert_eq!(a.header("location"), Some("/exports/exp_1?created=1"));
    let page = b.get("/exports/exp_1");
    assert_eq!(page.status, 200);
    assert!(!page.body.contains("download-plain"), "{}", page.body);
    assert_eq!(b.get("/exports/exp_1/csv").status, 403);
    let a = b.post(
        "/exports/exp_1/acknowledgement",
        &[("csrf", &token), ("reference", "load-1")],
    );
    assert_eq!(a.status, 403, "{}", a.body);
    let v = app.admin("GET", "/v1/exports/exp_1", None).json();
    assert_eq!(v["status"], "created");
}
