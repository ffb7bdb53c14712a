DROP TABLE api_key_policies;
