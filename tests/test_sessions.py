"""Sessions the server can end, sign-in throttling and the client address, below the sign-in form."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import types

import pytest

from analytics import permissions
from analytics.state import StateStore
from auth import client, signin
from auth.sessions import IDLE_TIMEOUT, MAX_AGE, Sessions
from auth.throttle import BadThrottle, Throttle, Throttling
from auth.users import DEMO_USERS_FILE, UsersFile

from . import apptest


class Clock:
    def __init__(self):
        self.now = dt.datetime(2026, 1, 1, 9, 0)

    def __call__(self):
        return self.now


@pytest.fixture
def state(tmp_path):
    return StateStore(tmp_path / "state.sqlite")


@pytest.fixture
def exec_user():
    return UsersFile(DEMO_USERS_FILE).get("exec")


def test_a_cookie_replayed_after_sign_out_signs_in_no_more(state, exec_user):
    sessions = Sessions(state)
    session_id = sessions.start(exec_user, "10.0.0.5")
    assert sessions.check(session_id, exec_user) is None
    sessions.end(session_id, "logout")
    assert sessions.check(session_id, exec_user) == "logout"
    assert sessions.check("a-forged-or-unknown-id", exec_user) == "logout"


def test_only_a_hash_of_the_session_id_is_stored(state, exec_user):
    session_id = Sessions(state).start(exec_user, "10.0.0.5")
    with state.connect() as con:
        stored = [str(v) for row in con.execute("SELECT * FROM sessions").fetchall() for v in row]
    assert session_id not in stored and not any(session_id in v for v in stored)


def test_a_session_ends_after_the_idle_time_and_after_the_cookie_s_lifetime(state, exec_user):
    clock = Clock()
    sessions = Sessions(state, clock)
    idle = sessions.start(exec_user, "10.0.0.5")
    clock.now += IDLE_TIMEOUT - dt.timedelta(seconds=1)
    assert sessions.check(idle, exec_user) is None  # used in time: noted
    clock.now += IDLE_TIMEOUT - dt.timedelta(seconds=1)
    assert sessions.check(idle, exec_user) is None
    clock.now += IDLE_TIMEOUT + dt.timedelta(seconds=1)
    assert sessions.check(idle, exec_user) == "session_expired"
    busy = sessions.start(exec_user, "10.0.0.5")
    for _ in range(int(MAX_AGE / dt.timedelta(minutes=20)) + 1):
        clock.now += dt.timedelta(minutes=20)
        if sessions.check(busy, exec_user):
            break
    assert sessions.check(busy, exec_user) == "too_old"


def test_a_changed_account_ends_the_session(state, exec_user, tmp_path):
    users_file = tmp_path / "users.yaml"
    shutil.copyfile(DEMO_USERS_FILE, users_file)
    users = UsersFile(users_file)
    sessions = Sessions(state)
    session_id = sessions.start(users.get("exec"), "10.0.0.5")
    users.set_branches("exec", ("SH01",))  # a branch list an executive does not use, but a change all the same
    assert sessions.check(session_id, users.get("exec")) == "account_changed"


def test_an_admin_ends_a_live_session_and_nobody_else_may(state, exec_user):
    sessions = Sessions(state)
    session_id = sessions.start(exec_user, "10.0.0.5")
    [ref] = sessions.live().ref
    for role in ("executive", "branch_head", "analyst"):
        with pytest.raises(permissions.Forbidden, match="sessions:end"):
            sessions.end_by_admin(ref, actor="someone", role=role)
    assert sessions.check(session_id, exec_user) is None
    assert sessions.end_by_admin(ref, actor="admin", role="admin")
    assert sessions.check(session_id, exec_user) == "ended_by_admin"
    assert sessions.live().empty and not sessions.end_by_admin(ref, actor="admin", role="admin")
    [event] = state.audit_events(event="session_ended").to_dict("records")
    assert event["actor"] == "admin" and json.loads(event["detail_json"])["username"] == "exec"


def test_the_cli_ends_the_sessions_of_a_user_it_changes(state, exec_user, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from bankcrm import cli

    users_file = tmp_path / "users.yaml"
    shutil.copyfile(DEMO_USERS_FILE, users_file)
    monkeypatch.setenv("BANKCRM_STATE", str(state.path))
    session_id = Sessions(state).start(exec_user, "10.0.0.5")
    result = CliRunner().invoke(cli.app, ["users", "disable", "exec", "--file", str(users_file)])
    assert result.exit_code == 0 and "1 open session ended" in result.output
    assert Sessions(state).check(session_id, exec_user) == "ended_by_cli"


# --- throttling --------------------------------------------------------------------------


def test_failures_from_one_address_slow_that_address_and_many_slow_everyone(state):
    clock = Clock()
    throttling = Throttling(state, Throttle(client_failures=3, client_wait_s=30, overall_failures=5, overall_wait_s=5,
                                            window_s=600), clock)
    for _ in range(3):
        assert throttling.wait_s("203.0.113.9") == 0
        throttling.failed("203.0.113.9")
    assert throttling.wait_s("203.0.113.9") == 30 and throttling.wait_s("10.0.0.5") == 0
    throttling.failed("198.51.100.1")
    throttling.failed("198.51.100.2")
    assert throttling.wait_s("10.0.0.5") == 5 and throttling.wait_s("203.0.113.9") == 30
    clock.now += dt.timedelta(seconds=601)
    assert throttling.wait_s("203.0.113.9") == 0 and throttling.wait_s("10.0.0.5") == 0


def test_the_throttle_is_a_setting_and_a_bad_one_is_refused_by_name(monkeypatch):
    assert Throttle.from_env() == Throttle(20, 30, 200, 5, 600)
    monkeypatch.setenv("BANKCRM_THROTTLE_CLIENT", "5/10")
    monkeypatch.setenv("BANKCRM_THROTTLE_OVERALL", "50/2")
    monkeypatch.setenv("BANKCRM_THROTTLE_WINDOW", "60")
    assert Throttle.from_env() == Throttle(5, 10, 50, 2, 60)
    monkeypatch.setenv("BANKCRM_THROTTLE_CLIENT", "lots")
    with pytest.raises(BadThrottle, match="BANKCRM_THROTTLE_CLIENT='lots': expected FAILURES/SECONDS"):
        Throttle.from_env()


@pytest.fixture
def waits(monkeypatch):
    """The seconds the sign-in waited, instead of waiting them."""
    waited = []
    monkeypatch.setattr(signin, "_wait", waited.append)
    return waited


def test_spraying_one_guess_over_many_accounts_from_one_address_is_throttled_and_audited(app_env, monkeypatch, waits):
    monkeypatch.setenv("BANKCRM_THROTTLE_CLIENT", "3/30")
    for username in ("exec", "analyst", "admin"):
        apptest.sign_in(apptest.app(), username, "Spring2026!!")
    assert waits == []
    at = apptest.sign_in(apptest.app(), "head_sh01", "Spring2026!!")
    assert waits == [30.0]
    assert "Username or password is incorrect." in [e.value for e in at.error]
    [throttled] = app_env.audit_events(event="sign_in_throttled").to_dict("records")
    assert throttled["actor"] == "head_sh01" and json.loads(throttled["detail_json"]) == {"wait_s": 30.0}
    assert throttled["client"] == client.LOOPBACK


def test_unknown_and_known_names_get_the_same_message_and_the_same_bcrypt_work(app_env, monkeypatch):
    """The time a sign-in takes must not tell whether a name exists: both run bcrypt once, at one cost factor."""
    checked = []
    real = signin.password_matches
    monkeypatch.setattr(signin, "password_matches", lambda password, hashed: checked.append(hashed[:7]) or
                        real(password, hashed))
    known = apptest.sign_in(apptest.app(), "exec", "a-wrong-password")
    unknown = apptest.sign_in(apptest.app(), "nosuchuser", "a-wrong-password")
    assert [e.value for e in known.error] == [e.value for e in unknown.error] == ["Username or password is incorrect."]
    assert len(checked) == 2 and checked[0] == checked[1]  # e.g. "$2b$10$" twice


def test_an_unknown_name_is_audited_cut_short_and_escaped(app_env):
    typed = "nobody\x1b[31m" + "x" * 100
    apptest.sign_in(apptest.app(), typed, "a-wrong-password")
    [event] = app_env.audit_events(event="login_failed").to_dict("records")
    detail = json.loads(event["detail_json"])
    assert event["actor"] == "(unknown)" and detail["reason"] == "no such user"
    assert detail["typed"].startswith("nobody\\x1b[31mxxx") and "\x1b" not in detail["typed"]
    assert len(detail["typed"]) <= signin.TYPED_NAME_CHARS + 3


def test_attempts_during_a_lock_are_audited_and_a_lock_ends_the_sessions_it_locks_out(app_env):
    signed = apptest.sign_in(apptest.app(), "analyst")
    assert signed.metric
    at = apptest.app()
    for _ in range(5):
        apptest.sign_in(at, "analyst", "wrong-password")
    apptest.sign_in(at, "analyst")  # the right password, during the lock
    reasons = [json.loads(d)["reason"] for d in app_env.audit_events(event="login_failed").detail_json]
    assert reasons == ["locked"] + ["wrong password"] * 5
    signed.run()
    assert apptest.signed_in_form_shown(signed) and not signed.metric


# --- the client address ------------------------------------------------------------------


def _context(monkeypatch, peer, forwarded=None):
    headers = {"X-Forwarded-For": forwarded} if forwarded else {}
    monkeypatch.setattr(client, "st", types.SimpleNamespace(context=types.SimpleNamespace(ip_address=peer,
                                                                                         headers=headers)))


def test_the_client_is_the_peer_and_a_forwarded_address_counts_only_from_a_trusted_proxy(monkeypatch):
    _context(monkeypatch, "203.0.113.9", forwarded="10.1.1.1")
    assert client.address() == "203.0.113.9"  # anyone may send the header: ignored
    monkeypatch.setenv("BANKCRM_TRUSTED_PROXIES", "127.0.0.1, 10.0.0.2")
    _context(monkeypatch, None, forwarded="198.51.100.7, 10.0.0.2")  # nginx on this machine, behind another proxy
    assert client.address() == "198.51.100.7"
    _context(monkeypatch, "10.0.0.2", forwarded="1.2.3.4, 198.51.100.8")  # a client's own header is left of it
    assert client.address() == "198.51.100.8"
    _context(monkeypatch, None)
    assert client.address() == client.LOOPBACK
