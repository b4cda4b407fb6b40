//! The database: plans with versioned policies, customers and their plan history, incidents,
//! and the append-only credit ledger with settlement (docs/rules.md §6).
//!
//! This folder is the only place with SQL or diesel. It runs checked commands (made in
//! [`crate::wire`]) and returns domain values and views; it never parses a request.
//! Backend-specific parts (URL, PRAGMAs, migrations, the write lock, error kinds) live in
//! [`sqlite`]; the other modules are written against [`sqlite::Conn`] and the schema.
//!
//! - [`plans`], [`customers`], [`incidents`]: the inputs of a settlement.
//! - [`ledger`]: entries, balances (summed in Rust, exactly), goodwill and reversals.
//! - [`settle`]: settlement of (customer, period) targets, batched, one transaction per batch.
//! - [`settlements`]: recorded settlements and their lines.

pub mod console;
pub mod convert;
pub mod customers;
pub mod entries;
pub mod exports;
pub mod idempotency;
pub mod imports;
pub mod incidents;
pub mod keys;
pub mod ledger;
pub mod models;
pub mod plans;
pub mod schema;
pub mod settle;
pub mod settlements;
pub mod sqlite;

pub use sqlite::{Conn, DbPool, OpenMode, PooledConn};

use crate::wire::Error;

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
    /// Opens the database a URL names, creating and migrating it on first use (commands that
    /// write, and the server).
    pub fn open(url: &str) -> Result<Store, Error> {
        Self::open_with(url, OpenMode::Create, 4)
    }

    /// Opens an existing database for commands that only read: a missing file is an error
    /// naming the path, and nothing is created or migrated.
    pub fn open_existing(url: &str) -> Result<Store, Error> {
        Self::open_with(url, OpenMode::Existing, 2)
    }

    /// Opens with an explicit mode and pool size.
    pub fn open_with(url: &str, mode: OpenMode, pool_size: u32) -> Result<Store, Error> {
        Ok(Store {
            pool: sqlite::open_pool(url, mode, pool_size, sqlite::Reading::default())?,
        })
    }

    /// Opens for a server: `pool_size` connections, each with a page cache of `cache_mib`
    /// MiB, so the pages every lookup walks through (the upper levels of each table's and
    /// index's tree) stay in memory instead of being read again, and the first `mmap_mib` MiB
    /// of the file mapped, so a page not in that cache is found in the operating system's
    /// without a `read` call copying it.
    pub fn open_for_serving(
        url: &str,
        pool_size: u32,
        cache_mib: u32,
        mmap_mib: u32,
    ) -> Result<Store, Error> {
        Ok(Store {
            pool: sqlite::open_pool(
                url,
                OpenMode::Create,
                pool_size,
                sqlite::Reading::serving(cache_mib, mmap_mib),
            )?,
        })
    }

    /// A connection from the pool; a pool that stays exhausted past the wait is busy.
    pub fn conn(&self) -> Result<PooledConn, Error> {
        self.pool.get().map_err(|_| Error::Busy)
    }

    /// A connection if one is idle right now, without waiting.
    pub fn try_conn(&self) -> Option<PooledConn> {
        self.pool.try_get()
    }

    pub fn pool(&self) -> &DbPool {
        &self.pool
    }
}
