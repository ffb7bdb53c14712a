-- RFC 8707 resource indicators. clients.audiences: the audiences (resources) the client
-- may obtain access tokens for, space-separated, when it has more than its default
-- (clients.audience); NULL: only the default. refresh_families.resource: the resource
-- the original grant named, to which every access token of the family is then bound;
-- NULL: the grant named none (and every family started before this column), so each
-- refresh may pick any audience the client has at the time.
ALTER TABLE clients ADD COLUMN audiences TEXT;
ALTER TABLE refresh_families ADD COLUMN resource TEXT;
