"""The state store: what the application writes while it runs.

The facts store (DuckDB) is read-only for the app and replaced whole by
every writer, so small transactional writes from the app and the CLI (the
audit log, sign-in lockouts, rule-set versions, care tasks) live here, in a
SQLite file beside it that many processes may write at once. The audit log
is append-only in the database itself: triggers refuse UPDATE and DELETE.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pandas as pd

from analytics import files, store

PACKAGE = "analytics.state_migrations"

# Every event the audit log may hold, named once.
AUDIT_EVENTS = (
    "login", "login_failed", "logout", "lockout", "lockout_ended", "session_expired",
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


def append_audit(con: sqlite3.Connection, actor: str, event: str, role: str | None = None, **detail) -> None:
    """Append one event to the audit log inside the caller's transaction (it commits with the change)."""
    if event not in AUDIT_EVENTS:
        raise ValueError(f"unknown audit event {event!r}")
    con.execute("INSERT INTO audit_log (occurred_at, actor, role, event, detail_json) VALUES (?, ?, ?, ?, ?)",
                [utc_now(), actor, role, event, json.dumps(detail, ensure_ascii=False, default=str)])


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

    def audit_events(self, *, actor: str | None = None, event: str | None = None,
                     since: dt.date | None = None, limit: int = 1000) -> pd.DataFrame:
        """The newest events first, optionally filtered."""
        clauses, params = [], []
        if actor:
            clauses.append("actor = ?")
            params.append(actor)
        if event:
            clauses.append("event = ?")
            params.append(event)
        if since:
            clauses.append("occurred_at >= ?")
            params.append(since.isoformat())
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        with self.connect() as con:
            return pd.read_sql_query(
                f"SELECT event_id, occurred_at, actor, role, event, detail_json FROM audit_log {where} "  # noqa: S608
                "ORDER BY event_id DESC LIMIT ?", con, params=[*params, limit])
