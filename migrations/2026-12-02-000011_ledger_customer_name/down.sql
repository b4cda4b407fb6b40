ALTER TABLE ledger_entries DROP COLUMN customer_name;
