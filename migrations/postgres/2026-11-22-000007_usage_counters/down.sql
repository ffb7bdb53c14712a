DROP INDEX usage_counters_org_id;
DROP TABLE usage_counters;
