-- 006: sign-in sessions the server can end, and sign-in throttling.

-- One row per sign-in with a password; a cookie signs in again only while its session is live. The id is a
-- random secret carried in the signed cookie; only its SHA-256 is stored. `ref` is what admins see and end.
CREATE TABLE sessions (
    id_hash       TEXT PRIMARY KEY,
    ref           TEXT NOT NULL UNIQUE,
    username      TEXT NOT NULL,
    role          TEXT NOT NULL,
    fingerprint   TEXT NOT NULL,   -- the user's role, branches and password hash at sign-in
    client        TEXT NOT NULL,
    started_at    TEXT NOT NULL,   -- UTC
    last_seen_at  TEXT NOT NULL,   -- UTC, updated at most once a minute
    ended_at      TEXT,
    end_reason    TEXT
);
CREATE INDEX sessions_live_by_user ON sessions (username) WHERE ended_at IS NULL;

-- Failed sign-ins per client address, for throttling (rows older than the window are dropped).
CREATE TABLE sign_in_failures (
    failure_id   INTEGER PRIMARY KEY AUTOINCREMENT,
    client       TEXT NOT NULL,
    occurred_at  TEXT NOT NULL     -- UTC
);
CREATE INDEX sign_in_failures_by_time ON sign_in_failures (occurred_at);
CREATE INDEX sign_in_failures_by_client ON sign_in_failures (client, occurred_at);

-- Lockouts per account and client address: five failures from one address lock the account for that address,
-- so nobody locks another person out from elsewhere. Replaces login_state (per account only).
DROP TABLE login_state;
CREATE TABLE login_locks (
    username      TEXT NOT NULL,
    client        TEXT NOT NULL,
    failures      INTEGER NOT NULL DEFAULT 0,
    locks         INTEGER NOT NULL DEFAULT 0,
    locked_until  TEXT,
    PRIMARY KEY (username, client)
);
