//! Shipped policy presets (docs/restitution.md): public vendors' SLA terms as policies. A policy object
//! `{"preset": "NAME", …}` is the preset with the fields given beside it overriding its own.

use std::sync::OnceLock;

use serde_json::{Map, Value};

use super::error::{field_error, FieldError};

/// Names of the shipped presets.
pub const PRESET_NAMES: [&str; 6] = [
    "aws-ec2-region",
    "azure-vm",
    "atlassian",
    "mongodb-atlas",
    "slack-10x",
    "olark-2-days",
];

/// The shipped preset files (`fixtures/policies/NAME.json`), embedded in the binary: each
/// names the public terms it follows and their measurement zone beside the policy.
const PRESET_FILES: [(&str, &str); 6] = [
    (
        "aws-ec2-region",
        include_str!("../../fixtures/policies/aws-ec2-region.json"),
    ),
    (
        "azure-vm",
        include_str!("../../fixtures/policies/azure-vm.json"),
    ),
    (
        "atlassian",
        include_str!("../../fixtures/policies/atlassian.json"),
    ),
    (
        "mongodb-atlas",
        include_str!("../../fixtures/policies/mongodb-atlas.json"),
    ),
    (
        "slack-10x",
        include_str!("../../fixtures/policies/slack-10x.json"),
    ),
    (
        "olark-2-days",
        include_str!("../../fixtures/policies/olark-2-days.json"),
    ),
];

fn parsed() -> &'static [(&'static str, Value)] {
    static PARSED: OnceLock<Vec<(&'static str, Value)>> = OnceLock::new();
    PARSED.get_or_init(|| {
        PRESET_FILES
            .iter()
            // A file that does not parse is caught by the tests; here it is only left out.
            .filter_map(|(name, text)| serde_json::from_str(text).ok().map(|v| (*name, v)))
            .collect()
    })
}

/// Every shipped preset file as it is (name, title, source, terms, measurement zone, policy),
/// in the order of [`PRESET_NAMES`].
pub fn preset_files() -> Vec<Value> {
    parsed().iter().map(|(_, v)| v.clone()).collect()
}

/// The policy of a preset, in the wire form.
pub fn preset(name: &str) -> Option<Value> {
    parsed()
        .iter()
        .find(|(n, _)| *n == name)
        .and_then(|(_, v)| v.get("policy").cloned())
}

/// Resolves `{"preset": NAME, …overrides}` into a full policy object; any other value is
/// returned unchanged. A bare string is read as a preset name.
pub fn resolve(policy: &Value, at: &str) -> Result<Value, FieldError> {
    let (name, overrides): (&str, Map<String, Value>) = match policy {
        Value::String(name) => (name.as_str(), Map::new()),
        Value::Object(map) => match map.get("preset") {
            None => return Ok(policy.clone()),
            Some(Value::String(name)) => {
                let mut rest = map.clone();
                rest.remove("preset");
                (name.as_str(), rest)
            }
            Some(_) => return Err(field_error(format!("{at}.preset"), "must be a preset name")),
        },
        _ => return Ok(policy.clone()),
    };
    let Some(Value::Object(mut base)) = preset(name) else {
        return Err(field_error(
            format!("{at}.preset"),
            format!("{name:?} is not one of {}", PRESET_NAMES.join(", ")),
        ));
    };
    for (k, v) in overrides {
        base.insert(k, v);
    }
    Ok(Value::Object(base))
}

/// Resolves a preset like [`resolve`]; when the preset is unknown, also gives a stand-in
/// policy (the overrides beside the preset, on a neutral rule) so that the request's other
/// fields can still be checked and every problem listed at once.
pub fn resolve_or_stand_in(policy: &Value, at: &str) -> (Value, Option<FieldError>) {
    match resolve(policy, at) {
        Ok(v) => (v, None),
        Err(e) => {
            let mut rest = match policy {
                Value::Object(map) => map.clone(),
                _ => Map::new(),
            };
            rest.remove("preset");
            rest.entry("rule")
                .or_insert_with(|| serde_json::json!({"kind": "downtime_multiple"}));
            (Value::Object(rest), Some(e))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_preset_file_parses_names_itself_and_cites_its_terms() {
        assert_eq!(parsed().len(), PRESET_NAMES.len());
        for (name, (file_name, _)) in PRESET_NAMES.iter().zip(PRESET_FILES.iter()) {
            assert_eq!(name, file_name);
            let v = parsed()
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.clone())
                .unwrap_or(Value::Null);
            assert_eq!(v["name"], *name);
            for field in ["title", "source", "terms", "measurement_zone"] {
                assert!(
                    v[field].as_str().is_some_and(|t| !t.is_empty()),
                    "{name}.{field}"
                );
            }
            assert!(v["policy"]["rule"]["kind"].is_string(), "{name}");
        }
    }

    #[test]
    fn fields_beside_a_preset_override_it() {
        let v = resolve(
            &serde_json::json!({"preset": "slack-10x", "cap": {"percent": "50"}}),
            "policy",
        )
        .unwrap_or(Value::Null);
        assert_eq!(v["cap"]["percent"], "50");
        assert_eq!(v["rule"]["multiplier"], "10");
        assert!(resolve(&serde_json::json!("nonesuch"), "policy").is_err());
    }
}
