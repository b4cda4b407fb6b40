DROP INDEX ledger_entries_reversals;
