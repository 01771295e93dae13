"""The app under AppTest: sign-in first, then the Overview shows the store's own figures."""

from __future__ import annotations

import ibis
import pandas as pd
import pytest

from analytics import format as fmt
from analytics import kpis
from analytics.scope import Scope, ScopedStore

from . import apptest
from .conftest import DEMO_END


@pytest.fixture
def env(app_env, demo_store):
    return demo_store


def figures(store_path, scope: Scope, month=DEMO_END) -> dict[str, str]:
    tables = ScopedStore(ibis.duckdb.connect(str(store_path), read_only=True), scope)
    return {k.label_en: fmt.BY_UNIT[k.unit](kpis.snapshot(k.fn(tables), pd.Timestamp(month)).value)
            for k in kpis.KPIS.values()}


def test_overview_shows_the_kpis_the_analytics_compute(env):
    at = apptest.sign_in(apptest.app(), "exec")
    assert not at.exception
    assert {m.label: m.value for m in at.metric} == figures(env, Scope.all_branches())
    assert len(at.get("plotly_chart")) == 1


def test_branch_head_sees_their_branch_figures(env):
    at = apptest.sign_in(apptest.app(), "head_sh01")
    assert not at.exception
    mine = figures(env, Scope.for_branches(["SH01"]))
    assert {m.label: m.value for m in at.metric} == mine
    assert mine != figures(env, Scope.all_branches())


def test_choosing_an_earlier_month_shows_that_month(env):
    at = apptest.sign_in(apptest.app(), "exec")
    earlier = pd.Timestamp(DEMO_END) - pd.offsets.MonthEnd(6)
    at.selectbox[0].select(earlier).run()
    assert {m.label: m.value for m in at.metric}["Customers"] == figures(env, Scope.all_branches(), earlier)["Customers"]


def test_without_a_store_the_app_says_how_to_make_one(tmp_path, monkeypatch):
    monkeypatch.setenv("BANKCRM_STORE", str(tmp_path / "none.duckdb"))
    at = apptest.app().run()
    assert not at.exception
    assert "bankcrm generate" in at.error[0].value
