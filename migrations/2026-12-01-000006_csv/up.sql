-- CSV imports and billing export batches (docs/csv.md).

-- One row per successful import: the file's SHA-256 per kind is unique, so re-uploading the
-- same file is recognized and stores nothing twice. A dry run is not recorded.
CREATE TABLE imports (
    id INTEGER PRIMARY KEY NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('customers', 'plans', 'incidents')),
    sha256 TEXT NOT NULL CHECK (length(sha256) = 64),
    rows INTEGER NOT NULL CHECK (rows >= 0),
    created_at TEXT NOT NULL,
    created_by TEXT NOT NULL,
    UNIQUE (kind, sha256)
) STRICT;

CREATE TRIGGER imports_no_update BEFORE UPDATE ON imports
BEGIN
    SELECT RAISE(ABORT, 'imports are append-only: UPDATE is refused');
END;

CREATE TRIGGER imports_no_delete BEFORE DELETE ON imports
BEGIN
    SELECT RAISE(ABORT, 'imports are append-only: DELETE is refused');
END;

-- An export batch: every entry not yet in a batch when it was made. `sha256` is of the plain
-- CSV form (no BOM, comma-delimited); downloads are rendered again from immutable rows and
-- are byte-identical.
CREATE TABLE export_batches (
    id INTEGER PRIMARY KEY NOT NULL,
    rows INTEGER NOT NULL CHECK (rows >= 0),
    sha256 TEXT NOT NULL CHECK (length(sha256) = 64),
    created_at TEXT NOT NULL,
    created_by TEXT NOT NULL
) STRICT;

-- A batch's total per currency, in INTEGER minor units (summed in Rust, never by SQL).
CREATE TABLE export_totals (
    export_id INTEGER NOT NULL REFERENCES export_batches (id),
    currency TEXT NOT NULL CHECK (length(currency) = 3),
    amount_minor INTEGER NOT NULL,
    minor_units INTEGER NOT NULL CHECK (minor_units BETWEEN 0 AND 4),
    PRIMARY KEY (export_id, currency)
) STRICT;

-- Which batch an entry went out in: at most one (the primary key), so nothing is exported
-- twice. Entries themselves are never updated; the link is its own append-only row.
CREATE TABLE export_entries (
    entry_id INTEGER PRIMARY KEY NOT NULL REFERENCES ledger_entries (id),
    export_id INTEGER NOT NULL REFERENCES export_batches (id)
) STRICT;

CREATE INDEX export_entries_export_id ON export_entries (export_id, entry_id);

-- Billing's acknowledgement that a batch is loaded: at most one per batch.
CREATE TABLE export_acknowledgements (
    export_id INTEGER PRIMARY KEY NOT NULL REFERENCES export_batches (id),
    reference TEXT NOT NULL,
    created_at TEXT NOT NULL,
    created_by TEXT NOT NULL
) STRICT;

CREATE TRIGGER export_batches_no_update BEFORE UPDATE ON export_batches
BEGIN
    SELECT RAISE(ABORT, 'export batches are append-only: UPDATE is refused');
END;

CREATE TRIGGER export_batches_no_delete BEFORE DELETE ON export_batches
BEGIN
    SELECT RAISE(ABORT, 'export batches are append-only: DELETE is refused');
END;

CREATE TRIGGER export_totals_no_update BEFORE UPDATE ON export_totals
BEGIN
    SELECT RAISE(ABORT, 'export totals are append-only: UPDATE is refused');
END;

CREATE TRIGGER export_totals_no_delete BEFORE DELETE ON export_totals
BEGIN
    SELECT RAISE(ABORT, 'export totals are append-only: DELETE is refused');
END;

CREATE TRIGGER export_entries_no_update BEFORE UPDATE ON export_entries
BEGIN
    SELECT RAISE(ABORT, 'export links are append-only: UPDATE is refused');
END;

CREATE TRIGGER export_entries_no_delete BEFORE DELETE ON export_entries
BEGIN
    SELECT RAISE(ABORT, 'export links are append-only: DELETE is refused');
END;

CREATE TRIGGER export_acknowledgements_no_update BEFORE UPDATE ON export_acknowledgements
BEGIN
    SELECT RAISE(ABORT, 'export acknowledgements are append-only: UPDATE is refused');
END;

CREATE TRIGGER export_acknowledgements_no_delete BEFORE DELETE ON export_acknowledgements
BEGIN
    SELECT RAISE(ABORT, 'export acknowledgements are append-only: DELETE is refused');
END;
