//! Golden vectors (fixtures/vectors/*.json): quote requests with credits worked by hand from
//! docs/rules.md, run through the engine, and a few through the real `sla-credit quote`.

use std::path::{Path, PathBuf};

use serde_json::Value;
use sla_credit::domain::{compute, quote::parse_quote, quote::QuoteResponse};

fn vector_files() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/vectors");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    files
}

fn cases(file: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    let doc: Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    doc["cases"].as_array().cloned().unwrap_or_default()
}

/// Runs one case; returns a description of every mismatch.
fn check_case(case: &Value) -> Vec<String> {
    let name = case["name"].as_str().unwrap_or("?");
    let request = serde_json::to_string(&case["request"]).unwrap_or_default();
    let outcome = parse_quote(&request).and_then(|input| compute(&input));
    let mut problems = Vec::new();
    let error_fields: Vec<String> = match (&case["error_field"], &case["error_field_any"]) {
        (Value::String(f), _) => vec![f.clone()],
        (_, Value::Array(list)) => list
            .iter()
            .filter_map(|v| v.as_str().map(String::from))
            .collect(),
        _ => Vec::new(),
    };
    if !error_fields.is_empty() {
        match outcome {
            Ok(r) => problems.push(format!(
                "{name}: expected rejection of {error_fields:?}, got total {}",
                r.total
            )),
            Err(errors) => {
                if !errors.0.iter().any(|e| error_fields.contains(&e.field)) {
                    problems.push(format!(
                        "{name}: expected an error on {error_fields:?}, got: {errors}"
                    ));
                }
            }
        }
        return problems;
    }
    let result = match outcome {
        Ok(r) => r,
        Err(e) => return vec![format!("{name}: rejected: {e}")],
    };
    let response = serde_json::to_value(QuoteResponse::from(&result)).unwrap_or_default();
    if response["total"] != case["total"] {
        problems.push(format!(
            "{name}: total {} expected {}",
            response["total"], case["total"]
        ));
    }
    let got_periods: Vec<&Value> = response["periods"]
        .as_array()
        .map(|a| a.iter().collect())
        .unwrap_or_default();
    if let Some(expected) = case["periods"].as_object() {
        let labels: Vec<&str> = got_periods
            .iter()
            .filter_map(|p| p["period"].as_str())
            .collect();
        let want: Vec<&str> = expected.keys().map(String::as_str).collect();
        let mut sorted_want = want.clone();
        sorted_want.sort();
        if labels != sorted_want {
            problems.push(format!(
                "{name}: periods {labels:?} expected {sorted_want:?}"
            ));
        }
        for (label, credit) in expected {
            let got = got_periods.iter().find(|p| p["period"] == label.as_str());
            match got {
                Some(p) if &p["credit"] == credit => {}
                Some(p) => problems.push(format!(
                    "{name}: {label} credit {} expected {credit}",
                    p["credit"]
                )),
                None => {}
            }
        }
    }
    if let Some(expect) = case["expect"].as_object() {
        for (label, fields) in expect {
            let Some(p) = got_periods.iter().find(|p| p["period"] == label.as_str()) else {
                problems.push(format!("{name}: no period {label}"));
                continue;
            };
            for (key, want) in fields.as_object().into_iter().flatten() {
                if &p[key] != want {
                    problems.push(format!(
                        "{name}: {label}.{key} = {} expected {want}",
                        p[key]
                    ));
                }
            }
        }
    }
    problems
}

#[test]
fn every_vector_matches_its_hand_worked_figures() {
    let mut total = 0;
    let mut problems = Vec::new();
    for file in vector_files() {
        for case in cases(&file) {
            total += 1;
            problems.extend(check_case(&case));
        }
    }
    assert!(
        total >= 6,
        "expected the public cases at least, found {total}"
    );
    assert!(
        problems.is_empty(),
        "{} of {total} vectors differ:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

#[test]
fn the_public_cases_hold_through_the_command_line() {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/vectors/public.json");
    for case in cases(&file) {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("request.json");
        std::fs::write(
            &path,
            serde_json::to_string(&case["request"]).expect("json"),
        )
        .expect("write");
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_sla-credit"))
            .arg("quote")
            .arg(&path)
            .output()
            .expect("run sla-credit");
        assert!(
            out.status.success(),
            "{}: {}",
            case["name"],
            String::from_utf8_lossy(&out.stderr)
        );
        let response: Value = serde_json::from_slice(&out.stdout).expect("JSON on stdout");
        assert_eq!(response["total"], case["total"], "{}", case["name"]);
    }
}

#[test]
fn bad_input_exits_2_naming_the_field() {
    let request = r#"{"currency":"USD","plan":{"price":"10.00","billing_cycle":"monthly"},
        "policy":{"rule":{"kind":"downtime_multiple"}},
        "outages":[{"start":"2026-01-02T00:00:00Z","end":"2026-01-03T00:00:00Z"},
                   {"start":"2026-01-05T00:00:00Z","end":"2026-01-04T00:00:00Z"}]}"#;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_sla-credit"))
        .args(["quote", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run sla-credit");
    use std::io::Write;
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(request.as_bytes())
        .expect("write");
    let out = child.wait_with_output().expect("wait");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("outages[1].end: must be after start"),
        "{stderr}"
    );
    assert!(out.stdout.is_empty());
}
