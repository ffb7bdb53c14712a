-- Secret rotation with an overlap: the previous secret keeps working until
-- previous_secret_expires_at. RFC 7592: the digest of the registration access token
-- of a client registered through POST /oauth/register.
ALTER TABLE clients ADD COLUMN previous_secret_hash TEXT;
ALTER TABLE clients ADD COLUMN previous_secret_expires_at TIMESTAMP;
ALTER TABLE clients ADD COLUMN registration_token_hash TEXT;
CREATE UNIQUE INDEX clients_registration_token_hash ON clients (registration_token_hash);
CREATE INDEX clients_org_id_id ON clients (org_id, id);
