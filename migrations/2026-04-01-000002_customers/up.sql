-- Customers and their plan history. The plan in force at an instant is the
-- plan change with the latest effective_at at or before it; before the first, no fee is owed.
CREATE TABLE customers (
    id TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    email TEXT,
    -- IANA zone name: measurement periods and local days are the customer's (docs/rules.md §1).
    timezone TEXT NOT NULL DEFAULT 'UTC',
    created_at TEXT NOT NULL
) STRICT;

CREATE TABLE plan_changes (
    customer_id TEXT NOT NULL REFERENCES customers (id),
    effective_at TEXT NOT NULL,
    plan_id TEXT NOT NULL REFERENCES plans (id),
    created_at TEXT NOT NULL,
    PRIMARY KEY (customer_id, effective_at)
) STRICT;

CREATE INDEX plan_changes_plan_id ON plan_changes (plan_id);
