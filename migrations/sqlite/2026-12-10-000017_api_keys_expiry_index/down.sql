DROP INDEX api_keys_org_expires_at;
