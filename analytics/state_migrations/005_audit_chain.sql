-- 005: a tamper-evident audit log. Every row records the client it served and is chained to the row before
-- it: row_hash = HMAC-SHA256, keyed with $BANKCRM_AUDIT_KEY, of the row and prev_hash (the row_hash of the
-- row before; '' for the first). audit_hash is analytics.state.chain_hash, registered on every connection;
-- `bankcrm audit verify` walks the chain.

ALTER TABLE audit_log ADD COLUMN client TEXT;     -- the browser's address, or 'local'; NULL: written before 005
ALTER TABLE audit_log ADD COLUMN prev_hash TEXT;
ALTER TABLE audit_log ADD COLUMN row_hash TEXT;

-- The events written before 005 are chained as they stand, in event order: the one update the log ever gets.
DROP TRIGGER audit_log_no_update;

WITH RECURSIVE chain (event_id, prev_hash, row_hash) AS (
    SELECT (SELECT min(event_id) - 1 FROM audit_log), NULL, ''    -- before the first event: nothing
    UNION ALL
    SELECT a.event_id, chain.row_hash,
           audit_hash(a.event_id, a.occurred_at, a.actor, a.role, a.event, a.client, a.detail_json, chain.row_hash)
    FROM chain JOIN audit_log AS a
      ON a.event_id = (SELECT min(event_id) FROM audit_log WHERE event_id > chain.event_id)
)
UPDATE audit_log SET prev_hash = chain.prev_hash, row_hash = chain.row_hash
FROM chain WHERE audit_log.event_id = chain.event_id;

CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
