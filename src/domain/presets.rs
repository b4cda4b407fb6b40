//! Shipped policy presets (api.md): public vendors' SLA terms as policies. A policy object
//! `{"preset": "NAME", …}` is the preset with the fields given beside it overriding its own.

use serde_json::{json, Map, Value};

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

fn tiers(list: &[(&str, &str)]) -> Value {
    json!({
        "kind": "uptime_tiers",
        "tiers": list.iter().map(|(u, p)| json!({"uptime": u, "credit_percent": p})).collect::<Vec<_>>(),
    })
}

/// The policy of a preset, in the wire form.
pub fn preset(name: &str) -> Option<Value> {
    let policy = match name {
        // Amazon EC2 region-level SLA: 99.99% monthly uptime; 10% / 30% / 100%.
        "aws-ec2-region" => {
            json!({"rule": tiers(&[("[99.0, 99.99)", "10"), ("[95.0, 99.0)", "30"), ("[0, 95.0)", "100")])})
        }
        // Azure virtual machines across availability zones: 99.99%; 10% / 25% / 100%.
        "azure-vm" => {
            json!({"rule": tiers(&[("[99.0, 99.99)", "10"), ("[95.0, 99.0)", "25"), ("[0, 95.0)", "100")])})
        }
        // Atlassian cloud (Premium): 99.9%; 10% / 25% / 50%.
        "atlassian" => {
            json!({"rule": tiers(&[("[99.0, 99.9)", "10"), ("[95.0, 99.0)", "25"), ("[0, 95.0)", "50")])})
        }
        // MongoDB Atlas (multi-region clusters): 99.995%; 10% / 25% / 100%.
        "mongodb-atlas" => {
            json!({"rule": tiers(&[("[99.0, 99.995)", "10"), ("[95.0, 99.0)", "25"), ("[0, 95.0)", "100")])})
        }
        // Slack: 10× the fees paid during downtime below 99.99%.
        "slack-10x" => {
            json!({"rule": {"kind": "downtime_multiple", "multiplier": "10"}, "target_percent": "99.99"})
        }
        // Olark's outage letter: two days' worth of service, once per incident.
        "olark-2-days" => {
            json!({"rule": {"kind": "days_of_service", "days": 2, "day_basis": "actual"}})
        }
        _ => return None,
    };
    Some(policy)
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
