-- Which entry reverses a given one: every view of an entry (the support view, one entry, the
-- ledger list) asks, once per entry shown. The UNIQUE constraint on `reverses` keeps an index
-- on it (sqlite_autoindex_ledger_entries_*), but that index holds every entry, NULL for all
-- but the reversals: with 1,000,000 entries a probe descends three levels of it to find
-- nothing, 8 % of the support view's CPU. This index holds the reversals only, so a probe is
-- a page or two however long the ledger grows, and SQLite's planner prefers it for
-- `reverses = ?` (tests/store/migrations.rs checks the plan). The constraint stays where it is.
CREATE UNIQUE INDEX ledger_entries_reversals ON ledger_entries (reverses)
WHERE reverses IS NOT NULL;
