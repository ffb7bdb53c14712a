DROP INDEX api_keys_org_id;
DROP TABLE api_keys;
