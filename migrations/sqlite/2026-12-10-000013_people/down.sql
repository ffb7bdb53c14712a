DROP INDEX user_tokens_user_id;
DROP TABLE user_tokens;
DROP INDEX user_sessions_user_id;
DROP TABLE user_sessions;
DROP INDEX memberships_org_id;
DROP TABLE memberships;
DROP TABLE users;
