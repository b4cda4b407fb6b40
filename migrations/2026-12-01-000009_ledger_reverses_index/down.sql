CREATE INDEX ledger_entries_reverses ON ledger_entries (reverses);
