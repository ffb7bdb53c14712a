-- RFC 7591 token_endpoint_auth_method as registered: client_secret_basic or
-- client_secret_post, to which the client is then held at the token, revocation and
-- introspection endpoints. NULL: registered without naming one (and every client
-- registered before this column): either method is accepted.
ALTER TABLE clients ADD COLUMN token_endpoint_auth_method TEXT;
