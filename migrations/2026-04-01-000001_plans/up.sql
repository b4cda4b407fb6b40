-- Plans and their versions. A plan's currency never changes; everything else
-- (name, price, billing cycle, policy) is a version: a change appends a new version, and a stored
-- credit keeps (plan_id, policy_version), so the policy as applied is always the one it names.
-- Timestamps are TEXT, canonical UTC with nine fraction digits ("2026-01-16T05:06:00.000000000Z"),
-- so text order is time order. Prices are canonical decimal TEXT, never summed or compared in SQL.
CREATE TABLE plans (
    id TEXT PRIMARY KEY NOT NULL,
    currency TEXT NOT NULL CHECK (length(currency) = 3),
    created_at TEXT NOT NULL
) STRICT;

CREATE TABLE plan_versions (
    plan_id TEXT NOT NULL REFERENCES plans (id),
    version INTEGER NOT NULL CHECK (version >= 1),
    name TEXT NOT NULL,
    price TEXT NOT NULL,
    billing_cycle TEXT NOT NULL CHECK (billing_cycle IN ('monthly', 'quarterly', 'annual')),
    annual_split TEXT NOT NULL CHECK (annual_split IN ('twelfths', 'days')),
    -- The policy as applied: `Policy::to_spec()` as JSON, every default written out.
    policy TEXT NOT NULL,
    -- The version is in force from this instant until the next version's; version 1 from 1970.
    effective_at TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (plan_id, version),
    UNIQUE (plan_id, effective_at)
) STRICT;

-- A version is evidence behind stored credits: never edited, never removed.
CREATE TRIGGER plan_versions_no_update BEFORE UPDATE ON plan_versions
BEGIN
    SELECT RAISE(ABORT, 'plan versions are immutable: add a new version');
END;

CREATE TRIGGER plan_versions_no_delete BEFORE DELETE ON plan_versions
BEGIN
    SELECT RAISE(ABORT, 'plan versions are immutable: they cannot be deleted');
END;
