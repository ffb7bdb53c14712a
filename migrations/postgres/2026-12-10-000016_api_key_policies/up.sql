-- An organization's API-key policy: the longest a key may live and whether every key
-- must expire. No row: no policy (keys may live up to the 10 years every key may).
CREATE TABLE api_key_policies (
    org_id            TEXT PRIMARY KEY NOT NULL REFERENCES organizations (id),
    max_lifetime_secs BIGINT CHECK (max_lifetime_secs > 0),
    expiry_required   BOOLEAN NOT NULL DEFAULT FALSE,
    updated_at        TIMESTAMP NOT NULL
);
