ALTER TABLE ledger_entries DROP COLUMN settlement_id;
ALTER TABLE ledger_entries DROP COLUMN customer_name;
