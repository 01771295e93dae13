"""The state store: an append-only audit log that many writers share."""

from __future__ import annotations

import json
import sqlite3
from concurrent.futures import ProcessPoolExecutor

import pytest

from analytics import state


def test_audit_log_refuses_update_and_delete(tmp_path):
    audit = state.StateStore(tmp_path / "s.sqlite")
    audit.record("alice", "login", role="admin")
    with audit.connect() as con:
        for statement in ("UPDATE audit_log SET actor = 'mallory'", "DELETE FROM audit_log"):
            with pytest.raises(sqlite3.IntegrityError, match="append-only"):
                con.execute(statement)
    assert list(audit.audit_events()["actor"]) == ["alice"]


def test_unknown_events_are_refused(tmp_path):
    with pytest.raises(ValueError, match="unknown audit event"):
        state.StateStore(tmp_path / "s.sqlite").record("alice", "coffee")


def _write_many(args):
    path, writer = args
    audit = state.StateStore(path)
    for i in range(25):
        audit.record(f"writer{writer}", "download", rows=i)
    return writer


def test_concurrent_writers_in_several_processes_lose_nothing(tmp_path):
    path = tmp_path / "s.sqlite"
    state.StateStore(path).record("setup", "login")
    with ProcessPoolExecutor(max_workers=4) as pool:
        list(pool.map(_write_many, [(path, w) for w in range(4)]))
    events = state.StateStore(path).audit_events(event="download", limit=10_000)
    assert len(events) == 100
    assert sorted(json.loads(d)["rows"] for d in events[events.actor == "writer2"]["detail_json"]) == list(range(25))


def test_filters_and_newest_first(tmp_path):
    audit = state.StateStore(tmp_path / "s.sqlite")
    audit.record("a", "login")
    audit.record("b", "login_failed")
    audit.record("a", "logout")
    assert list(audit.audit_events()["event"]) == ["logout", "login_failed", "login"]
    assert list(audit.audit_events(actor="a")["event"]) == ["logout", "login"]
    assert list(audit.audit_events(event="login_failed")["actor"]) == ["b"]


def test_state_lives_beside_the_store_unless_configured(tmp_path, monkeypatch):
    monkeypatch.delenv("BANKCRM_STATE", raising=False)
    assert state.default_path(tmp_path / "bank.duckdb") == tmp_path / "bank.state.sqlite"
    monkeypatch.setenv("BANKCRM_STATE", str(tmp_path / "elsewhere.sqlite"))
    assert state.default_path(tmp_path / "bank.duckdb") == tmp_path / "elsewhere.sqlite"


def test_many_sessions_opening_a_new_state_store_at_once_migrate_it_once(tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    path = tmp_path / "fresh.sqlite"

    def open_and_record(i: int) -> None:
        state.StateStore(path).record(f"user{i}", "login")

    with ThreadPoolExecutor(max_workers=20) as pool:
        list(pool.map(open_and_record, range(20)))  # raises what any thread raised
    with state.StateStore(path).connect() as con:
        versions = [v for (v,) in con.execute("SELECT version FROM schema_version ORDER BY version")]
        assert con.execute("SELECT count(*) FROM audit_log WHERE event = 'login'").fetchone()[0] == 20
    assert versions == list(range(1, len(versions) + 1))
