-- Every read of a customer's entries (the booked sums a settlement reads, the support view, the
-- ledger feed) goes through `ledger_entries_customer_id (customer_id, id)`: a customer has few
-- entries, so one (customer, period) is found among them. The (customer_id, period) index was
-- chosen by no query and cost every appended entry one more index insert.
DROP INDEX ledger_entries_customer_period;
