CREATE TABLE organizations (
    id         TEXT PRIMARY KEY NOT NULL,
    slug       TEXT NOT NULL UNIQUE,
    name       TEXT NOT NULL,
    tier       TEXT NOT NULL DEFAULT 'free',
    created_at TIMESTAMP NOT NULL
);

CREATE TABLE clients (
    id                    TEXT PRIMARY KEY NOT NULL,
    org_id                TEXT NOT NULL REFERENCES organizations (id),
    name                  TEXT NOT NULL,
    secret_hash           TEXT NOT NULL,
    grant_types           TEXT NOT NULL,
    allowed_scopes        TEXT NOT NULL,
    default_scopes        TEXT NOT NULL,
    audience              TEXT,
    access_token_ttl_secs BIGINT,
    created_at            TIMESTAMP NOT NULL,
    updated_at            TIMESTAMP NOT NULL,
    disabled_at           TIMESTAMP
);

CREATE INDEX clients_org_id ON clients (org_id);
