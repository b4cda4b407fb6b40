-- The HTTP API: API keys, idempotency records and goodwill references.

-- API keys. The token is shown once when created; only its SHA-256 is stored. A revoked key
-- stays (its name is the `created_by` of entries) but no longer authenticates.
CREATE TABLE api_keys (
    name TEXT PRIMARY KEY NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('admin', 'billing', 'finance', 'support')),
    token_sha256 TEXT NOT NULL UNIQUE CHECK (length(token_sha256) = 64),
    created_at TEXT NOT NULL,
    revoked_at TEXT
) STRICT;

-- Idempotency-Key records, scoped to the API key's name. `fingerprint` is the SHA-256 of the
-- method, path, query and body. A `running` record is a lease until `lease_until`; a `done`
-- record holds the response to replay. Kept at least 24 hours.
CREATE TABLE idempotency_keys (
    owner TEXT NOT NULL,
    key TEXT NOT NULL,
    fingerprint TEXT NOT NULL CHECK (length(fingerprint) = 64),
    state TEXT NOT NULL CHECK (state IN ('running', 'done')),
    lease_until TEXT NOT NULL,
    status INTEGER,
    headers TEXT,
    body BLOB,
    created_at TEXT NOT NULL,
    PRIMARY KEY (owner, key)
) STRICT, WITHOUT ROWID;

CREATE INDEX idempotency_keys_created_at ON idempotency_keys (created_at);

-- A goodwill credit's optional `reference`, unique per customer: a natural key for retries
-- that come after the idempotency window. Append-only, like the entries it names.
CREATE TABLE entry_references (
    entry_id INTEGER PRIMARY KEY NOT NULL REFERENCES ledger_entries (id),
    customer_id TEXT NOT NULL,
    reference TEXT NOT NULL,
    UNIQUE (customer_id, reference)
) STRICT;

CREATE TRIGGER entry_references_no_update BEFORE UPDATE ON entry_references
BEGIN
    SELECT RAISE(ABORT, 'entry references are append-only: UPDATE is refused');
END;

CREATE TRIGGER entry_references_no_delete BEFORE DELETE ON entry_references
BEGIN
    SELECT RAISE(ABORT, 'entry references are append-only: DELETE is refused');
END;

-- The ledger feed and the support view read entries by customer, newest first.
CREATE INDEX ledger_entries_customer_id ON ledger_entries (customer_id, id);
CREATE INDEX ledger_entries_reverses ON ledger_entries (reverses);
