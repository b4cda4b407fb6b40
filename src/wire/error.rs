//! The one error taxonomy every door maps to its own form.
//!
//! Policy:
//! - **Unparseable** (HTTP 400, exit 2): the input cannot be read at all — not JSON, a
//!   malformed query parameter. Nothing was checked further.
//! - **Invalid** (HTTP 422, exit 2): the input was read and is wrong; *every* problem is
//!   listed, each naming its field (`outages[3].end`) or CSV row and column, with a stable
//!   `code`. A record referenced from a body that does not exist is Invalid too, with code
//!   `not_found` (the request is wrong, not the URL). An arithmetic overflow caused by the
//!   input is Invalid naming the input field (`plan.price`, `days`), never Internal.
//! - **NotFound** (HTTP 404, exit 2): the record the path (or the command's own id argument)
//!   names does not exist.
//! - **Conflict** (HTTP 409, exit 2): the request is well formed but clashes with what is
//!   stored — an id taken, an entry already reversed, an outage not yet over.
//! - **PreconditionFailed** (HTTP 412, exit 2): `If-Match` names another version.
//! - **Busy** (HTTP 503 with `Retry-After`, exit 1): the database stayed locked past the
//!   wait; a retry will do.
//! - **Internal** (HTTP 500, exit 1): our fault or the machine's. The body says nothing about
//!   it; the source chain is kept for the log.
//!
//! Nothing is written when any of these is returned.

use std::fmt;

use crate::domain::{FieldError, ValidationErrors};

/// What kind of clash a [`Error::Conflict`] is; each has its own problem type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConflictKind {
    /// A client-chosen id (or goodwill `reference`) already exists.
    IdTaken,
    /// The entry is already reversed, or is itself a reversal.
    AlreadyReversed,
    /// A real settlement would pay for outage time after its `as_of`.
    NotYetEnded,
    /// Anything else that clashes with stored data (a currency that differs from the booked
    /// one, a plan change before the current plan began).
    State,
}

impl ConflictKind {
    /// The problem type's last path segment: `/problems/{slug}`.
    pub fn slug(self) -> &'static str {
        match self {
            ConflictKind::IdTaken => "id-taken",
            ConflictKind::AlreadyReversed => "already-reversed",
            ConflictKind::NotYetEnded => "not-yet-ended",
            ConflictKind::State => "conflict",
        }
    }
}

type Source = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Everything a command can answer instead of its result.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Unparseable(ValidationErrors),
    #[error("{0}")]
    Invalid(ValidationErrors),
    /// Bad rows of a CSV file (HTTP 422, exit 2): each names its row and column; nothing
    /// was stored (docs/csv.md).
    #[error("{0}")]
    InvalidRows(crate::wire::imports::RowErrors),
    #[error("{what}: no {what} {id:?}")]
    NotFound { what: &'static str, id: String },
    #[error("{field}: {message}")]
    Conflict {
        kind: ConflictKind,
        field: String,
        message: String,
    },
    #[error("{message}")]
    PreconditionFailed { message: String },
    #[error("the database is busy; retry shortly")]
    Busy,
    #[error("internal error: {context}")]
    Internal {
        context: String,
        #[source]
        source: Option<Source>,
    },
}

impl Error {
    /// Bad input in one field (422).
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Invalid(ValidationErrors::one(field, message))
    }

    /// Bad input in one field, with its stable code (422).
    pub fn invalid_coded(
        field: impl Into<String>,
        code: &'static str,
        message: impl Into<String>,
    ) -> Self {
        Error::Invalid(ValidationErrors::coded(field, code, message))
    }

    /// A record referenced from a body does not exist (422, code `not_found`).
    pub fn missing_reference(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::invalid_coded(field, "not_found", message)
    }

    /// Input that cannot be read (400).
    pub fn unparseable(field: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Unparseable(ValidationErrors::one(field, message))
    }

    /// The record the path names does not exist (404).
    pub fn not_found(what: &'static str, id: impl Into<String>) -> Self {
        Error::NotFound {
            what,
            id: id.into(),
        }
    }

    pub fn conflict(
        kind: ConflictKind,
        field: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Error::Conflict {
            kind,
            field: field.into(),
            message: message.into(),
        }
    }

    /// Our fault: the context goes to the log, never to the client.
    pub fn internal(context: impl Into<String>) -> Self {
        Error::Internal {
            context: context.into(),
            source: None,
        }
    }

    /// Our fault, keeping the underlying error for the log.
    pub fn internal_from(
        context: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        Error::Internal {
            context: context.into(),
            source: Some(Box::new(source)),
        }
    }

    /// The HTTP status of this error.
    pub fn status(&self) -> u16 {
        match self {
            Error::Unparseable(_) => 400,
            Error::Invalid(_) | Error::InvalidRows(_) => 422,
            Error::NotFound { .. } => 404,
            Error::Conflict { .. } => 409,
            Error::PreconditionFailed { .. } => 412,
            Error::Busy => 503,
            Error::Internal { .. } => 500,
        }
    }

    /// The problem type's slug: `/problems/{slug}`.
    pub fn slug(&self) -> &'static str {
        match self {
            Error::Unparseable(_) => "bad-request",
            Error::Invalid(_) | Error::InvalidRows(_) => "validation",
            Error::NotFound { .. } => "not-found",
            Error::Conflict { kind, .. } => kind.slug(),
            Error::PreconditionFailed { .. } => "precondition-failed",
            Error::Busy => "busy",
            Error::Internal { .. } => "internal",
        }
    }

    /// Whether the caller is at fault (exit 2) rather than the service (exit 1).
    pub fn is_bad_input(&self) -> bool {
        !matches!(self, Error::Busy | Error::Internal { .. })
    }

    /// The process exit code of the command line.
    pub fn exit_code(&self) -> i32 {
        if self.is_bad_input() {
            2
        } else {
            1
        }
    }

    /// Every problem with its field, for bodies that list them.
    pub fn field_errors(&self) -> Vec<FieldError> {
        match self {
            Error::Unparseable(v) | Error::Invalid(v) => v.0.clone(),
            Error::NotFound { what, id } => {
                vec![
                    crate::domain::error::field_error(*what, format!("no {what} {id:?}"))
                        .with_code("not_found"),
                ]
            }
            Error::Conflict { field, message, .. } => {
                vec![
                    crate::domain::error::field_error(field.clone(), message.clone())
                        .with_code("taken"),
                ]
            }
            _ => Vec::new(),
        }
    }

    /// The whole chain of an internal error, for the log.
    pub fn log_chain(&self) -> String {
        let mut out = self.to_string();
        let mut cur: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(self);
        while let Some(e) = cur {
            out.push_str(": ");
            out.push_str(&e.to_string());
            cur = e.source();
        }
        out
    }
}

impl From<ValidationErrors> for Error {
    fn from(e: ValidationErrors) -> Self {
        Error::Invalid(e)
    }
}

impl From<FieldError> for Error {
    fn from(e: FieldError) -> Self {
        Error::Invalid(ValidationErrors(vec![e]))
    }
}

impl From<crate::domain::book::MissingPlan> for Error {
    fn from(e: crate::domain::book::MissingPlan) -> Self {
        Error::internal_from("stored data names a plan that is not loaded", e)
    }
}

/// Shorthand.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A displayable list of problems, one `field: message` per line (the command line's form).
pub struct Lines<'a>(pub &'a Error);

impl fmt::Display for Lines<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Error::Internal { .. } => write!(f, "{}", self.0.log_chain()),
            e => write!(f, "{e}"),
        }
    }
}
