"""Sign-in sessions the server can end.

A sign-in with a password starts a session record in the state store; the
sign-in cookie carries its id (a random secret, of which the store keeps only
the SHA-256), and a cookie signs in again only while its session is live.
Every run of a signed-in page checks the record, so a session ends at the
person's next click when:

- they sign out ("logout"), or an admin ends it ("ended_by_admin");
- nobody used it for IDLE_TIMEOUT, in any tab ("session_expired"): tabs and
  a new tab share the record, so a new tab after the idle time asks for the
  password;
- it is older than the cookie's lifetime ("too_old");
- the user's role, branches or password changed, or the user was disabled
  ("account_changed"; `bankcrm users` also ends them at once, "ended_by_cli");
- the account was locked from the client the session runs on ("locked").
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

import pandas as pd

from analytics import permissions
from analytics.state import StateStore, append_audit
from auth.users import User

IDLE_TIMEOUT = dt.timedelta(minutes=30)
MAX_AGE = dt.timedelta(hours=12)        # as long as the sign-in cookie lives
TOUCH_EVERY = dt.timedelta(seconds=60)  # how often a running session's last use is written
END_REASONS = ("logout", "session_expired", "too_old", "account_changed", "ended_by_admin", "ended_by_cli", "locked")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def _hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


def fingerprint(user: User) -> str:
    """What a session was granted on: the user's role, branches and password hash (a change ends it)."""
    return hashlib.sha256(repr((user.role, tuple(user.branches), user.password_hash, user.disabled)).encode()).hexdigest()


class Sessions:
    def __init__(self, state: StateStore, clock=_now):
        self.state, self.clock = state, clock

    def _stamp(self) -> str:
        return self.clock().isoformat(sep=" ", timespec="milliseconds")

    def start(self, user: User, client: str) -> str:
        """A new live session for `user` signed in from `client`; returns its id for the cookie."""
        session_id = secrets.token_urlsafe(32)
        now = self._stamp()
        with self.state.transaction() as con:
            con.execute("INSERT INTO sessions (id_hash, ref, username, role, fingerprint, client, started_at,"
                        " last_seen_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                        [_hash(session_id), secrets.token_hex(6), user.username, user.role, fingerprint(user), client,
                         now, now])
        return session_id

    def check(self, session_id: str | None, user: User | None) -> str | None:
        """None while the session may go on (its last use is noted); else why it ended (one of END_REASONS;
        it is ended here)."""
        with self.state.connect() as con:
            row = con.execute("SELECT username, fingerprint, started_at, last_seen_at, ended_at, end_reason"
                              " FROM sessions WHERE id_hash = ?", [_hash(session_id or "")]).fetchone()
        if row is None:
            return "logout"
        username, granted, started, seen, ended_at, end_reason = row
        if ended_at:
            return end_reason
        now = self.clock()
        reason = ("account_changed" if user is None or user.username != username or user.disabled
                  or fingerprint(user) != granted
                  else "too_old" if now - dt.datetime.fromisoformat(started) > MAX_AGE
                  else "session_expired" if now - dt.datetime.fromisoformat(seen) > IDLE_TIMEOUT
                  else None)
        if reason:
            self.end(session_id, reason)
            return reason
        if now - dt.datetime.fromisoformat(seen) > TOUCH_EVERY:
            with self.state.transaction() as con:
                con.execute("UPDATE sessions SET last_seen_at = ? WHERE id_hash = ? AND ended_at IS NULL",
                            [self._stamp(), _hash(session_id)])
        return None

    def end(self, session_id: str, reason: str) -> None:
        """End one session (sign-out), by the id its cookie carries."""
        assert reason in END_REASONS, reason
        with self.state.transaction() as con:
            con.execute("UPDATE sessions SET ended_at = ?, end_reason = ? WHERE id_hash = ? AND ended_at IS NULL",
                        [self._stamp(), reason, _hash(session_id)])

    def end_all(self, username: str, reason: str, *, client: str | None = None) -> int:
        """End every live session of `username` (from `client` only, when given); returns how many."""
        assert reason in END_REASONS, reason
        with self.state.transaction() as con:
            return con.execute("UPDATE sessions SET ended_at = ?, end_reason = ? WHERE ended_at IS NULL"
                               " AND username = ? AND (? IS NULL OR client = ?)",
                               [self._stamp(), reason, username, client, client]).rowcount

    def end_by_admin(self, ref: str, *, actor: str, role: str) -> bool:
        """An admin ends a live session, by the reference the Users page lists; False when it had ended already."""
        permissions.check(role, "sessions:end")
        with self.state.transaction() as con:
            found = con.execute("SELECT username FROM sessions WHERE ref = ? AND ended_at IS NULL", [ref]).fetchone()
            if found is None:
                return False
            con.execute("UPDATE sessions SET ended_at = ?, end_reason = 'ended_by_admin' WHERE ref = ?",
                        [self._stamp(), ref])
            append_audit(con, actor, "session_ended", role, username=found[0], session=ref, reason="ended_by_admin")
        return True

    def live(self) -> pd.DataFrame:
        """The sessions not ended and used within the idle time, newest first: ref, username, role, client,
        started_at, last_seen_at."""
        since = (self.clock() - IDLE_TIMEOUT).isoformat(sep=" ", timespec="milliseconds")
        with self.state.connect() as con:
            return pd.read_sql_query(
                "SELECT ref, username, role, client, started_at, last_seen_at FROM sessions"
                " WHERE ended_at IS NULL AND last_seen_at >= ? ORDER BY started_at DESC", con, params=[since])
