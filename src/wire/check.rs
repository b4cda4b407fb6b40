//! Checks shared by every request form: names, e-mail addresses, instants, prices, policies.
//! Each records its problem against the field's path and lets the caller go on, so that a
//! form lists every problem at once.

use rust_decimal::Decimal;
use serde_json::Value;

use crate::domain::error::{field_error, Errors};
use crate::domain::money::Currency;
use crate::domain::policy::{Policy, PolicySpec};
use crate::domain::presets;
use crate::domain::quote::from_value_at;
use crate::domain::time::{parse_instant, Nanos};
use crate::domain::{FieldError, ValidationErrors};

/// Reads a policy: a policy object, `{"preset": NAME, …overrides}` or a bare preset name. An
/// unknown preset is reported beside the overrides' own problems.
pub fn check_policy(value: &Value, at: &str) -> Result<Policy, ValidationErrors> {
    let (resolved, preset_error) = presets::resolve_or_stand_in(value, at);
    let checked = from_value_at::<PolicySpec>(resolved, at).and_then(|s| Policy::from_spec(&s, at));
    match (preset_error, checked) {
        (None, checked) => checked,
        (Some(e), Ok(_)) => Err(ValidationErrors(vec![e])),
        (Some(e), Err(mut others)) => {
            others.0.insert(0, e);
            Err(others)
        }
    }
}

/// A name or title: not blank, at most 500 characters.
pub fn check_name(s: &str, field: &str, e: &mut Errors) {
    if s.trim().is_empty() {
        e.push_error(field_error(field, "must not be empty").with_code("required"));
    } else if s.chars().count() > 500 {
        e.push_error(
            field_error(field, "must be at most 500 characters").with_code("out_of_range"),
        );
    }
}

/// A free text such as a reason or summary: not blank, at most 2,000 characters.
pub fn check_text(s: &str, field: &str, e: &mut Errors) {
    if s.trim().is_empty() {
        e.push_error(field_error(field, "must not be empty").with_code("required"));
    } else if s.chars().count() > 2_000 {
        e.push_error(
            field_error(field, "must be at most 2000 characters").with_code("out_of_range"),
        );
    }
}

/// A plausible e-mail address: one `@` with text on both sides, no spaces, at most 254 bytes.
pub fn check_email(s: &str, field: &str) -> Result<(), FieldError> {
    let ok = s.len() <= 254
        && !s.chars().any(char::is_whitespace)
        && s.split_once('@')
            .is_some_and(|(a, b)| !a.is_empty() && !b.is_empty() && !b.contains('@'));
    if ok {
        Ok(())
    } else {
        Err(field_error(
            field,
            format!("{s:?} is not an e-mail address"),
        ))
    }
}

/// An instant (RFC 3339, within the accepted range), named by its field.
pub fn check_instant(text: &str, field: &str) -> Result<Nanos, FieldError> {
    parse_instant(text).map_err(|m| field_error(field, m))
}

/// A price must be expressible in the currency's minor unit.
pub fn check_price_digits(price: Decimal, currency: Currency, field: &str, e: &mut Errors) {
    if price.normalize().scale() > currency.minor_units() {
        e.push(
            field,
            format!(
                "has more decimals than {}'s {}",
                currency.code(),
                currency.minor_units()
            ),
        );
    }
}

/// A decimal given as a JSON string or number, as its exact text.
pub fn decimal_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}
