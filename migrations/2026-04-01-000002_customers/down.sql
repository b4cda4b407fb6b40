DROP INDEX plan_changes_plan_id;
DROP TABLE plan_changes;
DROP TABLE customers;
