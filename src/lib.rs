//! sla-credit: exact, time-zone-true SLA credits and an append-only credit ledger.
//!
//! - [`domain`]: the pure engine (no I/O, no clock): every figure is computed there.
//! - [`cli`]: the command line.

pub mod cli;
pub mod domain;
