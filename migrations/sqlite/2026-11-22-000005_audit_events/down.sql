DROP INDEX audit_events_org_type;
DROP INDEX audit_events_org_id;
DROP TABLE audit_events;
