-- API keys: `kg_live_…` / `kg_test_…`, stored only as base64url(SHA-256(key)).
-- Ids are UUIDv7 (time-ordered), so listing by id is listing by creation and the
-- last id of a page is the cursor of the next.
CREATE TABLE api_keys (
    id           TEXT PRIMARY KEY NOT NULL,
    org_id       TEXT NOT NULL REFERENCES organizations (id),
    name         TEXT NOT NULL,
    environment  TEXT NOT NULL,
    key_hash     TEXT NOT NULL UNIQUE,
    last_four    TEXT NOT NULL,
    scopes       TEXT NOT NULL,
    created_by   TEXT NOT NULL,
    created_at   TIMESTAMP NOT NULL,
    expires_at   TIMESTAMP,
    last_used_at TIMESTAMP,
    revoked_at   TIMESTAMP,
    replaced_by  TEXT
);

CREATE INDEX api_keys_org_id ON api_keys (org_id, id);
