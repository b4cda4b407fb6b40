-- The append-only credit ledger (docs/rules.md §6).
--
-- Amounts are INTEGER minor units (amount_minor × 10^-minor_units, in `currency`): exact, and
-- never summed by SQL; balances are summed in Rust. minor_units is stored with each entry so an
-- amount keeps its meaning even if ISO 4217 ever changes a currency's exponent.

-- Breakdowns (docs/rules.md §7) are content-addressed: customers with the same plan, zone and
-- incidents share one breakdown, stored once and referenced by its SHA-256. Immutable.
CREATE TABLE credit_breakdowns (
    sha256 TEXT PRIMARY KEY NOT NULL CHECK (length(sha256) = 64),
    body TEXT NOT NULL
) STRICT, WITHOUT ROWID;

CREATE TABLE ledger_entries (
    id INTEGER PRIMARY KEY NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('sla_credit', 'goodwill', 'reversal')),
    customer_id TEXT NOT NULL REFERENCES customers (id),
    -- Measurement period label: 2026-01 or 2026-Q1.
    period TEXT NOT NULL,
    amount_minor INTEGER NOT NULL CHECK (amount_minor <> 0),
    currency TEXT NOT NULL CHECK (length(currency) = 3),
    minor_units INTEGER NOT NULL CHECK (minor_units BETWEEN 0 AND 4),
    -- JSON array of the incident ids the figure was computed from.
    incident_ids TEXT NOT NULL DEFAULT '[]',
    reason TEXT,
    created_at TEXT NOT NULL,
    -- The actor: an API key's name, or `cli`.
    created_by TEXT NOT NULL,
    reverses INTEGER UNIQUE REFERENCES ledger_entries (id),
    plan_id TEXT,
    -- With plan_id, names the plan version whose policy (as applied) computed the figure.
    policy_version INTEGER,
    rounding TEXT,
    explanation TEXT NOT NULL,
    breakdown_sha256 TEXT REFERENCES credit_breakdowns (sha256),
    -- Ongoing incidents were counted up to this instant.
    as_of TEXT,
    tzdb_version TEXT NOT NULL,
    engine_version TEXT NOT NULL,
    CHECK ((kind = 'reversal') = (reverses IS NOT NULL)),
    FOREIGN KEY (plan_id, policy_version) REFERENCES plan_versions (plan_id, version)
) STRICT;

CREATE INDEX ledger_entries_customer_period ON ledger_entries (customer_id, period);

-- Records are immutable: corrections append, nothing is edited or removed, whatever the code.
CREATE TRIGGER ledger_entries_no_update BEFORE UPDATE ON ledger_entries
BEGIN
    SELECT RAISE(ABORT, 'ledger entries are append-only: UPDATE is refused');
END;

CREATE TRIGGER ledger_entries_no_delete BEFORE DELETE ON ledger_entries
BEGIN
    SELECT RAISE(ABORT, 'ledger entries are append-only: DELETE is refused');
END;

CREATE TRIGGER credit_breakdowns_no_update BEFORE UPDATE ON credit_breakdowns
BEGIN
    SELECT RAISE(ABORT, 'credit breakdowns are immutable: UPDATE is refused');
END;

CREATE TRIGGER credit_breakdowns_no_delete BEFORE DELETE ON credit_breakdowns
BEGIN
    SELECT RAISE(ABORT, 'credit breakdowns are immutable: DELETE is refused');
END;
