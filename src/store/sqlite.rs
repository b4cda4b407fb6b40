//! Everything specific to SQLite, in one place: how a URL names a file, the PRAGMAs every pooled
//! connection gets, the embedded migrations and how they run, the write lock (`BEGIN
//! IMMEDIATE`), and how SQLite's errors read. A PostgreSQL backend is an addition beside this
//! file (its own pool, `SELECT … FOR UPDATE` / advisory locks, triggers in its own migrations),
//! not a rewrite of the modules that use [`Conn`].
//!
//! `synchronous = FULL` (README, "The ledger"): in WAL mode, NORMAL may lose the last
//! committed transactions on power loss. A settlement reports "entries appended" to a billing
//! system; a credit it was told about must survive. Settlement commits in large batches, so
//! the extra fsync per commit costs little.

use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::r2d2::{ConnectionManager, CustomizeConnection, Pool, PooledConnection};
use diesel::sqlite::SqliteConnection;
use diesel::Connection;
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

use super::StoreError;

/// The connection type every store function takes.
pub type Conn = SqliteConnection;
/// A pool of connections.
pub type DbPool = Pool<ConnectionManager<Conn>>;
/// A connection checked out of the pool.
pub type PooledConn = PooledConnection<ConnectionManager<Conn>>;

/// The schema, embedded in the binary and applied on first use.
pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");

/// How long a connection waits for another writer before giving up. A settlement batch holds
/// the write lock while it computes and writes (well under a second per batch); 60 s leaves
/// room for several processes queueing behind each other.
pub const BUSY_TIMEOUT_MS: u32 = 60_000;

/// The file a database URL names: `sqlite://PATH`, `sqlite:PATH` or a plain path (api.md).
pub fn sqlite_path(url: &str) -> Result<String, StoreError> {
    let path = if let Some(rest) = url.strip_prefix("sqlite://") {
        rest
    } else if let Some(rest) = url.strip_prefix("sqlite:") {
        rest
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return Err(StoreError::invalid(
            "database",
            "PostgreSQL is not supported by this build; use sqlite://PATH",
        ));
    } else {
        url
    };
    if path.is_empty() {
        return Err(StoreError::invalid("database", "names no file"));
    }
    Ok(path.to_string())
}

/// The PRAGMAs every connection gets when the pool opens it.
#[derive(Debug, Clone, Copy)]
struct Pragmas;

impl CustomizeConnection<Conn, diesel::r2d2::Error> for Pragmas {
    fn on_acquire(&self, conn: &mut Conn) -> Result<(), diesel::r2d2::Error> {
        apply_pragmas(conn).map_err(diesel::r2d2::Error::QueryError)
    }
}

/// busy_timeout first, so that switching to WAL waits for other processes instead of failing.
fn apply_pragmas(conn: &mut Conn) -> diesel::QueryResult<()> {
    conn.batch_execute(&format!(
        "PRAGMA busy_timeout = {BUSY_TIMEOUT_MS};
         PRAGMA journal_mode = WAL;
         PRAGMA synchronous = FULL;
         PRAGMA foreign_keys = ON;"
    ))
}

/// Opens (creating if needed) the database at `url`, migrates it and returns a pool.
pub fn open_pool(url: &str, max_size: u32) -> Result<DbPool, StoreError> {
    let path = sqlite_path(url)?;
    // One direct connection first: a path that cannot be opened fails now, with SQLite's
    // reason, instead of after the pool's connection timeout.
    Conn::establish(&path)
        .map_err(|e| StoreError::invalid("database", format!("cannot open {path}: {e}")))?;
    let manager = ConnectionManager::<Conn>::new(path);
    let pool = Pool::builder()
        .max_size(max_size.max(1))
        .min_idle(Some(1))
        .connection_timeout(Duration::from_millis(u64::from(BUSY_TIMEOUT_MS)))
        .connection_customizer(Box::new(Pragmas))
        .build(manager)
        .map_err(|e| StoreError::Connection(e.to_string()))?;
    let mut conn = pool
        .get()
        .map_err(|e| StoreError::Connection(e.to_string()))?;
    migrate(&mut conn)?;
    Ok(pool)
}

/// Opens one plain connection with the same PRAGMAs (tests, tools), without migrating.
pub fn connect(url: &str) -> Result<Conn, StoreError> {
    let path = sqlite_path(url)?;
    let mut conn = Conn::establish(&path).map_err(|e| StoreError::Connection(e.to_string()))?;
    apply_pragmas(&mut conn)?;
    Ok(conn)
}

/// Applies pending migrations under the write lock, so that processes opening a new database
/// at the same time migrate it once.
pub fn migrate(conn: &mut Conn) -> Result<(), StoreError> {
    write_tx(conn, |c| {
        c.run_pending_migrations(MIGRATIONS)
            .map(|_| ())
            .map_err(|e| StoreError::Migration(e.to_string()))
    })
}

/// A write transaction: `BEGIN IMMEDIATE` takes the database's write lock before the first
/// read, so whatever the closure reads (booked sums, inputs) cannot change before it commits.
/// Two settlements of the same (customer, period) therefore run one after the other, and the
/// second sees the first's entries.
pub fn write_tx<T>(
    conn: &mut Conn,
    f: impl FnOnce(&mut Conn) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    conn.immediate_transaction(f)
}

/// A read transaction: one consistent snapshot for several queries.
pub fn read_tx<T>(
    conn: &mut Conn,
    f: impl FnOnce(&mut Conn) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    conn.transaction(f)
}

/// Whether a database error is a uniqueness violation (an id that already exists).
pub fn is_unique_violation(e: &diesel::result::Error) -> bool {
    matches!(
        e,
        diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, _)
    )
}
