-- Recorded settlements (docs/restitution.md): who settled which incident, when and as of
-- which instant; what it found (counts, totals per currency); and one line per (customer,
-- period) it computed. Every table is append-only. A settlement runs in batches of
-- customers, one transaction each: its record goes in with the first batch, its lines with
-- each batch, and its result (counts and totals) with the last, so a settlement stopped part
-- way shows as incomplete (no result) and a re-run settles what is left.
CREATE TABLE settlements (
    id INTEGER PRIMARY KEY NOT NULL,
    incident_id TEXT NOT NULL,
    created_at TEXT NOT NULL,
    created_by TEXT NOT NULL,
    as_of TEXT NOT NULL,
    tzdb_version TEXT NOT NULL,
    engine_version TEXT NOT NULL
) STRICT;

CREATE INDEX settlements_incident_id ON settlements (incident_id, id);

-- The result of a finished settlement.
CREATE TABLE settlement_results (
    settlement_id INTEGER PRIMARY KEY NOT NULL REFERENCES settlements (id),
    customers INTEGER NOT NULL CHECK (customers >= 0),
    periods INTEGER NOT NULL CHECK (periods >= 0),
    entries_appended INTEGER NOT NULL CHECK (entries_appended >= 0),
    finished_at TEXT NOT NULL
) STRICT;

-- Sum of the appended deltas per currency, in minor units (summed in Rust, exactly).
CREATE TABLE settlement_totals (
    settlement_id INTEGER NOT NULL REFERENCES settlements (id),
    currency TEXT NOT NULL,
    minor_units INTEGER NOT NULL,
    amount_minor INTEGER NOT NULL,
    PRIMARY KEY (settlement_id, currency)
) STRICT, WITHOUT ROWID;

-- One (customer, period) the settlement computed: target, what was booked before, the
-- delta, and the entry appended for it (null when the delta was 0).
CREATE TABLE settlement_lines (
    settlement_id INTEGER NOT NULL REFERENCES settlements (id),
    customer_id TEXT NOT NULL,
    period TEXT NOT NULL,
    currency TEXT NOT NULL,
    minor_units INTEGER NOT NULL,
    target_minor INTEGER NOT NULL,
    booked_minor INTEGER NOT NULL,
    delta_minor INTEGER NOT NULL,
    entry_id INTEGER REFERENCES ledger_entries (id),
    PRIMARY KEY (settlement_id, customer_id, period)
) STRICT, WITHOUT ROWID;

CREATE INDEX settlement_lines_entry_id ON settlement_lines (entry_id) WHERE entry_id IS NOT NULL;

CREATE TRIGGER settlements_no_update BEFORE UPDATE ON settlements
BEGIN
    SELECT RAISE(ABORT, 'settlements are append-only: UPDATE is refused');
END;

CREATE TRIGGER settlements_no_delete BEFORE DELETE ON settlements
BEGIN
    SELECT RAISE(ABORT, 'settlements are append-only: DELETE is refused');
END;

CREATE TRIGGER settlement_results_no_update BEFORE UPDATE ON settlement_results
BEGIN
    SELECT RAISE(ABORT, 'settlement results are append-only: UPDATE is refused');
END;

CREATE TRIGGER settlement_results_no_delete BEFORE DELETE ON settlement_results
BEGIN
    SELECT RAISE(ABORT, 'settlement results are append-only: DELETE is refused');
END;

CREATE TRIGGER settlement_totals_no_update BEFORE UPDATE ON settlement_totals
BEGIN
    SELECT RAISE(ABORT, 'settlement totals are append-only: UPDATE is refused');
END;

CREATE TRIGGER settlement_totals_no_delete BEFORE DELETE ON settlement_totals
BEGIN
    SELECT RAISE(ABORT, 'settlement totals are append-only: DELETE is refused');
END;

CREATE TRIGGER settlement_lines_no_update BEFORE UPDATE ON settlement_lines
BEGIN
    SELECT RAISE(ABORT, 'settlement lines are append-only: UPDATE is refused');
END;

CREATE TRIGGER settlement_lines_no_delete BEFORE DELETE ON settlement_lines
BEGIN
    SELECT RAISE(ABORT, 'settlement lines are append-only: DELETE is refused');
END;
