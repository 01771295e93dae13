"""Warm after import (#25 item 3): once a store is new to a server process, the default view of every page for
every access (the bank for each role, each branch for a branch head) is computed in the background, so that the
first person to open a page finds it computed."""

from __future__ import annotations

import datetime as dt
import functools
import importlib

import pytest
import streamlit as st

from analytics import campaigns, views
from analytics.filters import Filters
from analytics.rulebook import RuleBook
from auth.roles import allowed
from auth.signin import KEY_SCOPE
from ui import cache

from . import apptest

ANY_MONTHS = tuple(dt.date(2025, m, 28) for m in range(1, 13))  # views.calls names the same functions for any
FUNCTIONS = {(fn.__module__, fn.__name__) for calls in views.calls(ANY_MONTHS, Filters(end=ANY_MONTHS[-1])).values()
             for fn, _, _ in calls}


@pytest.fixture
def warmed(app_env):
    version, backend = cache.store().snapshot()
    figures = cache.warm_now(version, backend, campaigns.version(app_env), RuleBook(app_env).active())
    return figures, backend


def test_warming_computes_every_page_s_default_view_for_every_access(warmed):
    figures, backend = warmed
    accesses = cache.accesses(backend)
    assert {s.role for s in accesses} >= {"executive", "analyst", "admin", "branch_head"}
    assert all(s.user == "" for s in accesses)
    heads = [s for s in accesses if s.role == "branch_head"]
    assert len(heads) >= 10 and all(len(s.branch_codes) == 1 for s in heads)
    assert figures >= len(heads) * 20  # a branch head opens six views of 3-10 figures each


@pytest.mark.parametrize("username", ["exec", "analyst", "head_sh01"])
def test_after_warming_every_page_opens_without_computing_a_figure(warmed, monkeypatch, username):
    computed = []
    for module, name in FUNCTIONS:  # a figure not in the cache would be computed by one of these: count it
        owner = importlib.import_module(module)
        monkeypatch.setattr(owner, name, functools.wraps(getattr(owner, name))(
            lambda *a, _name=name, **k: computed.append(_name)))
    at = apptest.sign_in(apptest.app(), username)
    role = at.session_state[KEY_SCOPE].role
    opened = [page for page in views.calls(ANY_MONTHS, Filters(end=ANY_MONTHS[-1])) if allowed(role, page)]
    for page in opened:
        at = apptest.open_page(at, page)
        assert not at.exception, (page, [e.message for e in at.exception])
    assert len(opened) >= 4
    assert computed == []  # every figure came from the warmed cache


def test_the_warming_thread_reads_through_a_cursor_of_its_own(app_env, monkeypatch):
    """A DuckDB cursor serves one thread at a time: warming through the run's own cursor while the run draws its
    page failed both ("Attempting to execute an unsuccessful or closed pending query result", in the load test)."""
    handed, runs = [], []
    monkeypatch.setattr(cache, "warm_now", lambda version, backend, *rest: handed.append((version, backend)))
    warm = cache.warm

    def watched():  # the run that starts the warming, and what it reads through
        runs.append(st.session_state[cache.KEY_RUN_STORE])
        thread = warm()
        if thread:
            thread.join()
        return thread

    monkeypatch.setattr(cache, "warm", watched)
    monkeypatch.setattr(cache, "_warmed", functools.cache(set))  # a store version this process has not seen
    monkeypatch.setenv(cache.WARM_ENV, "1")
    at = apptest.sign_in(apptest.app(), "exec")
    assert not at.exception
    (version, backend), = handed
    run_version, run_backend = runs[0]
    assert version == run_version and backend is not run_backend
