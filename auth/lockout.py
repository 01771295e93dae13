"""Five failed sign-ins in a row lock a user out, for longer each time.

The first lock lasts a minute and every further one twice the one before
(capped at a day); a successful sign-in clears the count. Locks live in the
state store, so they hold across sessions, server restarts and processes;
each lock and its end are written to the audit log.
"""

from __future__ import annotations

import datetime as dt

from analytics.state import StateStore

MAX_FAILURES = 5
FIRST_LOCK = dt.timedelta(minutes=1)
LONGEST_LOCK = dt.timedelta(days=1)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


class Lockout:
    def __init__(self, state: StateStore, clock=_now):
        self.state = state
        self.clock = clock

    def locked_until(self, username: str) -> dt.datetime | None:
        """When the user's lock ends, or None; a lock found expired is ended (and logged) here."""
        with self.state.connect() as con:
            row = con.execute("SELECT locked_until FROM login_state WHERE username = ?", [username]).fetchone()
        if not row or not row[0]:
            return None
        until = dt.datetime.fromisoformat(row[0])
        if until > self.clock():
            return until
        with self.state.transaction() as con:
            ended = con.execute("UPDATE login_state SET locked_until = NULL WHERE username = ? AND locked_until = ?",
                                [username, row[0]]).rowcount
        if ended:
            self.state.record(username, "lockout_ended", locked_until=row[0])
        return None

    def locked_users(self) -> dict[str, dt.datetime]:
        """Everyone locked right now, in one query (locks found expired are ended and logged)."""
        with self.state.connect() as con:
            names = [r[0] for r in con.execute("SELECT username FROM login_state WHERE locked_until IS NOT NULL")]
        return {name: until for name in names if (until := self.locked_until(name))}

    def failed(self, username: str) -> dt.datetime | None:
        """Count a failed sign-in; returns the end of the lock if this failure started one."""
        with self.state.transaction() as con:
            con.execute("INSERT INTO login_state (username) VALUES (?) ON CONFLICT (username) DO NOTHING", [username])
            failures, locks = con.execute("SELECT failures + 1, locks FROM login_state WHERE username = ?",
                                          [username]).fetchone()
            if failures < MAX_FAILURES:
                con.execute("UPDATE login_state SET failures = ? WHERE username = ?", [failures, username])
                return None
            until = self.clock() + min(FIRST_LOCK * 2 ** locks, LONGEST_LOCK)
            con.execute("UPDATE login_state SET failures = 0, locks = ?, locked_until = ? WHERE username = ?",
                        [locks + 1, until.isoformat(sep=" "), username])
        self.state.record(username, "lockout", failures=MAX_FAILURES, lock_number=locks + 1,
                          locked_until=until.isoformat(sep=" ", timespec="seconds"))
        return until

    def succeeded(self, username: str) -> None:
        with self.state.transaction() as con:
            con.execute("DELETE FROM login_state WHERE username = ?", [username])
