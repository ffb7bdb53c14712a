ALTER TABLE organizations DROP COLUMN second_factor_required;
ALTER TABLE user_sessions DROP COLUMN second_factor_pending;
DROP TABLE user_recovery_codes;
ALTER TABLE users DROP COLUMN totp_last_step;
ALTER TABLE users DROP COLUMN totp_enabled_at;
ALTER TABLE users DROP COLUMN totp_pending_secret;
ALTER TABLE users DROP COLUMN totp_secret;
