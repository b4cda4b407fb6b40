-- `ledger_entries.reverses` is UNIQUE, so SQLite already keeps an index on it
-- (sqlite_autoindex_ledger_entries_*), which answers every lookup by `reverses`. The second,
-- plain index on the same column only cost every appended entry one more index insert.
DROP INDEX ledger_entries_reverses;
