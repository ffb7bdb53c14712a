ALTER TABLE clients DROP COLUMN previous_secret_hint;
ALTER TABLE clients DROP COLUMN secret_hint;
