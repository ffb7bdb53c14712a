-- The authorization code grant (RFC 6749 §4.1) for apps acting for a person: each
-- client's registered redirect URIs (space-separated; URIs hold no spaces), the
-- person a refresh family acts for (NULL: the client itself), the consents people
-- gave (one per person, organization and client: the scopes it covers), and the
-- codes — stored as SHA-256 digests, single use, bound to everything the request
-- named, with what their redemption issued so a second use can revoke it.
ALTER TABLE clients ADD COLUMN redirect_uris TEXT NOT NULL DEFAULT '';

-- No REFERENCES here: SQLite cannot drop a column a foreign key names (down.sql).
ALTER TABLE refresh_families ADD COLUMN user_id TEXT;

CREATE INDEX refresh_families_user_id ON refresh_families (user_id);

CREATE TABLE oauth_consents (
    user_id    TEXT NOT NULL REFERENCES users (id),
    org_id     TEXT NOT NULL REFERENCES organizations (id),
    client_id  TEXT NOT NULL REFERENCES clients (id),
    scope      TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    PRIMARY KEY (user_id, org_id, client_id)
);

CREATE INDEX oauth_consents_org_id ON oauth_consents (org_id);

CREATE TABLE authorization_codes (
    code_hash         TEXT PRIMARY KEY NOT NULL,
    client_id         TEXT NOT NULL REFERENCES clients (id),
    user_id           TEXT NOT NULL REFERENCES users (id),
    org_id            TEXT NOT NULL REFERENCES organizations (id),
    redirect_uri      TEXT NOT NULL,
    code_challenge    TEXT NOT NULL,
    scope             TEXT NOT NULL,
    resource          TEXT,
    created_at        TIMESTAMP NOT NULL,
    expires_at        TIMESTAMP NOT NULL,
    used_at           TIMESTAMP,
    family_id         TEXT,
    access_jti        TEXT,
    access_expires_at TIMESTAMP
);

CREATE INDEX authorization_codes_expires_at ON authorization_codes (expires_at);
