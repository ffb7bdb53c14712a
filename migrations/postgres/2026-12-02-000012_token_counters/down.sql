DROP INDEX token_counters_org_id;
DROP TABLE token_counters;
