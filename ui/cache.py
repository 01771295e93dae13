"""The one place the app caches: a store per process, figures per (function, access, store, saved campaign
lists, filters, rules), and what-if studies per (scope, store, filters, rules); and, pinned per run with its store,
which scores are on their way. A new store (an import, a generate) is warmed: every page's default view for every
access is computed once in the background (`warm`).

`st.cache_data` is shared by every session of the server, so everything
that changes an answer (who asks, which store file, how many campaign lists
were saved, which filters, which rule set) is a real argument of the cached
function, never a `_`-prefixed one.
"""

from __future__ import annotations

import importlib
import logging
import os
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import ibis
import pandas as pd
import streamlit as st

from analytics import campaigns, files, views
from analytics.filters import Filters, Options, Slice, default_period, options
from analytics.ml import refresh
from analytics.rulebook import RuleBook
from analytics.rules import RuleSet
from analytics.scope import Scope, ScopedStore
from analytics.state import StateStore
from analytics.store import DUCKDB_PREFIX, Store, default_path, facts
from analytics.whatif import Study, WhatIf
from auth.roles import ROLES, allowed, scope_for
from auth.signin import KEY_SCOPE

KEY_RULES = "bankcrm_rules"
KEY_RUN_STORE = "bankcrm_run_store"
KEY_RUN_LISTS = "bankcrm_run_lists"
KEY_RUN_COMING = "bankcrm_run_coming"


@st.cache_resource
def _facts(setting: str):
    return facts(setting)


def store():
    """The facts, read through one DuckDB connection (or one Spark session) per server process and setting."""
    return _facts(os.environ.get("BANKCRM_BACKEND") or f"{DUCKDB_PREFIX}{default_path()}")


def underway() -> frozenset[str]:
    """The kinds of score (churn, products, care) a refresh is making for the store now: none on Spark."""
    facts_ = store()
    return refresh.underway(facts_.path) if isinstance(facts_, Store) else frozenset()


def follow_rules() -> None:
    """After a rule set is approved: the store's marts of tiers and stages are rebuilt with it by `bankcrm
    migrate`, in a process of its own (the pages add up the raw rows under the new rules until the new store
    lands, then read it like any new store). None on Spark, whose tables are built where they come from."""
    facts_ = store()
    if isinstance(facts_, Store):
        log = facts_.path.with_name(facts_.path.name + ".migrate.log")
        with open(files.private_file(log), "a") as out:
            subprocess.Popen([str(Path(sys.executable).with_name("bankcrm")), "migrate", "--store", str(facts_.path)],
                             stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


def pin_store() -> None:
    """Give this run its own backend on the newest facts (app.py does, first thing in each run): every figure
    of the run comes from one store file, even when an import swaps in a new one meanwhile. The first run on a
    store file this process has not seen warms it (`warm`).
    Raises StoreMissing or StoreOutdated before any page draws."""
    # What is on its way before the store: a run told that scores are coming reads a store from before they
    # landed, and one told that nothing is coming reads one with every score that landed.
    st.session_state[KEY_RUN_COMING] = underway()
    st.session_state[KEY_RUN_STORE] = store().snapshot()
    st.session_state[KEY_RUN_LISTS] = campaigns.version(StateStore())
    if os.environ.get(WARM_ENV, "1") != "0":
        warm()


_warming = threading.local()  # a warming thread's own (version, backend): it has no session


def _pinned() -> tuple[tuple, ibis.BaseBackend]:
    if (pinned := getattr(_warming, "pinned", None)) is not None:
        return pinned
    if KEY_RUN_STORE not in st.session_state:
        pin_store()
    return st.session_state[KEY_RUN_STORE]


def store_version() -> tuple:
    """The version of this run's facts: changes when an import or generate swaps in a new store file."""
    return _pinned()[0]


def coming() -> frozenset[str]:
    """The kinds of score that were on their way when this run began (ui.scores says so on the pages)."""
    if KEY_RUN_COMING not in st.session_state:
        pin_store()
    return st.session_state[KEY_RUN_COMING]


def lists_version() -> int:
    """How many campaign lists were saved when this run began: the funnel reads their leads."""
    if KEY_RUN_LISTS not in st.session_state:
        pin_store()
    return st.session_state[KEY_RUN_LISTS]


@st.cache_resource(show_spinner=False, max_entries=4)
def _added_rows(state_path: str, lists: int) -> dict:  # one copy per process: ScopedStore only reads it
    return campaigns.added_rows(StateStore(state_path))


def _tables(version: tuple, scope: Scope, lists: int) -> ScopedStore:
    """The scope's tables of this run's facts, with the leads of the `lists` campaign lists saved so far."""
    return ScopedStore(_backend(version), scope, _added_rows(str(StateStore().path), lists) if lists else None)


@st.cache_data(show_spinner=False, max_entries=64)
def _saved_lists(state_path: str, lists: int, branch_codes: frozenset[str] | None) -> pd.DataFrame:
    return campaigns.saved(StateStore(state_path), branch_codes)


def saved_lists() -> pd.DataFrame:
    """The campaign lists saved so far with leads in the person's branches (campaigns.saved), read once per
    number of lists saved."""
    return _saved_lists(str(StateStore().path), lists_version(), session_scope().branch_codes)


def _backend(version: tuple) -> ibis.BaseBackend:
    """This run's Ibis backend; `version` is what the caller's cache key holds."""
    pinned, backend = _pinned()
    assert pinned == version, "a cached figure was keyed on another store file than this run reads"
    return backend


def session_scope() -> Scope:
    """The signed-in person's scope, set by auth.signin at sign-in; pages run only after it."""
    return st.session_state[KEY_SCOPE]


def scoped() -> ScopedStore:
    """The signed-in person's tables of this run's facts, for an action that reads before it writes
    (analytics.care.assign)."""
    return _tables(store_version(), session_scope(), lists_version())


def read_active_rules() -> RuleSet:
    """Read the approved rule set from the state store, once per run (app.py does, before the page):
    an approval reaches every session at its next rerun."""
    st.session_state[KEY_RULES] = RuleBook(StateStore()).active()
    return st.session_state[KEY_RULES]


def active_rules() -> RuleSet:
    """The rule set every page reads this run."""
    return st.session_state.get(KEY_RULES) or read_active_rules()


def compute(fn: Callable, filters: Filters, *args):
    """`fn(Slice(scope, filters, rules), *args)` for the signed-in person, cached per all of them.

    `fn` is an analytics function; it is named by module and name so that the
    cache key is plain data."""
    if not fn.__module__.startswith("analytics."):
        raise ValueError(f"{fn.__module__}.{fn.__name__} is not an analytics function")
    return _compute(fn.__module__, fn.__name__, session_scope().access, store_version(), lists_version(), filters,
                    active_rules(), *args)


@st.cache_data(show_spinner=False, max_entries=2048)
def _compute(module: str, name: str, scope: Scope, version: tuple, lists: int, filters: Filters, rules: RuleSet,
             *args):
    fn = getattr(importlib.import_module(module), name)
    return fn(Slice(_tables(version, scope, lists), filters, rules), *args)


@st.cache_data(show_spinner=False, max_entries=256)
def _options(scope: Scope, version: tuple) -> Options:
    return options(ScopedStore(_backend(version), scope))


def filter_options() -> Options:
    """Months with data and the branches and regions in the person's scope."""
    return _options(session_scope().access, store_version())


@st.cache_resource(show_spinner=False, max_entries=8, ttl=3600)
def _study(scope: Scope, version: tuple, filters: Filters, rules: RuleSet) -> Study:
    return Study(Slice(ScopedStore(_backend(version), scope), filters, rules))


@st.cache_data(show_spinner=False, max_entries=256)
def _what_if(scope: Scope, version: tuple, filters: Filters, rules: RuleSet, before: RuleSet,
             after: RuleSet, movers: int) -> tuple[WhatIf, object]:
    study = _study(scope, version, filters, rules)
    return study.compare(before, after), study.movers(before, after, movers) if movers else None


def what_if(filters: Filters, before: RuleSet, after: RuleSet, movers: int = 0) -> tuple[WhatIf, object]:
    """The effect of `after` against `before` for the signed-in person's filtered customers, and (when
    `movers` > 0) that many of the customers who move. The study (a copy of the as-of month) is kept per
    scope, store, filters and active rule set (the tier filter reads it); comparisons per both rule sets too."""
    return _what_if(session_scope(), store_version(), filters, active_rules(), before, after, movers)


WARM_ENV = "BANKCRM_WARM"  # "0": no warming (the tests, which time nothing and share two cores)
_warm_lock = threading.Lock()


@st.cache_resource(show_spinner=False)
def _warmed() -> set:
    """The store versions this server process has warmed, or is warming."""
    return set()


def warm() -> threading.Thread | None:
    """Once per store version and process, in a thread of its own: `warm_now` on this run's facts, so that the
    first person of the morning after an import finds their pages computed. Every server process behind the
    proxy warms itself when its first session reaches the new store (none waits for it)."""
    version = st.session_state[KEY_RUN_STORE][0]
    with _warm_lock:
        if version in _warmed():
            return None
        _warmed().add(version)
    # A cursor of its own: this run goes on reading through its own, and a DuckDB cursor serves one thread at a
    # time (two at once fail with "Attempting to execute an unsuccessful or closed pending query result").
    newest, backend = store().snapshot()
    if newest != version:  # another store was swapped in meanwhile: the first run on it warms it
        return None
    thread = threading.Thread(target=warm_now, name="bankcrm-warm", daemon=True,
                              args=(version, backend, st.session_state[KEY_RUN_LISTS], RuleBook(StateStore()).active()))
    thread.start()
    return thread


def accesses(backend: ibis.BaseBackend) -> list[Scope]:
    """Every access a person can sign in with: the bank for each role that sees every branch, and each branch for
    a branch head."""
    codes = ScopedStore(backend, Scope.all_branches()).table("branches").branch_code.execute()
    return [scope_for("", role, (code,)) if role == "branch_head" else scope_for("", role)
            for role in ROLES for code in (sorted(codes) if role == "branch_head" else [None])]


def warm_now(version: tuple, backend: ibis.BaseBackend, lists: int, rules: RuleSet) -> int:
    """Compute the default view of every page each access may open (analytics.views.calls at the default
    period), into the figures' cache; returns how many figures. A figure that fails is left for its page to
    show the failure."""
    _warming.pinned = (version, backend)
    done = 0
    try:
        for scope in accesses(backend):
            offered = _options(scope, version)
            if not offered.months:
                continue
            start, end = default_period(offered.months)
            for page, calls in views.calls(offered.months, Filters(start=start, end=end)).items():
                if not allowed(scope.role, page):
                    continue
                for fn, filters, args in calls:
                    try:
                        _compute(fn.__module__, fn.__name__, scope, version, lists, filters, rules, *args)
                        done += 1
                    except Exception:  # noqa: BLE001 - the page computes it again and shows why
                        logging.getLogger(__name__).exception("warming %s.%s for %s", fn.__module__, fn.__name__,
                                                              scope)
    finally:
        _warming.pinned = None
    return done
