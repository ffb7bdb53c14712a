-- Requests per credential (API key or client), minute and status class, added up in
-- memory and written in batches.
CREATE TABLE usage_counters (
    subject_id   TEXT NOT NULL,
    minute       TIMESTAMP NOT NULL,
    status_class TEXT NOT NULL,
    org_id       TEXT NOT NULL,
    requests     BIGINT NOT NULL,
    PRIMARY KEY (subject_id, minute, status_class)
);

CREATE INDEX usage_counters_org_id ON usage_counters (org_id, minute);
