DROP INDEX clients_org_id;
DROP TABLE clients;
DROP TABLE organizations;
