-- A key's or client's own requests-per-minute limit, tighter than its organization's
-- tier (NULL: the tier's).
ALTER TABLE api_keys ADD COLUMN rate_limit_per_minute BIGINT;
ALTER TABLE clients ADD COLUMN rate_limit_per_minute BIGINT;
