//! The database (issue 3): plans with versioned policies, customers and their plan history,
//! incidents, and the append-only credit ledger with settlement (credit-rules §6).
//!
//! This folder is the only place with SQL or diesel; domain types go in and come out.
//! Backend-specific parts (URL, PRAGMAs, migrations, the write lock, error kinds) live in
//! [`sqlite`]; the other modules are written against [`sqlite::Conn`] and the schema.
//!
//! - [`input`]: the wire forms of records (api.md) and their checks into domain values.
//! - [`plans`], [`customers`], [`incidents`]: the inputs of a settlement.
//! - [`ledger`]: entries, balances (summed in Rust, exactly), goodwill and reversals.
//! - [`settle`]: settlement of (customer, period) targets, batched, one transaction per batch.

pub mod convert;
pub mod customers;
pub mod incidents;
pub mod input;
pub mod ledger;
pub mod models;
pub mod plans;
pub mod schema;
pub mod settle;
pub mod sqlite;

use crate::domain::{FieldError, ValidationErrors};

pub use sqlite::{Conn, DbPool, PooledConn};

/// What can go wrong in the store. Bad input names its field; database trouble does not
/// leak into a field error.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Bad input: every problem, each naming its field (HTTP 422, exit 2).
    #[error("{0}")]
    Invalid(ValidationErrors),
    /// A referenced record does not exist (HTTP 404 for the path's own record, exit 2).
    #[error("{field}: {message}")]
    NotFound { field: String, message: String },
    /// The record conflicts with what is stored: an id already taken, an entry already
    /// reversed (HTTP 409, exit 2).
    #[error("{field}: {message}")]
    Conflict { field: String, message: String },
    /// Stored data that cannot be read back: a bug or tampering, never the caller's fault.
    #[error("stored data: {0}")]
    Corrupt(String),
    #[error("database: {0}")]
    Database(#[from] diesel::result::Error),
    #[error("database: {0}")]
    Connection(String),
    #[error("database migration: {0}")]
    Migration(String),
}

impl StoreError {
    /// Bad input in one field.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        StoreError::Invalid(ValidationErrors::one(field, message))
    }

    pub fn not_found(field: impl Into<String>, message: impl Into<String>) -> Self {
        StoreError::NotFound {
            field: field.into(),
            message: message.into(),
        }
    }

    pub fn conflict(field: impl Into<String>, message: impl Into<String>) -> Self {
        StoreError::Conflict {
            field: field.into(),
            message: message.into(),
        }
    }

    /// Whether the caller's input is at fault (exit 2), rather than the database (exit 1).
    pub fn is_bad_input(&self) -> bool {
        matches!(
            self,
            StoreError::Invalid(_) | StoreError::NotFound { .. } | StoreError::Conflict { .. }
        )
    }
}

impl From<ValidationErrors> for StoreError {
    fn from(e: ValidationErrors) -> Self {
        StoreError::Invalid(e)
    }
}

impl From<FieldError> for StoreError {
    fn from(e: FieldError) -> Self {
        StoreError::Invalid(ValidationErrors(vec![e]))
    }
}

/// The store: a pool of connections to one migrated database.
#[derive(Clone)]
pub struct Store {
    pool: DbPool,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").finish_non_exhaustive()
    }
}

impl Store {
    /// Opens the database a URL names (api.md), creating and migrating it on first use.
    pub fn open(url: &str) -> Result<Store, StoreError> {
        Ok(Store {
            pool: sqlite::open_pool(url, 4)?,
        })
    }

    /// A connection from the pool.
    pub fn conn(&self) -> Result<PooledConn, StoreError> {
        self.pool
            .get()
            .map_err(|e| StoreError::Connection(e.to_string()))
    }

    pub fn pool(&self) -> &DbPool {
        &self.pool
    }
}
