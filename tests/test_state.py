"""The state store: an append-only, tamper-evident audit log that many writers share."""

from __future__ import annotations

import datetime as dt
import json
import re
import sqlite3
import subprocess
import sys
import threading
from concurrent.futures import ProcessPoolExecutor

import pytest

from analytics import config, state, store


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


def test_concurrent_writers_in_several_processes_lose_nothing_and_keep_the_chain(tmp_path):
    path = tmp_path / "s.sqlite"
    state.StateStore(path).record("setup", "login")
    with ProcessPoolExecutor(max_workers=4) as pool:
        list(pool.map(_write_many, [(path, w) for w in range(4)]))
    events = state.StateStore(path).audit_events(event="download", limit=10_000)
    assert len(events) == 100
    assert sorted(json.loads(d)["rows"] for d in events[events.actor == "writer2"]["detail_json"]) == list(range(25))
    check = state.StateStore(path).verify_audit()
    assert check.intact, str(check)
    assert (check.rows, check.head_event_id) == (101, 101)


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


# --- the chain: what anyone holding the file could do is seen -----------------

@pytest.fixture
def logged(tmp_path):
    """A state store holding five events, 1..5."""
    audit = state.StateStore(tmp_path / "s.sqlite")
    for actor, event in [("alice", "login"), ("alice", "download"), ("bob", "login"), ("alice", "role_changed"),
                         ("bob", "logout")]:
        audit.record(actor, event, role="admin")
    return audit


def tamper(audit: state.StateStore, *statements: str) -> None:
    """What anyone holding the file can do: open it with plain sqlite3, drop the triggers, change the log."""
    con = sqlite3.connect(audit.path, isolation_level=None)
    try:
        con.executescript("DROP TRIGGER audit_log_no_update; DROP TRIGGER audit_log_no_delete;")
        for statement in statements:
            con.execute(statement)
    finally:
        con.close()


def test_a_fresh_audit_log_verifies_and_names_its_head(tmp_path):
    audit = state.StateStore(tmp_path / "s.sqlite")
    with audit.connect():
        pass
    empty = audit.verify_audit()
    assert empty.intact and (empty.rows, empty.head_event_id, empty.head_hash) == (0, None, None)
    audit.record("alice", "login", role="admin")
    audit.record("alice", "logout", role="admin")
    check = audit.verify_audit()
    with audit.connect() as con:
        head_hash = con.execute("SELECT row_hash FROM audit_log WHERE event_id = 2").fetchone()[0]
    assert check.intact and (check.rows, check.head_event_id, check.head_hash) == (2, 2, head_hash)
    assert re.fullmatch("[0-9a-f]{64}", head_hash)
    assert f"event 2, hash {head_hash}" in str(check)


def test_a_store_upgraded_from_004_chains_the_events_it_already_held(tmp_path, monkeypatch):
    path = tmp_path / "s.sqlite"
    up_to_004 = store.migrations(state.PACKAGE)[:4]
    monkeypatch.setattr(state.store, "migrations", lambda package: up_to_004)
    with state.StateStore(path).connect() as con:
        con.executemany("INSERT INTO audit_log (occurred_at, actor, role, event, detail_json) VALUES (?, ?, ?, ?, ?)",
                        [("2026-01-05 09:00:00.000", "alice", "admin", "login", "{}"),
                         ("2026-01-05 09:01:00.000", "alice", "admin", "download", '{"rows": 3}'),
                         ("2026-01-05 09:02:00.000", "bob", None, "login_failed", "{}")])
    monkeypatch.undo()
    upgraded = state.StateStore(path)
    upgraded.record("bob", "login", role="analyst")
    check = upgraded.verify_audit()
    assert check.intact, str(check)
    assert (check.rows, check.head_event_id) == (4, 4)
    assert upgraded.audit_events()["client"].fillna("not recorded").tolist() == ["local", *["not recorded"] * 3]
    with upgraded.connect() as con, pytest.raises(sqlite3.IntegrityError, match="append-only"):
        con.execute("UPDATE audit_log SET actor = 'mallory' WHERE event_id = 2")


def test_a_row_deleted_with_the_triggers_dropped_is_named(logged):
    tamper(logged, "DELETE FROM audit_log WHERE event_id = 3")
    check = logged.verify_audit()
    assert not check.intact and (check.broken_event_id, check.problem) == (3, "removed")
    assert "event 3 removed: the log goes from event 2 to event 4" in str(check)


@pytest.mark.parametrize("detail", ["""'{"rows": 1}'""", "x'00'"], ids=["text", "blob"])
def test_a_changed_detail_is_named(logged, detail):
    tamper(logged, f"UPDATE audit_log SET detail_json = {detail} WHERE event_id = 2")
    check = logged.verify_audit()
    assert (check.broken_event_id, check.problem) == (2, "changed")
    assert "event 2 was changed" in str(check)


def test_a_row_inserted_in_the_middle_is_named(logged):
    """Events 3.. move up one, and a forged event 3 goes in the hole, linked to event 2."""
    tamper(logged, "UPDATE audit_log SET event_id = event_id + 100 WHERE event_id >= 3",
           "UPDATE audit_log SET event_id = event_id - 99 WHERE event_id > 100",
           "INSERT INTO audit_log (event_id, occurred_at, actor, role, event, client, detail_json, prev_hash, row_hash)"
           " SELECT 3, occurred_at, 'mallory', 'admin', 'role_changed', client, '{}', row_hash, row_hash"
           " FROM audit_log WHERE event_id = 2")
    check = logged.verify_audit()
    assert (check.broken_event_id, check.problem) == (3, "inserted")
    assert "event 3 was inserted" in str(check)


def test_a_row_added_at_the_end_without_the_key_is_named(logged):
    tamper(logged, "INSERT INTO audit_log (event_id, occurred_at, actor, role, event, client, detail_json, prev_hash,"
                   " row_hash) SELECT 6, occurred_at, 'mallory', 'admin', 'login', client, '{}', row_hash,"
                   " hex(randomblob(32)) FROM audit_log WHERE event_id = 5")
    check = logged.verify_audit()
    assert (check.broken_event_id, check.problem) == (6, "changed")


def test_a_truncated_tail_is_seen_through_sqlite_s_sequence_even_after_new_events(logged):
    tamper(logged, "DELETE FROM audit_log WHERE event_id >= 4")
    check = logged.verify_audit()
    assert (check.broken_event_id, check.problem) == (4, "removed")
    assert "events 4 to 5 removed: the log ends at event 3" in str(check)
    logged.record("alice", "login")  # numbered 6: the hole stays
    check = logged.verify_audit()
    assert (check.broken_event_id, check.problem) == (4, "removed")
    assert "events 4 to 5 removed: the log goes from event 3 to event 6" in str(check)


def test_the_chain_is_keyed_so_it_cannot_be_rebuilt_without_the_key(logged, monkeypatch):
    monkeypatch.setenv("BANKCRM_AUDIT_KEY", "not-the-key-it-was-written-with")
    check = logged.verify_audit()
    assert (check.broken_event_id, check.problem) == (1, "changed")


def test_the_audit_key_comes_from_the_environment_else_the_public_demo_key(monkeypatch):
    demo = config.SECRETS["audit"].demo
    monkeypatch.delenv("BANKCRM_AUDIT_KEY", raising=False)
    assert state.audit_key() == demo
    monkeypatch.setenv("BANKCRM_AUDIT_KEY", "")
    assert state.audit_key() == demo
    monkeypatch.setenv("BANKCRM_AUDIT_KEY", "a-long-random-secret")
    assert state.audit_key() == "a-long-random-secret"
    monkeypatch.setenv("BANKCRM_ENV", "production")
    with pytest.raises(config.Refused, match="BANKCRM_AUDIT_KEY is too weak"):
        state.audit_key()


def test_verify_refuses_a_file_that_holds_no_audit_chain(tmp_path):
    with pytest.raises(state.AuditUnreadable, match="No state store at"):
        state.StateStore(tmp_path / "missing.sqlite").verify_audit()
    assert not (tmp_path / "missing.sqlite").exists()
    sqlite3.connect(tmp_path / "other.sqlite").execute("CREATE TABLE t (x)").connection.close()
    with pytest.raises(state.AuditUnreadable, match="holds no chained audit log"):
        state.StateStore(tmp_path / "other.sqlite").verify_audit()


def test_occurred_at_is_sqlite_s_clock_not_the_caller_s(tmp_path, monkeypatch):
    monkeypatch.setattr(state, "utc_now", lambda: "1999-01-01 00:00:00.000")
    audit = state.StateStore(tmp_path / "s.sqlite")
    before = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    audit.record("alice", "login", occurred_at="1999-01-01 00:00:00.000")  # only detail, never the column
    after = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    [written] = audit.audit_events()["occurred_at"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}", written)
    assert before - dt.timedelta(seconds=1) <= dt.datetime.fromisoformat(written) <= after + dt.timedelta(seconds=1)


def test_every_event_carries_the_client_its_thread_serves_else_local(tmp_path):
    audit = state.StateStore(tmp_path / "s.sqlite")
    both_set = threading.Barrier(2)

    def session(user: str, address: str) -> None:
        state.set_client(address)
        both_set.wait()  # each thread records after the other has named its own client
        audit.record(user, "login")
        audit.record(user, "logout")

    threads = [threading.Thread(target=session, args=args)
               for args in [("alice", "203.0.113.7"), ("bob", "2001:db8::1")]]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    audit.record("cli", "generate")
    events = audit.audit_events()
    assert dict(events[["actor", "client"]].drop_duplicates().itertuples(index=False)) == {
        "alice": "203.0.113.7", "bob": "2001:db8::1", "cli": "local"}
    assert len(events) == 5


def test_opening_the_store_in_one_thread_keeps_another_thread_s_locks(tmp_path):
    """The app serves many sessions in one process while `bankcrm import` writes from another. A session opening
    the state store must not drop the locks of another session that has it open: the importer, finding itself
    the last connection, would then checkpoint and delete the WAL and its index from under that session (a page
    failed with "disk I/O error")."""
    path = tmp_path / "s.sqlite"
    audit = state.StateStore(path)
    audit.record("setup", "login")
    with audit.connect() as reading:
        assert reading.execute("SELECT count(*) FROM audit_log").fetchone() == (1,)
        with audit.connect():  # another session of the same server
            pass
        subprocess.run([sys.executable, "-c", "import sys; from analytics import state; "  # as `bankcrm import` does:
                        "state.StateStore(sys.argv[1]).record('importer', 'download', rows=1)", str(path)],
                       check=True)  # another process writes, then closes its connection
        assert {p.name for p in tmp_path.iterdir()} >= {"s.sqlite-wal", "s.sqlite-shm"}  # still the reader's
        assert reading.execute("SELECT count(*) FROM audit_log").fetchone() == (2,)
