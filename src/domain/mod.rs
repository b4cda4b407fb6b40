#![deny(clippy::float_arithmetic)]
//! The credit engine: pure Rust, no I/O, no clock, no framework. Every figure a customer sees
//! is computed here, once, exactly (docs/rules.md).

pub mod batch;
pub mod book;
pub mod breakdown;
pub mod credit;
pub mod error;
pub mod exact;
pub mod fee;
pub mod ids;
pub mod interval;
pub mod money;
pub mod period;
pub mod policy;
pub mod presets;
pub mod quote;
pub mod rational;
pub mod rfc3339;
pub mod scope;
pub mod settlement;
pub mod time;

pub use credit::{compute, CreditInput, CreditResult, Incident, PeriodCredit};
pub use error::{FieldError, ValidationErrors};

/// The version of the engine that computed a figure; stored beside every credit.
pub const ENGINE_VERSION: &str = env!("CARGO_PKG_VERSION");

/// The IANA tz database version the zones come from; stored beside every credit.
pub const TZDB_VERSION: &str = chrono_tz::IANA_TZDB_VERSION;
