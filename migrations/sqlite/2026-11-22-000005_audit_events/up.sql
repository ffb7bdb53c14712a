-- Who created, changed or revoked what: never a secret. Ids are UUIDv7, so listing by
-- id is listing by time and the last id of a page is the next page's cursor.
CREATE TABLE audit_events (
    id          TEXT PRIMARY KEY NOT NULL,
    org_id      TEXT NOT NULL,
    event_type  TEXT NOT NULL,
    actor       TEXT NOT NULL,
    target_type TEXT NOT NULL,
    target_id   TEXT NOT NULL,
    source_ip   TEXT,
    details     TEXT NOT NULL,
    created_at  TIMESTAMP NOT NULL
);

CREATE INDEX audit_events_org_id ON audit_events (org_id, id);
CREATE INDEX audit_events_org_type ON audit_events (org_id, event_type, id);
