CREATE INDEX ledger_entries_customer_period ON ledger_entries (customer_id, period);
