ALTER TABLE clients DROP COLUMN refresh_reuse_grace_secs;
DROP INDEX revoked_access_tokens_expires_at;
DROP TABLE revoked_access_tokens;
DROP INDEX refresh_tokens_family_id;
DROP TABLE refresh_tokens;
DROP INDEX refresh_families_client_id;
DROP TABLE refresh_families;
