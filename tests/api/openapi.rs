//! `openapi.yaml` never lies: every route of the route table is in it and every path in it is
//! in the table; every request example is accepted by the live server with its documented
//! success status; every example validates against its schema (checked with Python's
//! `jsonschema`, Draft 2020-12, as OpenAPI 3.1 uses).

use std::collections::BTreeSet;

use serde_yaml::Value;
use sla_credit::http::ROUTES;

use crate::spawn_app;

fn spec() -> Value {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.yaml"))
        .expect("openapi.yaml");
    serde_yaml::from_str(&text).expect("openapi.yaml parses")
}

fn operations(spec: &Value) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for (path, item) in spec["paths"].as_mapping().expect("paths") {
        for (method, _) in item.as_mapping().expect("path item") {
            let m = method.as_str().unwrap_or("");
            if ["get", "post", "put", "patch", "delete"].contains(&m) {
                out.insert((
                    m.to_ascii_uppercase(),
                    path.as_str().unwrap_or("").to_string(),
                ));
            }
        }
    }
    out
}

#[test]
fn the_spec_and_the_route_table_name_the_same_routes() {
    let spec = spec();
    assert_eq!(spec["openapi"].as_str(), Some("3.1.0"));
    let documented = operations(&spec);
    let routed: BTreeSet<(String, String)> = ROUTES
        .iter()
        .map(|r| (r.method.to_string(), r.path.to_string()))
        .collect();
    let missing: Vec<_> = routed.difference(&documented).collect();
    let extra: Vec<_> = documented.difference(&routed).collect();
    assert!(
        missing.is_empty(),
        "routes not in openapi.yaml: {missing:?}"
    );
    assert!(
        extra.is_empty(),
        "openapi.yaml paths with no route: {extra:?}"
    );
}

#[test]
fn request_bodies_are_strict_and_every_operation_documents_its_errors() {
    let spec = spec();
    for (path, item) in spec["paths"].as_mapping().unwrap() {
        for (method, op) in item.as_mapping().unwrap() {
            let Some(m) = method.as_str() else { continue };
            if !["get", "post", "put", "patch"].contains(&m) {
                continue;
            }
            let responses = op["responses"].as_mapping().expect("responses");
            let public = op["security"].as_sequence().is_some_and(|s| s.is_empty());
            if !public {
                assert!(
                    responses.contains_key(Value::from("401")),
                    "{m} {path:?} lacks 401"
                );
            }
            if let Some(schema) =
                op["requestBody"]["content"]["application/json"]["schema"]["$ref"].as_str()
            {
                let name = schema.rsplit('/').next().unwrap();
                let s = &spec["components"]["schemas"][name];
                assert_eq!(
                    s["additionalProperties"].as_bool(),
                    Some(false),
                    "{name} must refuse unknown fields"
                );
                for code in ["400", "413", "415", "422"] {
                    assert!(
                        responses.contains_key(Value::from(code)),
                        "{m} {path:?} lacks {code}"
                    );
                }
            }
        }
    }
}

#[test]
fn the_server_serves_this_very_spec() {
    let app = spawn_app();
    let a = app.call("GET", "/openapi.yaml", None, None, &[]);
    assert_eq!(a.status, 200);
    let on_disk =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.yaml")).unwrap();
    assert_eq!(a.body, on_disk);
}

#[test]
fn every_request_example_is_accepted_by_the_server() {
    let spec = spec();
    let app = spawn_app();
    // In an order where each example finds what it refers to; path ids are the examples' own.
    let steps = [
        ("POST", "/v1/plans", "/v1/plans", 201),
        ("PUT", "/v1/plans/{id}", "/v1/plans/basic", 201),
        ("POST", "/v1/customers", "/v1/customers", 201),
        (
            "POST",
            "/v1/customers/{id}/plan-changes",
            "/v1/customers/acme/plan-changes",
            201,
        ),
        ("POST", "/v1/incidents", "/v1/incidents", 201),
        ("PATCH", "/v1/incidents/{id}", "/v1/incidents/INC-42", 200),
        (
            "POST",
            "/v1/customers/{id}/credits",
            "/v1/customers/acme/credits",
            201,
        ),
        (
            "POST",
            "/v1/credits/{entry_id}/reversal",
            "/v1/credits/cre_1/reversal",
            201,
        ),
        (
            "POST",
            "/v1/incidents/{id}/credits",
            "/v1/incidents/INC-42/credits",
            200,
        ),
        ("POST", "/v1/quote", "/v1/quote", 200),
        ("POST", "/v1/imports/{id}", "/v1/imports/customers", 201),
        ("POST", "/v1/exports", "/v1/exports", 201),
        (
            "POST",
            "/v1/exports/{id}/acknowledgement",
            "/v1/exports/exp_1/acknowledgement",
            200,
        ),
    ];
    let mut seen = 0;
    for (method, template, path, status) in steps {
        let op = &spec["paths"][template][method.to_ascii_lowercase().as_str()];
        let content = &op["requestBody"]["content"];
        let (ctype, body) = if let Some(csv) = content["text/csv"]["example"].as_str() {
            ("text/csv", csv.to_string())
        } else {
            let example = &content["application/json"]["example"];
            assert!(
                !example.is_null(),
                "{method} {template} has no request example"
            );
            let v: serde_json::Value = serde_yaml::from_value(example.clone()).unwrap();
            ("application/json", serde_json::to_string(&v).unwrap())
        };
        let token = app.token("admin").to_string();
        let a = app.call(
            method,
            path,
            Some(&token),
            Some(&body),
            &[("Content-Type", ctype)],
        );
        assert_eq!(a.status, status, "{method} {path}: {}", a.body);
        seen += 1;
    }
    // Every operation with a request body is in the list above.
    let with_bodies = spec["paths"]
        .as_mapping()
        .unwrap()
        .values()
        .flat_map(|i| i.as_mapping().unwrap().values())
        .filter(|op| !op["requestBody"].is_null())
        .count();
    assert_eq!(seen, with_bodies);
}

#[test]
fn every_example_validates_against_its_schema() {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/api/openapi_examples.py");
    let spec = concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.yaml");
    let out = std::process::Command::new("python3")
        .args([script, spec])
        .output()
        .expect("python3 runs (bash .ci/run installs what it needs)");
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(report.contains("examples valid"), "{report}");
}
