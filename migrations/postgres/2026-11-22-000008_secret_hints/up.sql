-- A short, non-secret hint of each stored client secret (the first 8 bytes of a
-- SHA-256 of it, hex), so that a presented secret is verified against one argon2 hash
-- only, even while a rotation keeps two: a wrong secret then costs the same for a
-- client mid-rotation as for any other. NULL for secrets stored before this.
ALTER TABLE clients ADD COLUMN secret_hint TEXT;
ALTER TABLE clients ADD COLUMN previous_secret_hint TEXT;
