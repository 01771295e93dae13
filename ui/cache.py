"""The one place the app caches: a store per process, figures per (scope, store version).

`st.cache_data` is shared by every session of the server, so everything
that changes an answer (who asks, which store file) is a real argument of
the cached function, never a `_`-prefixed one.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from analytics import churn
from analytics.kpis import KPIS
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


@st.cache_data(show_spinner=False, max_entries=512)
def kpi_series(key: str, scope: Scope, version: tuple[int, int]) -> pd.DataFrame:
    return KPIS[key].fn(ScopedStore(store().backend(), scope))


@st.cache_data(show_spinner=False, max_entries=512)
def churn_warnings(scope: Scope, version: tuple[int, int], filters: churn.WarningFilters) -> pd.DataFrame:
    return churn.warnings(ScopedStore(store().backend(), scope), filters)


@st.cache_data(show_spinner=False, max_entries=512)
def relationship_managers(scope: Scope, version: tuple[int, int]) -> list[str]:
    return churn.relationship_managers(ScopedStore(store().backend(), scope))
