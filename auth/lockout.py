"""Five failed sign-ins in a row from one client address lock that account for that address, for longer each
time.

The first lock lasts a minute and every further one twice the one before
(capped at a day); a successful sign-in from the address clears its count.
A lock holds for the address the failures came from only, so nobody can
lock another person out of their account from elsewhere; guessing across
many addresses meets the overall throttle (auth.throttle). Locks live in
the state store, so they hold across sessions, server restarts and
processes; each lock and its end are written to the audit log.
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

    def locked_until(self, username: str, client: str) -> dt.datetime | None:
        """When the lock of `username` from `client` ends, or None; a lock found expired is ended (and logged)."""
        with self.state.connect() as con:
            row = con.execute("SELECT locked_until FROM login_locks WHERE username = ? AND client = ?",
                              [username, client]).fetchone()
        if not row or not row[0]:
            return None
        until = dt.datetime.fromisoformat(row[0])
        if until > self.clock():
            return until
        with self.state.transaction() as con:
            ended = con.execute("UPDATE login_locks SET locked_until = NULL WHERE username = ? AND client = ?"
                                " AND locked_until = ?", [username, client, row[0]]).rowcount
        if ended:
            self.state.record(username, "lockout_ended", locked_until=row[0], client=client)
        return None

    def failed(self, username: str, client: str) -> dt.datetime | None:
        """Count a failed sign-in; returns the end of the lock if this failure started one."""
        with self.state.transaction() as con:
            con.execute("INSERT INTO login_locks (username, client) VALUES (?, ?) ON CONFLICT DO NOTHING",
                        [username, client])
            failures, locks = con.execute("SELECT failures + 1, locks FROM login_locks WHERE username = ? AND client = ?",
                                          [username, client]).fetchone()
            if failures < MAX_FAILURES:
                con.execute("UPDATE login_locks SET failures = ? WHERE username = ? AND client = ?",
                            [failures, username, client])
                return None
            until = self.clock() + min(FIRST_LOCK * 2 ** locks, LONGEST_LOCK)
            con.execute("UPDATE login_locks SET failures = 0, locks = ?, locked_until = ? WHERE username = ? AND client = ?",
                        [locks + 1, until.isoformat(sep=" "), username, client])
        self.state.record(username, "lockout", failures=MAX_FAILURES, lock_number=locks + 1,
                          locked_until=until.isoformat(sep=" ", timespec="seconds"), client=client)
        return until

    def succeeded(self, username: str, client: str) -> None:
        with self.state.transaction() as con:
            con.execute("DELETE FROM login_locks WHERE username = ? AND client = ?", [username, client])
