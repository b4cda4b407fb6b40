-- Two facts an export writes, kept on the entry when it is appended so that an export reads
-- them with the entry instead of looking each one up elsewhere:
-- - customer_name: the customer's name as it was when the entry was appended. Customers are
--   never renamed, so it is the name the customers table holds; kept, it spares an export a
--   descent of the customers' text key a row (a quarter of its CPU for 1,000,000 entries).
-- - settlement_id: the recorded settlement that appended the entry, the one its settlement
--   line names (NULL for a goodwill credit, a reversal, or a settlement run not recorded).
-- Entries appended before this migration keep NULL in both (entries are never updated); an
-- export looks their name up, and the settlement of an older `sla_credit` entry in its line.
ALTER TABLE ledger_entries ADD COLUMN customer_name TEXT;
ALTER TABLE ledger_entries ADD COLUMN settlement_id INTEGER REFERENCES settlements (id);
