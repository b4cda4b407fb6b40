DROP INDEX ledger_entries_reverses;
DROP INDEX ledger_entries_customer_id;
DROP TRIGGER entry_references_no_delete;
DROP TRIGGER entry_references_no_update;
DROP TABLE entry_references;
DROP INDEX idempotency_keys_created_at;
DROP TABLE idempotency_keys;
DROP TABLE api_keys;
