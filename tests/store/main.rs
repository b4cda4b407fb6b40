//! The store's integration tests (issue 3): real SQLite files, one temporary directory per
//! test, and the built binary in separate processes where concurrency or a crash is the point.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod cli;
mod common;
mod concurrency;
mod kill;
mod migrations;
mod settlement;
mod sums;
