//! sla-credit: exact, time-zone-true SLA credits and an append-only credit ledger.
//!
//! - [`domain`]: the pure engine (no I/O, no clock): every figure is computed there.
//! - [`store`]: the database (diesel + SQLite): plans, customers, incidents, the ledger and
//!   settlement. The only place with SQL.
//! - [`cli`]: the command line.

pub mod cli;
pub mod domain;
pub mod store;
