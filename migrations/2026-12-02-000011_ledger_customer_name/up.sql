-- The customer's name as it was when the entry was appended: customers are never renamed, so
-- it is the name the customers table holds, kept on the entry so that an export reads it with
-- the entry instead of descending the customers' text key once a row (a quarter of an
-- export's CPU for 1,000,000 entries). Entries appended before this migration keep NULL (they
-- are never updated) and an export looks their name up.
ALTER TABLE ledger_entries ADD COLUMN customer_name TEXT;
