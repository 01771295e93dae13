"""Lockout after five failed sign-ins, growing each time, logged."""

from __future__ import annotations

import datetime as dt
import json

from analytics.state import StateStore
from auth.lockout import Lockout


class Clock:
    def __init__(self):
        self.now = dt.datetime(2026, 1, 1, 9, 0)

    def __call__(self):
        return self.now


def test_five_failures_lock_for_a_minute_then_two_then_four(tmp_path):
    state, clock = StateStore(tmp_path / "s.sqlite"), Clock()
    lockout = Lockout(state, clock)
    for expected_minutes in (1, 2, 4):
        assert [lockout.failed("bob") for _ in range(4)] == [None] * 4
        until = lockout.failed("bob")
        assert until == clock.now + dt.timedelta(minutes=expected_minutes)
        assert lockout.locked_until("bob") == until
        clock.now = until + dt.timedelta(seconds=1)
        assert lockout.locked_until("bob") is None
    events = state.audit_events(actor="bob")
    assert list(events["event"])[::-1] == ["lockout", "lockout_ended"] * 3
    assert json.loads(events["detail_json"].iloc[-1])["locked_until"] == "2026-01-01 09:01:00"


def test_success_clears_the_count(tmp_path):
    lockout = Lockout(StateStore(tmp_path / "s.sqlite"), Clock())
    for _ in range(4):
        lockout.failed("bob")
    lockout.succeeded("bob")
    assert [lockout.failed("bob") for _ in range(4)] == [None] * 4


def test_one_users_failures_do_not_lock_another(tmp_path):
    lockout = Lockout(StateStore(tmp_path / "s.sqlite"), Clock())
    for _ in range(5):
        lockout.failed("bob")
    assert lockout.locked_until("bob") is not None
    assert lockout.locked_until("alice") is None
