//! Where the doors meet: the request forms every door reads (JSON bodies, CSV rows and
//! command-line arguments turn into the same forms), their checks into the commands the store
//! runs, the views answers are rendered from, and the one error taxonomy ([`error`]) every
//! door maps to its own form. No SQL and no I/O here; the rules themselves live in
//! [`crate::domain`].

pub mod check;
pub mod credits;
pub mod customers;
pub mod error;
pub mod exports;
pub mod imports;
pub mod incidents;
pub mod json_text;
pub mod keys;
pub mod plans;
pub mod quote;

pub use error::{ConflictKind, Error, Result};
