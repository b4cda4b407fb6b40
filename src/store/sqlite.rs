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
use diesel::{Connection, OptionalExtension, QueryableByName, RunQueryDsl};
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

use crate::wire::Error;

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

/// The file a database URL names: `sqlite://PATH`, `sqlite:PATH` or a plain path. URL
/// options (`?mode=ro`) are refused rather than taken as part of a file name.
pub fn sqlite_path(url: &str) -> Result<String, Error> {
    let path = if let Some(rest) = url.strip_prefix("sqlite://") {
        rest
    } else if let Some(rest) = url.strip_prefix("sqlite:") {
        rest
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return Err(Error::invalid(
            "database",
            "PostgreSQL is not supported by this build; use sqlite://PATH",
        ));
    } else if url.starts_with("file:") || url.contains("://") {
        return Err(Error::invalid(
            "database",
            format!("{url:?}: use sqlite://PATH, sqlite:PATH or a plain path"),
        ));
    } else {
        url
    };
    if path.contains('?') || path.contains('#') {
        return Err(Error::invalid(
            "database",
            format!("{url:?}: URL options such as ?mode=ro are not supported; name the file only"),
        ));
    }
    if path.is_empty() {
        return Err(Error::invalid("database", "names no file"));
    }
    if path == ":memory:" {
        return Err(Error::invalid(
            "database",
            "an in-memory database would lose every entry; name a file",
        ));
    }
    Ok(path.to_string())
}

/// How a command opens its database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenMode {
    /// Commands that write, and the server: create the file and migrate it as needed.
    Create,
    /// Commands that only read: the database must exist and be up to date; nothing is
    /// created or migrated.
    Existing,
}

/// The first bytes of every SQLite database file.
const SQLITE_HEADER: &[u8; 16] = b"SQLite format 3\0";

/// Checks a database file before anything touches it: it must be SQLite (or empty, or
/// absent when it may be created), and if it holds tables, they must be ours (diesel's
/// migration history is there). A file that fails is left byte-identical.
fn inspect_file(path: &str, mode: OpenMode) -> Result<(), Error> {
    use std::io::Read;
    let mut header = [0u8; 16];
    let read = match std::fs::File::open(path) {
        Ok(mut f) => f
            .read(&mut header)
            .map_err(|e| Error::invalid("database", format!("cannot read {path}: {e}")))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return match mode {
                OpenMode::Create => require_parent_dir(path),
                OpenMode::Existing => Err(Error::invalid(
                    "database",
                    format!("no database at {path} (this command only reads; nothing was created)"),
                )),
            }
        }
        Err(e) => {
            return Err(Error::invalid(
                "database",
                format!("cannot open {path}: {e}"),
            ))
        }
    };
    if read == 0 {
        return Ok(());
    }
    if read < 16 || &header != SQLITE_HEADER {
        return Err(Error::invalid(
            "database",
            format!("{path} is not a SQLite database"),
        ));
    }
    let mut conn = Conn::establish(path)
        .map_err(|e| Error::invalid("database", format!("cannot open {path}: {e}")))?;
    let names: Vec<NameRow> = diesel::sql_query(
        "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
    )
    .load(&mut conn)
    .map_err(|e| Error::invalid("database", format!("cannot read {path}: {e}")))?;
    let ours = names.iter().any(|n| n.name == "__diesel_schema_migrations");
    if !names.is_empty() && !ours {
        return Err(Error::invalid(
            "database",
            format!("{path} holds another application's tables; refusing to use it"),
        ));
    }
    Ok(())
}

/// A file to be created needs an existing directory; SQLite would otherwise fail only when
/// the pool times out.
fn require_parent_dir(path: &str) -> Result<(), Error> {
    let parent = std::path::Path::new(path)
        .parent()
        .filter(|p| !p.as_os_str().is_empty());
    match parent {
        Some(dir) if !dir.is_dir() => Err(Error::invalid(
            "database",
            format!("cannot create {path}: {} is not a directory", dir.display()),
        )),
        _ => Ok(()),
    }
}

#[derive(diesel::QueryableByName)]
struct NameRow {
    #[diesel(sql_type = diesel::sql_types::Text)]
    name: String,
}

/// How a pool's connections read: each one's page cache and how much of the database file
/// it maps into memory. The commands keep SQLite's defaults; a server asks for more
/// ([`Reading::serving`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Reading {
    /// Page cache per connection in KiB (`None`: SQLite's default, 2 MiB).
    pub cache_kib: Option<u32>,
    /// Bytes of the database file read through a memory map instead of `read` calls
    /// (SQLite's `mmap_size`; 0: none). The map is address space shared with the operating
    /// system's page cache, not memory of each connection's own.
    pub mmap_bytes: u64,
}

impl Reading {
    /// A server's connections: `cache_mib` MiB of page cache each, `mmap_mib` MiB mapped.
    pub fn serving(cache_mib: u32, mmap_mib: u32) -> Reading {
        Reading {
            cache_kib: Some(cache_mib.saturating_mul(1024)),
            mmap_bytes: u64::from(mmap_mib) << 20,
        }
    }
}

/// The PRAGMAs every connection gets when the pool opens it, and how it reads.
#[derive(Debug, Clone, Copy)]
struct Pragmas {
    reading: Reading,
}

impl CustomizeConnection<Conn, diesel::r2d2::Error> for Pragmas {
    fn on_acquire(&self, conn: &mut Conn) -> Result<(), diesel::r2d2::Error> {
        apply_pragmas(conn).map_err(diesel::r2d2::Error::QueryError)?;
        if let Some(kib) = self.reading.cache_kib {
            // A negative size is in KiB (SQLite's convention), a positive one in pages.
            conn.batch_execute(&format!("PRAGMA cache_size = -{kib};"))
                .map_err(diesel::r2d2::Error::QueryError)?;
        }
        if self.reading.mmap_bytes > 0 {
            let bytes = self.reading.mmap_bytes;
            conn.batch_execute(&format!("PRAGMA mmap_size = {bytes};"))
                .map_err(diesel::r2d2::Error::QueryError)?;
        }
        Ok(())
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

/// Opens the database at `url` and returns a pool; with [`OpenMode::Create`] the file is
/// created and migrated as needed, with [`OpenMode::Existing`] it must exist and be current.
/// `reading` sets each pooled connection's page cache and memory map.
pub fn open_pool(
    url: &str,
    mode: OpenMode,
    max_size: u32,
    reading: Reading,
) -> Result<DbPool, Error> {
    let path = sqlite_path(url)?;
    inspect_file(&path, mode)?;
    let manager = ConnectionManager::<Conn>::new(path.clone());
    let pool = Pool::builder()
        .max_size(max_size.max(1))
        .min_idle(Some(1))
        .connection_timeout(Duration::from_millis(u64::from(BUSY_TIMEOUT_MS)))
        .connection_customizer(Box::new(Pragmas { reading }))
        .build(manager)
        .map_err(|e| Error::invalid("database", format!("cannot open {path}: {e}")))?;
    let mut conn = pool.get().map_err(|_| Error::Busy)?;
    match mode {
        OpenMode::Create => migrate(&mut conn)?,
        OpenMode::Existing => {
            let pending = conn
                .pending_migrations(MIGRATIONS)
                .map_err(|e| Error::internal(format!("migrations: {e}")))?;
            if !pending.is_empty() {
                return Err(Error::invalid(
                    "database",
                    format!("{path} needs migrating: run a command that writes, or serve"),
                ));
            }
        }
    }
    Ok(pool)
}

/// Opens one plain connection with the same PRAGMAs (tests, tools), without migrating.
pub fn connect(url: &str) -> Result<Conn, Error> {
    let path = sqlite_path(url)?;
    let mut conn = Conn::establish(&path)
        .map_err(|e| Error::invalid("database", format!("cannot open {path}: {e}")))?;
    apply_pragmas(&mut conn)?;
    Ok(conn)
}

#[derive(QueryableByName)]
struct FileRow {
    #[diesel(sql_type = diesel::sql_types::Text)]
    file: String,
}

/// A second connection (same PRAGMAs) to the database file `conn` has open; `None` for a
/// database that is not a file (in memory, temporary).
pub fn second_connection(conn: &mut Conn) -> Result<Option<Conn>, Error> {
    let row: Option<FileRow> =
        diesel::sql_query("SELECT file FROM pragma_database_list WHERE name = 'main'")
            .get_result(conn)
            .optional()?;
    match row {
        Some(r) if !r.file.is_empty() => connect(&r.file).map(Some),
        _ => Ok(None),
    }
}

#[derive(QueryableByName)]
struct DataVersion {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    data_version: i64,
}

/// `PRAGMA data_version` of `conn`: it changes exactly when another connection (of this
/// process or another) has committed since it was last read.
pub fn data_version(conn: &mut Conn) -> Result<i64, Error> {
    let row: DataVersion = diesel::sql_query("PRAGMA data_version").get_result(conn)?;
    Ok(row.data_version)
}

/// Applies pending migrations under the write lock, so that processes opening a new database
/// at the same time migrate it once.
pub fn migrate(conn: &mut Conn) -> Result<(), Error> {
    write_tx(conn, |c| {
        c.run_pending_migrations(MIGRATIONS)
            .map(|_| ())
            .map_err(|e| Error::internal(format!("database migration: {e}")))
    })
}

/// A write transaction: `BEGIN IMMEDIATE` takes the database's write lock before the first
/// read, so whatever the closure reads (booked sums, inputs) cannot change before it commits.
/// Two settlements of the same (customer, period) therefore run one after the other, and the
/// second sees the first's entries.
///
/// Inside a transaction already (a caller that commits an idempotency record with the
/// effect), the work runs in a savepoint of that transaction instead.
pub fn write_tx<T>(
    conn: &mut Conn,
    f: impl FnOnce(&mut Conn) -> Result<T, Error>,
) -> Result<T, Error> {
    use diesel::connection::{AnsiTransactionManager, TransactionManager};
    let depth = AnsiTransactionManager::transaction_manager_status_mut(conn)
        .transaction_depth()
        .ok()
        .flatten();
    if depth.is_some() {
        conn.transaction(f)
    } else {
        conn.immediate_transaction(f)
    }
}

/// A read transaction: one consistent snapshot for several queries.
pub fn read_tx<T>(
    conn: &mut Conn,
    f: impl FnOnce(&mut Conn) -> Result<T, Error>,
) -> Result<T, Error> {
    conn.transaction(f)
}

/// Whether a database error is a uniqueness violation (an id that already exists).
pub fn is_unique_violation(e: &diesel::result::Error) -> bool {
    matches!(
        e,
        diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, _)
    )
}

/// How SQLite's errors read as the taxonomy: a lock held past the wait is busy (retry),
/// anything else is ours. Callers that expect a uniqueness violation test for it first
/// ([`is_unique_violation`]) and name the field.
impl From<diesel::result::Error> for Error {
    fn from(e: diesel::result::Error) -> Self {
        if let diesel::result::Error::DatabaseError(_, info) = &e {
            let m = info.message();
            if m.contains("database is locked") || m.contains("database is busy") {
                return Error::Busy;
            }
        }
        Error::internal_from("database", e)
    }
}

/// SQLite's page cache while a settlement runs, in KiB. The default (2 MiB) is smaller than
/// the pages one batch touches (the ledger's table and its indexes, the lines, the
/// customers), so every batch read them again from the file.
pub const SETTLE_PAGE_CACHE_KIB: i64 = 24 * 1024;

/// WAL pages between checkpoints while a settlement runs (the default is 1,000). Every batch
/// commits a few MB, so at the default nearly every commit copied the hot index pages back
/// into the database and synced it; at 64 MB a page is copied once for many batches.
pub const SETTLE_CHECKPOINT_PAGES: i64 = 16_384;

macro_rules! pragma_reader {
    ($name:ident, $column:ident) => {
        #[derive(QueryableByName)]
        struct $name {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            $column: i64,
        }
    };
}
pragma_reader!(CacheSize, cache_size);
pragma_reader!(WalAutocheckpoint, wal_autocheckpoint);
pragma_reader!(TempStore, temp_store);
pragma_reader!(ForeignKeys, foreign_keys);
pragma_reader!(MmapSize, mmap_size);

/// The connection's current values of the settings a settlement changes, as PRAGMA lines
/// that put them back.
fn current_settings(conn: &mut Conn) -> Result<String, Error> {
    let cache: CacheSize = diesel::sql_query("PRAGMA cache_size").get_result(conn)?;
    let wal: WalAutocheckpoint = diesel::sql_query("PRAGMA wal_autocheckpoint").get_result(conn)?;
    let temp: TempStore = diesel::sql_query("PRAGMA temp_store").get_result(conn)?;
    let fk: ForeignKeys = diesel::sql_query("PRAGMA foreign_keys").get_result(conn)?;
    Ok(format!(
        "PRAGMA cache_size = {}; PRAGMA wal_autocheckpoint = {}; PRAGMA temp_store = {}; \
         PRAGMA foreign_keys = {}; {}",
        cache.cache_size,
        wal.wal_autocheckpoint,
        temp.temp_store,
        fk.foreign_keys,
        mmap_pragma(mmap_size(conn)?)
    ))
}

/// Bytes of the database file the connection reads through its memory map.
fn mmap_size(conn: &mut Conn) -> Result<i64, Error> {
    let mmap: MmapSize = diesel::sql_query("PRAGMA mmap_size").get_result(conn)?;
    Ok(mmap.mmap_size)
}

fn mmap_pragma(bytes: i64) -> String {
    format!("PRAGMA mmap_size = {bytes};")
}

/// Runs `f` with the PRAGMAs `set`, then runs `restore`, also when `f` fails or panics (the
/// connection goes back to the pool).
fn with_pragmas<T>(
    conn: &mut Conn,
    set: &str,
    restore: &str,
    f: impl FnOnce(&mut Conn) -> Result<T, Error>,
) -> Result<T, Error> {
    conn.batch_execute(set)?;
    let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(&mut *conn)));
    let restored = conn.batch_execute(restore);
    match out {
        Ok(out) => {
            restored?;
            out
        }
        Err(panic) => std::panic::resume_unwind(panic),
    }
}

/// Runs `f`, a read of much of the file (an export), with the connection reading by `read`
/// calls instead of the memory map a server's connections have ([`Reading::mmap_bytes`]),
/// then maps again. The map spares a lookup's page copies, but every mapped page a process
/// has touched counts in its resident memory: a scan of the whole ledger would show as
/// hundreds of MB resident (about 1 GB for the share runs of `bench/restitution.sh`, where a
/// settlement unmapped stays near 110 MB) for no gain of its own. Call it outside any
/// transaction.
pub fn unmapped<T>(
    conn: &mut Conn,
    f: impl FnOnce(&mut Conn) -> Result<T, Error>,
) -> Result<T, Error> {
    match mmap_size(conn)? {
        0 => f(conn),
        bytes => with_pragmas(conn, &mmap_pragma(0), &mmap_pragma(bytes), f),
    }
}

/// Runs `f` (a settlement) with the settings its bulk appends want, then gives the connection
/// its own back, also when `f` fails or panics (the connection goes back to the pool):
/// - [`SETTLE_PAGE_CACHE_KIB`] of page cache and a checkpoint every [`SETTLE_CHECKPOINT_PAGES`];
/// - no memory map (a settlement reads most of the file: see [`unmapped`]);
/// - statement journals in memory (each multi-row INSERT keeps one, to undo itself alone on a
///   constraint error; past 64 KiB SQLite would spill it to a temporary file otherwise);
/// - no per-row foreign-key lookups. SQLite checks a foreign key by opening a cursor on the
///   parent and seeking it, for every key of every row: five per settled customer, about an
///   eighth of a settlement's time. A settlement's rows need none of them: each names a
///   customer and a plan version it read, and a breakdown, settlement and entry it wrote, all
///   inside the same write transaction, and none of those parents can go away (plan versions,
///   breakdowns, settlements and entries refuse DELETE; customers are never deleted, and every
///   other connection enforces the keys). `docs/restitution.md` says so too, and the tests
///   run `PRAGMA foreign_key_check` after their settlements.
pub fn with_settle_settings<T>(
    conn: &mut Conn,
    f: impl FnOnce(&mut Conn) -> Result<T, Error>,
) -> Result<T, Error> {
    let restore = current_settings(conn)?;
    let unmap = mmap_pragma(0);
    let set = format!(
        "PRAGMA cache_size = -{SETTLE_PAGE_CACHE_KIB};
         PRAGMA wal_autocheckpoint = {SETTLE_CHECKPOINT_PAGES};
         PRAGMA temp_store = MEMORY;
         PRAGMA foreign_keys = OFF;
         {unmap}"
    );
    with_pragmas(conn, &set, &restore, f)
}
