"""The one place the app caches: a store per process, figures per (function, scope, store, filters, rules).

`st.cache_data` is shared by every session of the server, so everything
that changes an answer (who asks, which store file, which filters, which
rule set) is a real argument of the cached function, never a `_`-prefixed one.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

import streamlit as st

from analytics.filters import Filters, Options, Slice, options
from analytics.rules import DEFAULT_RULES, RuleSet
from analytics.scope import Scope, ScopedStore
from analytics.store import Store, default_path
from auth.signin import KEY_SCOPE


@st.cache_resource
def _store(path: str) -> Store:
    return Store(path)


def store() -> Store:
    """One read-only DuckDB connection per server process and store file."""
    return _store(str(default_path()))


def store_version() -> tuple[int, int]:
    """Changes when an import or generate swaps in a new store file."""
    return store().version


def session_scope() -> Scope:
    """The signed-in person's scope, set by auth.signin at sign-in; pages run only after it."""
    return st.session_state[KEY_SCOPE]


def active_rules() -> RuleSet:
    """The rule set every page reads (the segment studio will make this the approved version)."""
    return DEFAULT_RULES


def compute(fn: Callable, filters: Filters, *args):
    """`fn(Slice(scope, filters, rules), *args)` for the signed-in person, cached per all of them.

    `fn` is an analytics function; it is named by module and name so that the
    cache key is plain data."""
    if not fn.__module__.startswith("analytics."):
        raise ValueError(f"{fn.__module__}.{fn.__name__} is not an analytics function")
    return _compute(fn.__module__, fn.__name__, session_scope(), store_version(), filters, active_rules(), *args)


@st.cache_data(show_spinner=False, max_entries=2048)
def _compute(module: str, name: str, scope: Scope, version: tuple[int, int], filters: Filters, rules: RuleSet,
             *args):
    fn = getattr(importlib.import_module(module), name)
    return fn(Slice(ScopedStore(store().backend(), scope), filters, rules), *args)


@st.cache_data(show_spinner=False, max_entries=256)
def _options(scope: Scope, version: tuple[int, int]) -> Options:
    return options(ScopedStore(store().backend(), scope))


def filter_options() -> Options:
    """Months with data and the branches and regions in the person's scope."""
    return _options(session_scope(), store_version())
