"""Lockout after five failed sign-ins from one client address, growing each time, logged."""

from __future__ import annotations

import datetime as dt
import json

from analytics.state import StateStore
from auth.lockout import Lockout


HERE = "10.0.0.5"


class Clock:
    def __init__(self):
        self.now = dt.datetime(2026, 1, 1, 9, 0)

    def __call__(self):
        return self.now


def test_five_failures_lock_for_a_minute_then_two_then_four(tmp_path):
    state, clock = StateStore(tmp_path / "s.sqlite"), Clock()
    lockout = Lockout(state, clock)
    for expected_minutes in (1, 2, 4):
        assert [lockout.failed("bob", HERE) for _ in range(4)] == [None] * 4
        until = lockout.failed("bob", HERE)
        assert until == clock.now + dt.timedelta(minutes=expected_minutes)
        assert lockout.locked_until("bob", HERE) == until
        clock.now = until + dt.timedelta(seconds=1)
        assert lockout.locked_until("bob", HERE) is None
    events = state.audit_events(actor="bob")
    assert list(events["event"])[::-1] == ["lockout", "lockout_ended"] * 3
    assert json.loads(events["detail_json"].iloc[-1])["locked_until"] == "2026-01-01 09:01:00"


def test_success_clears_the_count(tmp_path):
    lockout = Lockout(StateStore(tmp_path / "s.sqlite"), Clock())
    for _ in range(4):
        lockout.failed("bob", HERE)
    lockout.succeeded("bob", HERE)
    assert [lockout.failed("bob", HERE) for _ in range(4)] == [None] * 4


def test_one_users_failures_do_not_lock_another(tmp_path):
    lockout = Lockout(StateStore(tmp_path / "s.sqlite"), Clock())
    for _ in range(5):
        lockout.failed("bob", HERE)
    assert lockout.locked_until("bob", HERE) is not None
    assert lockout.locked_until("alice", HERE) is None


def test_failures_from_one_address_do_not_lock_the_account_for_another(tmp_path):
    """Nobody can lock `admin` out of their own account by failing to sign in as them from elsewhere."""
    lockout = Lockout(StateStore(tmp_path / "s.sqlite"), Clock())
    for _ in range(5):
        lockout.failed("admin", "203.0.113.9")
    assert lockout.locked_until("admin", "203.0.113.9") is not None
    assert lockout.locked_until("admin", HERE) is None
