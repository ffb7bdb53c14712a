-- People: accounts (global; an email is unique whatever its case), their memberships
-- of organizations with a role, their sign-in sessions and their one-time setup and
-- reset links. Every token is stored only as its SHA-256 digest.
CREATE TABLE users (
    id                  TEXT PRIMARY KEY NOT NULL,
    email               TEXT NOT NULL,
    email_lower         TEXT NOT NULL UNIQUE,
    display_name        TEXT,
    password_hash       TEXT,
    created_at          TIMESTAMP NOT NULL,
    disabled_at         TIMESTAMP,
    password_changed_at TIMESTAMP
);

CREATE TABLE memberships (
    user_id    TEXT NOT NULL REFERENCES users (id),
    org_id     TEXT NOT NULL REFERENCES organizations (id),
    role       TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'developer', 'viewer')),
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (user_id, org_id)
);

CREATE INDEX memberships_org_id ON memberships (org_id);

CREATE TABLE user_sessions (
    id              TEXT PRIMARY KEY NOT NULL,
    token_hash      TEXT NOT NULL UNIQUE,
    user_id         TEXT NOT NULL REFERENCES users (id),
    org_id          TEXT NOT NULL REFERENCES organizations (id),
    csrf_token_hash TEXT NOT NULL,
    created_at      TIMESTAMP NOT NULL,
    last_seen_at    TIMESTAMP NOT NULL,
    expires_at      TIMESTAMP NOT NULL,
    ended_at        TIMESTAMP,
    source_ip       TEXT,
    user_agent      TEXT
);

CREATE INDEX user_sessions_user_id ON user_sessions (user_id);

CREATE TABLE user_tokens (
    token_hash TEXT PRIMARY KEY NOT NULL,
    user_id    TEXT NOT NULL REFERENCES users (id),
    purpose    TEXT NOT NULL CHECK (purpose IN ('setup', 'reset')),
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    used_at    TIMESTAMP
);

CREATE INDEX user_tokens_user_id ON user_tokens (user_id);
