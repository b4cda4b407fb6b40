-- Incidents: outages count as downtime, maintenance as exclusions, for the
-- customers in scope. ended_at is NULL while the incident is ongoing. impact is a canonical
-- decimal in (0, 1] as TEXT.
CREATE TABLE incidents (
    id TEXT PRIMARY KEY NOT NULL,
    title TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('outage', 'maintenance')),
    started_at TEXT NOT NULL,
    ended_at TEXT CHECK (ended_at IS NULL OR ended_at > started_at),
    impact TEXT NOT NULL DEFAULT '1',
    summary TEXT,
    scope TEXT NOT NULL DEFAULT 'all' CHECK (scope IN ('all', 'plans', 'customers')),
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
) STRICT;

CREATE INDEX incidents_started_at ON incidents (started_at);

-- scope = 'plans': customers whose plan at the incident's start is listed here.
CREATE TABLE incident_plans (
    incident_id TEXT NOT NULL REFERENCES incidents (id),
    plan_id TEXT NOT NULL REFERENCES plans (id),
    PRIMARY KEY (incident_id, plan_id)
) STRICT;

-- scope = 'customers': the customers listed here.
CREATE TABLE incident_customers (
    incident_id TEXT NOT NULL REFERENCES incidents (id),
    customer_id TEXT NOT NULL REFERENCES customers (id),
    PRIMARY KEY (incident_id, customer_id)
) STRICT;
