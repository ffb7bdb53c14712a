-- Refresh tokens (RFC 6749 §6) in families: one family per original grant, exactly
-- one live token per family, every use rotates, reuse of a spent token revokes the
-- family (RFC 9700 §4.14).
CREATE TABLE refresh_families (
    id             TEXT PRIMARY KEY NOT NULL,
    client_id      TEXT NOT NULL REFERENCES clients (id),
    org_id         TEXT NOT NULL,
    scope          TEXT NOT NULL,
    created_at     TIMESTAMP NOT NULL,
    expires_at     TIMESTAMP NOT NULL,
    revoked_at     TIMESTAMP,
    revoked_reason TEXT
);

CREATE INDEX refresh_families_client_id ON refresh_families (client_id);

CREATE TABLE refresh_tokens (
    id              TEXT PRIMARY KEY NOT NULL,
    family_id       TEXT NOT NULL REFERENCES refresh_families (id),
    token_hash      TEXT NOT NULL UNIQUE,
    created_at      TIMESTAMP NOT NULL,
    idle_expires_at TIMESTAMP NOT NULL,
    spent_at        TIMESTAMP,
    successor_id    TEXT
);

CREATE INDEX refresh_tokens_family_id ON refresh_tokens (family_id);

-- Access tokens (JWTs) revoked through RFC 7009 before their exp; purged after it.
CREATE TABLE revoked_access_tokens (
    jti        TEXT PRIMARY KEY NOT NULL,
    client_id  TEXT NOT NULL,
    expires_at TIMESTAMP NOT NULL
);

CREATE INDEX revoked_access_tokens_expires_at ON revoked_access_tokens (expires_at);

ALTER TABLE clients ADD COLUMN refresh_reuse_grace_secs BIGINT NOT NULL DEFAULT 0;
