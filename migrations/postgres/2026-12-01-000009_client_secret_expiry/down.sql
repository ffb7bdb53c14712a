ALTER TABLE clients DROP COLUMN secret_expires_at;
