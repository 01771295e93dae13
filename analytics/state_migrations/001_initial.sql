-- 001: application state, written while the app runs, by any process.

CREATE TABLE audit_log (
    event_id     INTEGER PRIMARY KEY AUTOINCREMENT,
    occurred_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now')),  -- UTC
    actor        TEXT NOT NULL,
    role         TEXT,
    event        TEXT NOT NULL,
    detail_json  TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_log_by_time ON audit_log (occurred_at);

-- Append-only, whoever holds a connection.
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;

-- Sign-in lockouts: consecutive failures, and locks that double each time.
CREATE TABLE login_state (
    username      TEXT PRIMARY KEY,
    failures      INTEGER NOT NULL DEFAULT 0,
    locks         INTEGER NOT NULL DEFAULT 0,
    locked_until  TEXT
);

-- Rule-set versions: every save is a new row; nothing is overwritten.
CREATE TABLE segment_rules (
    version          INTEGER PRIMARY KEY,
    status           TEXT NOT NULL,
    rules_json       TEXT NOT NULL,
    comment          TEXT,
    author           TEXT NOT NULL,
    created_at       TEXT NOT NULL,
    decided_by       TEXT,
    decided_at       TEXT,
    decision_comment TEXT
);

CREATE TABLE care_tasks (
    task_id      INTEGER PRIMARY KEY AUTOINCREMENT,
    customer_id  INTEGER NOT NULL,
    branch_code  TEXT NOT NULL,
    rm_id        TEXT,
    kind         TEXT NOT NULL,
    reason       TEXT,
    due_on       TEXT,
    status       TEXT NOT NULL,
    created_by   TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    done_at      TEXT,
    outcome      TEXT
);
