-- Which entry reverses a given one: the support view asks once per entry shown, in the join
-- that reads its page. The UNIQUE constraint on `reverses` keeps an index on it
-- (sqlite_autoindex_ledger_entries_*), but that index holds every entry, NULL for all but the
-- reversals: with 1,000,000 entries a probe descends three levels of it to find nothing, 8 %
-- of the support view's instructions. This index holds the reversals only, so a probe is a
-- page or two however long the ledger grows; SQLite's planner takes it for the page's join
-- (tests/store/migrations.rs checks the plan). The constraint stays where it is.
CREATE UNIQUE INDEX ledger_entries_reversals ON ledger_entries (reverses)
WHERE reverses IS NOT NULL;
