ALTER TABLE refresh_families DROP COLUMN resource;
ALTER TABLE clients DROP COLUMN audiences;
