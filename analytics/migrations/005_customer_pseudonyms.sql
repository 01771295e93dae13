-- 005: every customer's pseudonym, what analysts see in place of the customer id (analytics.scope).
-- Filled by the marts (analytics.marts), which `bankcrm migrate` rebuilds after this migration.
CREATE TABLE customer_pseudonyms (
    customer_id  BIGINT NOT NULL,
    pseudonym    VARCHAR NOT NULL
);
