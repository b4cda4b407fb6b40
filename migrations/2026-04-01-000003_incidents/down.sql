DROP TABLE incident_customers;
DROP TABLE incident_plans;
DROP INDEX incidents_started_at;
DROP TABLE incidents;
