-- Token-endpoint requests per client, minute and outcome (`issued`, or the RFC 6749
-- error code of the refusal), added up in memory and written in batches beside
-- usage_counters.
CREATE TABLE token_counters (
    client_id TEXT NOT NULL,
    minute    TIMESTAMP NOT NULL,
    outcome   TEXT NOT NULL,
    org_id    TEXT NOT NULL,
    requests  BIGINT NOT NULL,
    PRIMARY KEY (client_id, minute, outcome)
);

CREATE INDEX token_counters_org_id ON token_counters (org_id, minute);
