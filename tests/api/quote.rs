//! `POST /v1/quote` answers exactly what `sla-credit quote` prints, byte for byte, for the
//! public cases and every golden vector (their figures are checked by tests/golden.rs).

use std::process::Command;

use crate::spawn_app;

fn cases() -> Vec<serde_json::Value> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/vectors");
    let mut out = Vec::new();
    for name in ["public.json", "golden.json", "dst-gaps.json", "bounds.json"] {
        let text = std::fs::read_to_string(format!("{dir}/{name}")).unwrap();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        let list = v.get("cases").cloned().unwrap_or(v);
        for c in list.as_array().unwrap() {
            out.push(c["request"].clone());
        }
    }
    out
}

#[test]
fn http_and_cli_give_the_same_bytes() {
    let app = spawn_app();
    let token = app.token("support").to_string();
    let dir = tempfile::tempdir().unwrap();
    let cases = cases();
    assert!(cases.len() >= 100, "{}", cases.len());
    for (i, request) in cases.iter().enumerate() {
        let body = serde_json::to_string(request).unwrap();
        let file = dir.path().join(format!("q{i}.json"));
        std::fs::write(&file, &body).unwrap();
        let cli = Command::new(env!("CARGO_BIN_EXE_sla-credit"))
            .arg("quote")
            .arg(&file)
            .output()
            .unwrap();
        let a = app.call("POST", "/v1/quote", Some(&token), Some(&body), &[]);
        if cli.status.success() {
            assert_eq!(a.status, 200, "case {i}: {}", a.body);
            assert_eq!(a.body.as_bytes(), cli.stdout.as_slice(), "case {i}");
        } else {
            assert_eq!(cli.status.code(), Some(2), "case {i}");
            let p = a.json();
            assert!(a.status == 422 || a.status == 400, "case {i}: {}", a.body);
            // The CLI's first `field: message` line is the problem's first error.
            let first = String::from_utf8_lossy(&cli.stderr)
                .lines()
                .next()
                .unwrap_or("")
                .to_string();
            let e = &p["errors"][0];
            assert_eq!(
                first,
                format!(
                    "{}: {}",
                    e["field"].as_str().unwrap(),
                    e["message"].as_str().unwrap()
                ),
                "case {i}"
            );
        }
    }
}
