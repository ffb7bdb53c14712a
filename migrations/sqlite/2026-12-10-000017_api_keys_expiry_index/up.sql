-- The overview lists an organization's live keys by when they expire (api_keys::repo::expiring).
CREATE INDEX api_keys_org_expires_at ON api_keys (org_id, expires_at) WHERE revoked_at IS NULL;
