"""The state store: what the application writes while it runs.

The facts store (DuckDB) is read-only for the app and replaced whole by
every writer, so small transactional writes from the app and the CLI (the
audit log, sign-in lockouts, rule-set versions, care tasks) live here, in a
SQLite file beside it that many processes may write at once. The audit log
is append-only in the database itself: triggers refuse UPDATE and DELETE.
Whoever holds the file can drop them, so the log is also a chain: every row
carries a keyed hash of itself and of the row before it, SQLite's clock and
the client it served, and `StateStore.verify_audit` names the first row
that was changed, removed or inserted.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import hashlib
import hmac
import json
import os
import sqlite3
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pandas as pd

from analytics import config, files, permissions, store

PACKAGE = "analytics.state_migrations"

# Every event the audit log may hold, named once.
AUDIT_EVENTS = (
    "login", "login_failed", "logout", "lockout", "lockout_ended", "session_expired", "session_ended",
    "sign_in_throttled",
    "page_refused", "customer_360_opened", "download", "care_task_assigned", "care_task_done", "care_tasks_generated",
    "campaign_saved",
    "rules_saved", "rules_proposed", "rules_approved", "rules_rejected", "rules_rolled_back",
    "import", "import_rejected", "generate",
    "user_added", "user_disabled", "password_reset", "role_changed", "branches_changed",
)


def default_path(store_path: Path | None = None) -> Path:
    """$BANKCRM_STATE, or beside the facts store: data/bankcrm.duckdb -> data/bankcrm.state.sqlite."""
    if os.environ.get("BANKCRM_STATE"):
        return Path(os.environ["BANKCRM_STATE"])
    facts = Path(store_path or store.default_path())
    return facts.with_name(facts.stem + ".state.sqlite")


def utc_now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]


# --- the audit chain -------------------------------------------------------------

LOCAL_CLIENT = "local"
_this_thread = threading.local()


def audit_key() -> str:
    """The secret the audit chain is keyed with: $BANKCRM_AUDIT_KEY (analytics.config: the public demo key in
    demo mode; production refuses a missing or weak one). Without it nobody can rewrite the chain after
    changing a row; with another one every row reads as changed."""
    return config.secret("audit")


def chain_hash(key: bytes, event_id: int, occurred_at: str, actor: str, role: str | None, event: str,
               client: str | None, detail_json: str, prev_hash: str) -> str:
    """HMAC-SHA256 of one audit row and the hash of the row before it ('' for the first), over the values as
    stored, as a JSON array: typed and delimited, so no two different rows encode alike."""
    row = json.dumps([event_id, occurred_at, actor, role, event, client, detail_json, prev_hash],
                     ensure_ascii=False, separators=(",", ":"))
    return hmac.new(key, row.encode(), hashlib.sha256).hexdigest()


def set_client(address: str | None) -> None:
    """Name the client this thread serves (the app, at the start of every run, with the browser's address);
    None: no remote client, the events read "local"."""
    _this_thread.client = address


def current_client() -> str:
    """The client this thread serves, as its events record it."""
    return getattr(_this_thread, "client", None) or LOCAL_CLIENT


# The event id AUTOINCREMENT would give (the largest ever used, plus one), SQLite's time and the hash of the
# row before are taken inside the statement, so the row hashed is the row stored; writers queue on the
# write lock, so two never link to the same row.
_APPEND_AUDIT = """
INSERT INTO audit_log (event_id, occurred_at, actor, role, event, client, detail_json, prev_hash, row_hash)
SELECT event_id, occurred_at, actor, role, event, client, detail_json, prev_hash,
       audit_hash(event_id, occurred_at, actor, role, event, client, detail_json, prev_hash)
FROM (SELECT max(coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'audit_log'), 0),
                 coalesce((SELECT max(event_id) FROM audit_log), 0)) + 1 AS event_id,
             strftime('%Y-%m-%d %H:%M:%f', 'now') AS occurred_at,
             CAST(? AS TEXT) AS actor, CAST(? AS TEXT) AS role, CAST(? AS TEXT) AS event,
             CAST(? AS TEXT) AS client, CAST(? AS TEXT) AS detail_json,
             coalesce((SELECT row_hash FROM audit_log ORDER BY event_id DESC LIMIT 1), '') AS prev_hash)
"""


def append_audit(con: sqlite3.Connection, actor: str, event: str, role: str | None = None, **detail) -> None:
    """Append one event to the audit log inside the caller's transaction (it commits with the change),
    chained to the event before it, at SQLite's time, with this thread's client."""
    if event not in AUDIT_EVENTS:
        raise ValueError(f"unknown audit event {event!r}")
    con.execute(_APPEND_AUDIT,
                [actor, role, event, current_client(), json.dumps(detail, ensure_ascii=False, default=str)])


class AuditUnreadable(Exception):
    """The file holds no audit chain to walk."""


@dataclass(frozen=True)
class AuditCheck:
    """What walking the audit chain found: the events walked and the head when intact, else the first
    broken event and what is wrong with it."""
    rows: int                          # events found intact (before the first broken one)
    head_event_id: int | None = None
    head_hash: str | None = None
    broken_event_id: int | None = None
    problem: Literal["changed", "removed", "inserted"] | None = None
    reason: str = ""

    @property
    def intact(self) -> bool:
        return self.problem is None

    def __str__(self) -> str:
        if not self.intact:
            return f"The audit log is broken at event {self.broken_event_id}: {self.reason}."
        if self.head_event_id is None:
            return "The audit log is intact: no events yet."
        events = f"{self.rows:,} event{'s' if self.rows != 1 else ''}"
        return f"The audit log is intact: {events}, head event {self.head_event_id}, hash {self.head_hash}."


def _removed(first: int, last: int) -> str:
    return f"event {first} removed" if first == last else f"events {first} to {last} removed"


def _hash_matches(key: bytes, values: list, prev_hash, row_hash) -> bool:
    try:
        return row_hash == chain_hash(key, *values, prev_hash)
    except TypeError:  # a value the app never writes (a BLOB): changed by hand
        return False


def _walk_chain(rows: Iterator[tuple], last_numbered: int, key: bytes) -> AuditCheck:
    """Check audit rows (event_id, occurred_at, actor, role, event, client, detail_json, prev_hash,
    row_hash) in event order against the key and `last_numbered`, the largest event id SQLite handed out."""
    before_id, before_hash, walked = 0, "", 0
    row = next(rows, None)
    while row is not None:
        following = next(rows, None)
        *values, prev_hash, row_hash = row
        event_id = values[0]
        if event_id != before_id + 1:
            since = f"goes from event {before_id}" if before_id else "starts"
            return AuditCheck(walked, broken_event_id=before_id + 1, problem="removed",
                              reason=f"{_removed(before_id + 1, event_id - 1)}: the log {since} to event {event_id}")
        if not _hash_matches(key, values, prev_hash, row_hash):
            if following is not None and following[-2] == before_hash:
                after = f"event {before_id}" if before_id else "the start"
                return AuditCheck(walked, broken_event_id=event_id, problem="inserted",
                                  reason=f"event {event_id} was inserted: the event after it links to {after}")
            return AuditCheck(walked, broken_event_id=event_id, problem="changed",
                              reason=f"event {event_id} was changed, or written without the key: "
                                     "its hash does not match it")
        if prev_hash != before_hash:
            return AuditCheck(walked, broken_event_id=event_id, problem="removed",
                              reason=f"event {event_id} does not follow event {before_id}: "
                                     "an event between them was removed or replaced")
        before_id, before_hash, walked = event_id, row_hash, walked + 1
        row = following
    if last_numbered > before_id:
        return AuditCheck(walked, broken_event_id=before_id + 1, problem="removed",
                          reason=f"{_removed(before_id + 1, last_numbered)}: the log ends at event {before_id} "
                                 f"but SQLite numbered events up to {last_numbered}")
    return AuditCheck(walked, before_id or None, before_hash or None)


class StateStore:
    def __init__(self, path: Path | None = None):
        self.path = Path(path or default_path())

    @contextlib.contextmanager
    def connect(self) -> Iterator[sqlite3.Connection]:
        """A short-lived connection; the schema is brought up to date first."""
        files.make_dir(self.path.parent)
        # SQLite gives the -wal and -shm files the mode of the database file
        con = sqlite3.connect(files.private_file(self.path), timeout=15, isolation_level=None)
        try:
            con.create_function("audit_hash", 8, functools.partial(chain_hash, audit_key().encode()),
                                deterministic=True)
            # Turning a new file to WAL can fail at once with "database is locked" (SQLite calls no busy
            # handler there) while another connection does the same: one at a time; a no-op once done.
            with store.writer_lock(self.path):
                con.execute("PRAGMA journal_mode = WAL")
            con.execute("PRAGMA foreign_keys = ON")
            self._migrate(con, self.path)
            yield con
        finally:
            con.close()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE: writers queue up instead of failing or losing a write."""
        with self.connect() as con:
            con.execute("BEGIN IMMEDIATE")
            try:
                yield con
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise

    @staticmethod
    def _migrate(con: sqlite3.Connection, path: Path) -> None:
        con.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, name TEXT NOT NULL,"
                    " applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now')))")

        def current() -> int:
            return con.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchone()[0]

        pending = [m for m in store.migrations(PACKAGE) if m.version > current()]
        if not pending:
            return
        # Many sessions open a new state store at once: one migrates, the others wait, then find it done.
        with store.writer_lock(path):
            for m in [m for m in pending if m.version > current()]:
                # executescript commits on its own; the version row goes in the same script
                con.executescript(f"BEGIN IMMEDIATE;\n{m.sql}\n"
                                  f"INSERT INTO schema_version (version, name) VALUES ({int(m.version)}, '{m.name}');"
                                  "\nCOMMIT;")

    # --- audit log ------------------------------------------------------------

    def record(self, actor: str, event: str, role: str | None = None, **detail) -> None:
        """Append one event to the audit log."""
        with self.transaction() as con:
            append_audit(con, actor, event, role, **detail)

    def verify_audit(self) -> AuditCheck:
        """Walk the audit chain, reading the file only (never creating or upgrading it)."""
        if not self.path.is_file():
            raise AuditUnreadable(f"No state store at {self.path}.")
        con = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True, isolation_level=None)
        try:
            if "row_hash" not in {column for _, column, *_ in con.execute("PRAGMA table_info(audit_log)")}:
                raise AuditUnreadable(f"{self.path} holds no chained audit log: not a state store, or one from "
                                      "before the chain (the app or any bankcrm command that writes upgrades it)")
            con.execute("BEGIN")  # one snapshot: the rows and the sequence as of the same moment
            last_numbered = con.execute(
                "SELECT coalesce(max(seq), 0) FROM sqlite_sequence WHERE name = 'audit_log'").fetchone()[0]
            rows = con.execute("SELECT event_id, occurred_at, actor, role, event, client, detail_json, prev_hash,"
                               " row_hash FROM audit_log ORDER BY event_id")
            return _walk_chain(iter(rows), last_numbered, audit_key().encode())
        except sqlite3.DatabaseError as problem:
            raise AuditUnreadable(f"{self.path}: {problem}") from None
        finally:
            con.close()

    def audit_log(self, role: str, **filters) -> pd.DataFrame:
        """The audit log as a person reads it: only roles that may "audit:read" (analytics.permissions);
        `filters` as audit_events takes them."""
        permissions.check(role, "audit:read")
        return self.audit_events(**filters)

    def audit_events(self, *, actor: str | None = None, event: str | None = None,
                     since: dt.date | dt.datetime | None = None, limit: int = 1000) -> pd.DataFrame:
        """The newest events first, optionally filtered; `since` a day or a moment, in UTC as the log keeps it."""
        clauses, params = [], []
        if actor:
            clauses.append("actor = ?")
            params.append(actor)
        if event:
            clauses.append("event = ?")
            params.append(event)
        if since:
            clauses.append("occurred_at >= ?")
            params.append(since.isoformat(sep=" ") if isinstance(since, dt.datetime) else since.isoformat())
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        with self.connect() as con:
            return pd.read_sql_query(
                f"SELECT event_id, occurred_at, actor, role, client, event, detail_json FROM audit_log {where} "  # noqa: S608
                "ORDER BY event_id DESC LIMIT ?", con, params=[*params, limit])
