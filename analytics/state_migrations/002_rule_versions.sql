-- 002: rule-set versions and their adoption steps, both append-only.
-- segment_rules of 001 was never written (no release wrote rule sets), so it is replaced.

DROP TABLE segment_rules;

-- Every save is a new version; nothing is overwritten.
CREATE TABLE segment_rules (
    version      INTEGER PRIMARY KEY,
    rules_json   TEXT NOT NULL,
    comment      TEXT NOT NULL,
    author       TEXT NOT NULL,
    based_on     INTEGER NOT NULL,           -- the version it was edited from (0: the built-in defaults)
    created_at   TEXT NOT NULL               -- UTC
);

-- Proposals and decisions; a version's status is its latest step, and the
-- active rule set is the version of the latest approval.
CREATE TABLE segment_rule_steps (
    step_id      INTEGER PRIMARY KEY AUTOINCREMENT,
    version      INTEGER NOT NULL REFERENCES segment_rules (version),
    action       TEXT NOT NULL CHECK (action IN ('proposed', 'approved', 'rejected', 'rolled_back')),
    actor        TEXT NOT NULL,
    comment      TEXT NOT NULL,
    occurred_at  TEXT NOT NULL               -- UTC
);
CREATE INDEX segment_rule_steps_by_version ON segment_rule_steps (version);

CREATE TRIGGER segment_rules_no_update BEFORE UPDATE ON segment_rules
BEGIN SELECT RAISE(ABORT, 'segment_rules is append-only'); END;
CREATE TRIGGER segment_rules_no_delete BEFORE DELETE ON segment_rules
BEGIN SELECT RAISE(ABORT, 'segment_rules is append-only'); END;
CREATE TRIGGER segment_rule_steps_no_update BEFORE UPDATE ON segment_rule_steps
BEGIN SELECT RAISE(ABORT, 'segment_rule_steps is append-only'); END;
CREATE TRIGGER segment_rule_steps_no_delete BEFORE DELETE ON segment_rule_steps
BEGIN SELECT RAISE(ABORT, 'segment_rule_steps is append-only'); END;
