-- Export batches as contiguous ranges of entry ids (docs/csv.md, "Exports"). Entries are
-- append-only and take increasing ids under the write lock, and a batch is made under the
-- same lock (`BEGIN IMMEDIATE`), so "every entry not yet in a batch" is exactly every entry
-- with an id above the previous batch's last: a batch is one row, (after_entry_id,
-- last_entry_id], instead of one link row per entry. An empty batch has
-- after_entry_id = last_entry_id.
CREATE TABLE export_ranges (
    export_id INTEGER PRIMARY KEY NOT NULL REFERENCES export_batches (id),
    after_entry_id INTEGER NOT NULL CHECK (after_entry_id >= 0),
    last_entry_id INTEGER NOT NULL,
    CHECK (last_entry_id >= after_entry_id)
) STRICT;

CREATE INDEX export_ranges_last_entry_id ON export_ranges (last_entry_id, export_id);

CREATE TRIGGER export_ranges_no_update BEFORE UPDATE ON export_ranges
BEGIN
    SELECT RAISE(ABORT, 'export ranges are append-only: UPDATE is refused');
END;

CREATE TRIGGER export_ranges_no_delete BEFORE DELETE ON export_ranges
BEGIN
    SELECT RAISE(ABORT, 'export ranges are append-only: DELETE is refused');
END;

-- The batches made so far, from their links: a batch ends at its highest entry (an empty
-- batch where the one before it ended) and starts after the end of the one before it.
INSERT INTO export_ranges (export_id, after_entry_id, last_entry_id)
SELECT id,
       coalesce(max(top) OVER (ORDER BY id ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0),
       coalesce(max(top) OVER (ORDER BY id ROWS UNBOUNDED PRECEDING), 0)
FROM (SELECT b.id, (SELECT max(x.entry_id) FROM export_entries x WHERE x.export_id = b.id) AS top
      FROM export_batches b);

-- Each batch made so far must be exactly its range: as many links inside it as rows, and as
-- many entries in it as rows. Otherwise the migration fails here and changes nothing.
CREATE TABLE export_ranges_migration_check (ok INTEGER NOT NULL CHECK (ok = 1)) STRICT;
INSERT INTO export_ranges_migration_check (ok)
SELECT NOT EXISTS (
    SELECT 1 FROM export_ranges r JOIN export_batches b ON b.id = r.export_id
    WHERE b.rows <> (SELECT count(*) FROM export_entries x
                     WHERE x.export_id = r.export_id
                       AND x.entry_id > r.after_entry_id AND x.entry_id <= r.last_entry_id)
       OR b.rows <> (SELECT count(*) FROM ledger_entries l
                     WHERE l.id > r.after_entry_id AND l.id <= r.last_entry_id)
       OR b.rows <> (SELECT count(*) FROM export_entries x WHERE x.export_id = r.export_id)
);
DROP TABLE export_ranges_migration_check;

DROP TRIGGER export_entries_no_delete;
DROP TRIGGER export_entries_no_update;
DROP INDEX export_entries_export_id;
DROP TABLE export_entries;
