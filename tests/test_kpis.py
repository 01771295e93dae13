"""KPIs on the hand-built store (tests/handbuilt.py), expected values worked out by hand."""

from __future__ import annotations


import ibis
import pandas as pd
import pytest

from analytics import kpis
from analytics.scope import Scope, ScopedStore

from . import handbuilt


@pytest.fixture(scope="module")
def backend(tmp_path_factory):
    path = handbuilt.build(tmp_path_factory.mktemp("hand") / "hand.duckdb")
    return ibis.duckdb.connect(str(path), read_only=True)


def values(frame):
    return [None if pd.isna(v) else v for v in frame["value"]]


def test_customers_not_churned_per_month(backend):
    frame = kpis.customers(ScopedStore(backend, Scope.all_branches()))
    assert values(frame) == [3, 3, 2, 2, 2, 2, 1]


def test_aum_of_customers_not_churned(backend):
    frame = kpis.aum(ScopedStore(backend, Scope.all_branches()))
    # Jan: 1000 + 500 + 50; Mar: customer 2 churned; Jul: customer 3 churned
    assert values(frame) == [1550, 2450, 3050, 4050, 5050, 6050, 7000]


def test_churn_rate_is_churned_over_customers_at_start_of_month(backend):
    frame = kpis.churn_rate(ScopedStore(backend, Scope.all_branches()))
    got = values(frame)
    assert got[0] is None  # no month before the first
    assert got[1:] == [0, pytest.approx(1 / 3), 0, 0, 0, pytest.approx(1 / 2)]


def test_nps_is_promoters_minus_detractors(backend):
    frame = kpis.nps(ScopedStore(backend, Scope.all_branches()))
    got = dict(zip(frame["month"].dt.strftime("%Y-%m"), frame["value"]))
    assert got == {"2024-02": 100.0, "2024-03": 100.0, "2024-06": -100.0}


def test_kpis_follow_the_scope(backend):
    only_sh = ScopedStore(backend, Scope.for_branches(["SH01"]))
    assert values(kpis.customers(only_sh)) == [1] * 7
    got = dict(zip(kpis.nps(only_sh)["month"].dt.strftime("%Y-%m"), kpis.nps(only_sh)["value"]))
    assert got == {"2024-03": 100.0, "2024-06": -100.0}


def test_snapshot_reads_month_previous_and_year_ago():
    series = pd.DataFrame({"month": pd.to_datetime(["2023-07-31", "2024-06-30", "2024-07-31"]), "value": [5.0, 8.0, 10.0]})
    snap = kpis.snapshot(series, pd.Timestamp("2024-07-31"))
    assert (snap.value, snap.previous, snap.year_ago, snap.change, snap.change_year) == (10.0, 8.0, 5.0, 2.0, 5.0)
    missing = kpis.snapshot(series, pd.Timestamp("2024-06-30"))
    assert missing.previous is None and missing.change is None


def test_every_kpi_has_definitions_in_both_languages():
    for kpi in kpis.KPIS.values():
        assert kpi.definition_en and kpi.definition_zh and kpi.label_en and kpi.label_zh
