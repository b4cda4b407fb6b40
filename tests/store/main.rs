//! The store's integration tests: real SQLite files, one temporary directory per test, and
//! the built binary in separate processes where the command line, concurrency or a crash is
//! the point.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)]

mod cli;
mod common;
mod concurrency;
mod csv_cli;
mod csv_kill;
mod csv_migration;
mod foundation;
mod kill;
mod migrations;
mod restitution;
mod settlement;
mod sums;
