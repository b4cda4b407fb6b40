//! Errors of the domain: every rejected input names the field it came from.

use std::fmt;

/// One problem with one input field, e.g. `outages[3].end: must be after start`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// Path of the field from the request root: `outages[3].end`, `policy.rule.tiers[1].uptime`.
    pub field: String,
    /// What is wrong, in words a user can act on.
    pub message: String,
    /// A stable word for programs: `required`, `unknown_field`, `invalid`, `out_of_range`,
    /// `not_found`, `taken`.
    pub code: &'static str,
}

impl FieldError {
    /// The same problem with another stable code.
    pub fn with_code(mut self, code: &'static str) -> Self {
        self.code = code;
        self
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// Every problem found in one input; never empty.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ValidationErrors(pub Vec<FieldError>);

impl fmt::Display for ValidationErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl ValidationErrors {
    /// A single error for one field.
    pub fn one(field: impl Into<String>, message: impl Into<String>) -> Self {
        ValidationErrors(vec![field_error(field, message)])
    }

    /// A single error for one field, with its stable code.
    pub fn coded(field: impl Into<String>, code: &'static str, message: impl Into<String>) -> Self {
        ValidationErrors(vec![field_error(field, message).with_code(code)])
    }
}

/// Collects field errors while a whole input is checked, so that every problem is listed at once.
#[derive(Debug, Default)]
pub struct Errors(Vec<FieldError>);

impl Errors {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn push(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0.push(field_error(field, message));
    }

    /// Records a problem with its stable code.
    pub fn push_error(&mut self, error: FieldError) {
        self.0.push(error);
    }

    /// Keeps the value of a check that may report several problems, or records them all.
    pub fn take_all<T>(&mut self, result: Result<T, ValidationErrors>) -> Option<T> {
        match result {
            Ok(v) => Some(v),
            Err(ValidationErrors(list)) => {
                self.0.extend(list);
                None
            }
        }
    }

    /// The problems recorded, for a check whose value could not be built; never empty (a
    /// check that failed without saying why is reported against `fallback`).
    pub fn into_errors(self, fallback: &str) -> ValidationErrors {
        if self.0.is_empty() {
            ValidationErrors::one(fallback, "is not valid")
        } else {
            ValidationErrors(self.0)
        }
    }

    /// Keeps the value of a check, or records its error and gives `None`.
    pub fn take<T>(&mut self, result: Result<T, FieldError>) -> Option<T> {
        match result {
            Ok(v) => Some(v),
            Err(e) => {
                self.0.push(e);
                None
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `Ok(value)` when nothing was recorded.
    pub fn finish<T>(self, value: T) -> Result<T, ValidationErrors> {
        if self.0.is_empty() {
            Ok(value)
        } else {
            Err(ValidationErrors(self.0))
        }
    }

    pub fn into_result(self) -> Result<(), ValidationErrors> {
        self.finish(())
    }
}

/// Shorthand for a field error.
pub fn field_error(field: impl Into<String>, message: impl Into<String>) -> FieldError {
    FieldError {
        field: field.into(),
        message: message.into(),
        code: "invalid",
    }
}

/// A field's path, `parent.name`, written out only when an error names it: checking a valid
/// request builds no path strings.
#[derive(Clone, Copy)]
pub struct Sub<'a>(pub &'a dyn fmt::Display, pub &'a str);

impl fmt::Display for Sub<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.0, self.1)
    }
}

impl From<Sub<'_>> for String {
    fn from(path: Sub<'_>) -> String {
        path.to_string()
    }
}
