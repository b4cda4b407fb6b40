DROP TRIGGER plan_versions_no_delete;
DROP TRIGGER plan_versions_no_update;
DROP TABLE plan_versions;
DROP TABLE plans;
