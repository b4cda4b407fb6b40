CREATE TABLE export_entries (
    entry_id INTEGER PRIMARY KEY NOT NULL REFERENCES ledger_entries (id),
    export_id INTEGER NOT NULL REFERENCES export_batches (id)
) STRICT;

CREATE INDEX export_entries_export_id ON export_entries (export_id, entry_id);

INSERT INTO export_entries (entry_id, export_id)
SELECT l.id, r.export_id FROM export_ranges r
JOIN ledger_entries l ON l.id > r.after_entry_id AND l.id <= r.last_entry_id;

CREATE TRIGGER export_entries_no_update BEFORE UPDATE ON export_entries
BEGIN
    SELECT RAISE(ABORT, 'export links are append-only: UPDATE is refused');
END;

CREATE TRIGGER export_entries_no_delete BEFORE DELETE ON export_entries
BEGIN
    SELECT RAISE(ABORT, 'export links are append-only: DELETE is refused');
END;

DROP TRIGGER export_ranges_no_delete;
DROP TRIGGER export_ranges_no_update;
DROP INDEX export_ranges_last_entry_id;
DROP TABLE export_ranges;
