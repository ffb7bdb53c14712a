-- When the client's current secret stops working (NULL: never). Set when a
-- credential that itself expires created the client or rotated its secret, so a
-- short-lived credential cannot mint a client secret that outlives it.
ALTER TABLE clients ADD COLUMN secret_expires_at TIMESTAMP;
