DROP TRIGGER credit_breakdowns_no_delete;
DROP TRIGGER credit_breakdowns_no_update;
DROP TRIGGER ledger_entries_no_delete;
DROP TRIGGER ledger_entries_no_update;
DROP INDEX ledger_entries_customer_period;
DROP TABLE ledger_entries;
DROP TABLE credit_breakdowns;
