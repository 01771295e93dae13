"""The app under Streamlit's AppTest: the Overview shows the store's own figures."""

from __future__ import annotations

import ibis
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from analytics import format as fmt
from analytics import kpis
from analytics.scope import Scope, ScopedStore

from .conftest import DEMO_END, ROOT


@pytest.fixture
def app(demo_store, monkeypatch):
    monkeypatch.setenv("BANKCRM_STORE", str(demo_store))
    return AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)


def test_overview_shows_the_kpis_the_analytics_compute(app, demo_store):
    app.run()
    assert not app.exception
    tables = ScopedStore(ibis.duckdb.connect(str(demo_store), read_only=True), Scope.all_branches())
    shown = {m.label: m.value for m in app.metric}
    for kpi in kpis.KPIS.values():
        snap = kpis.snapshot(kpi.fn(tables), pd.Timestamp(DEMO_END))
        assert shown[kpi.label_en] == fmt.BY_UNIT[kpi.unit](snap.value), kpi.key
    assert len(app.get("plotly_chart")) == 1


def test_choosing_an_earlier_month_shows_that_month(app, demo_store):
    app.run()
    earlier = pd.Timestamp(DEMO_END) - pd.offsets.MonthEnd(6)
    app.selectbox[0].select(earlier).run()
    tables = ScopedStore(ibis.duckdb.connect(str(demo_store), read_only=True), Scope.all_branches())
    expected = kpis.snapshot(kpis.customers(tables), earlier).value
    assert {m.label: m.value for m in app.metric}["Customers"] == fmt.count(expected)


def test_without_a_store_the_app_says_how_to_make_one(tmp_path, monkeypatch):
    monkeypatch.setenv("BANKCRM_STORE", str(tmp_path / "none.duckdb"))
    app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()
    assert not app.exception
    assert "bankcrm generate" in app.error[0].value
