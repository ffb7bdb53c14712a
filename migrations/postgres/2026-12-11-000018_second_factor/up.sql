-- A second factor for people: a TOTP secret per account (RFC 6238), sealed with the
-- server's key (AES-256-GCM, keys/), never stored readable; the last time step used,
-- so a code works once; a secret being enrolled, until a first code confirms it; the
-- one-time recovery codes, as SHA-256 digests; a session that has passed the password
-- but not yet the second factor; and an organization's requirement of one.
ALTER TABLE users ADD COLUMN totp_secret TEXT;
ALTER TABLE users ADD COLUMN totp_pending_secret TEXT;
ALTER TABLE users ADD COLUMN totp_enabled_at TIMESTAMP;
ALTER TABLE users ADD COLUMN totp_last_step BIGINT;

CREATE TABLE user_recovery_codes (
    code_hash  TEXT PRIMARY KEY NOT NULL,
    user_id    TEXT NOT NULL REFERENCES users (id),
    created_at TIMESTAMP NOT NULL,
    used_at    TIMESTAMP
);

CREATE INDEX user_recovery_codes_user_id ON user_recovery_codes (user_id);

ALTER TABLE user_sessions ADD COLUMN second_factor_pending BOOLEAN NOT NULL DEFAULT FALSE;

ALTER TABLE organizations ADD COLUMN second_factor_required BOOLEAN NOT NULL DEFAULT FALSE;
