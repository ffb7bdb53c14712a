DROP TABLE authorization_codes;
DROP TABLE oauth_consents;
DROP INDEX refresh_families_user_id;
ALTER TABLE refresh_families DROP COLUMN user_id;
ALTER TABLE clients DROP COLUMN redirect_uris;
