//! sla-credit: exact, time-zone-true SLA credits and an append-only credit ledger.
//!
//! - [`domain`]: the pure engine (no I/O, no clock): every figure is computed there.
//! - [`wire`]: where the doors meet: request forms and their checks into commands, views,
//!   and the one error taxonomy.
//! - [`store`]: the database (diesel + SQLite): plans, customers, incidents, the ledger and
//!   settlement. The only place with SQL.
//! - [`csv`]: CSV imports (rows checked like JSON bodies) and billing export batches.
//! - [`whatif`]: what-if credits over the import files, no database.
//! - [`cli`]: the command line.
//! - [`web`]: the web console for people, served beside the HTTP API ([`http`]).
//!
//! Quoting a credit, Olark-style "2 days' worth of credit" on a USD 29.00 monthly plan, in a
//! Los Angeles January (31 local days): 29.00 × 2 ÷ 31 = 1.8709… → 1.87.
//!
//! ```
//! use sla_credit::domain::{compute, quote::parse_quote};
//!
//! let request = r#"{
//!     "currency": "USD", "timezone": "America/Los_Angeles",
//!     "plan": {"price": "29.00", "billing_cycle": "monthly"},
//!     "policy": {"rule": {"kind": "days_of_service", "days": 2}},
//!     "outages": [{"start": "2024-01-16T05:06:00Z", "end": "2024-01-16T19:00:00Z"}]
//! }"#;
//! let result = compute(&parse_quote(request)?)?;
//! assert_eq!(result.total.to_string(), "1.87");
//! assert_eq!(
//!     result.periods[0].breakdown.explanation,
//!     "2 days × 29.00 USD ÷ 31 days = 1.87 USD"
//! );
//! # Ok::<(), sla_credit::domain::ValidationErrors>(())
//! ```

pub mod cli;
pub mod csv;
pub mod domain;
pub mod http;
pub mod notice;
pub mod store;
pub mod web;
pub mod whatif;
pub mod wire;
