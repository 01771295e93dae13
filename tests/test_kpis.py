"""KPIs on the hand-built store (tests/handbuilt.py), expected values worked out by hand."""

from __future__ import annotations

import pandas as pd
import pytest

from analytics import kpis
from analytics.filters import Filters, Slice
from analytics.scope import Scope, ScopedStore


def values(frame):
    return [None if pd.isna(v) else v for v in frame["value"]]


def test_customers_not_churned_per_month(backend):
    frame = kpis.customers(Slice(ScopedStore(backend, Scope.all_branches())))
    assert values(frame) == [3, 3, 2, 2, 2, 2, 1]


def test_aum_of_customers_not_churned(backend):
    frame = kpis.aum(Slice(ScopedStore(backend, Scope.all_branches())))
    # Jan: 1000 + 500 + 50; Mar: customer 2 churned; Jul: customer 3 churned
    assert values(frame) == [1550, 2450, 3050, 4050, 5050, 6050, 7000]


def test_churn_rate_is_churned_over_customers_at_start_of_month(backend):
    frame = kpis.churn_rate(Slice(ScopedStore(backend, Scope.all_branches())))
    got = values(frame)
    assert got[0] is None  # no month before the first
    assert got[1:] == [0, pytest.approx(1 / 3), 0, 0, 0, pytest.approx(1 / 2)]


def test_nps_is_promoters_minus_detractors(backend):
    frame = kpis.nps(Slice(ScopedStore(backend, Scope.all_branches())))
    got = dict(zip(frame["month"].dt.strftime("%Y-%m"), frame["value"]))
    assert got == {"2024-02": 100.0, "2024-03": 100.0, "2024-06": -100.0}


def test_kpis_follow_the_scope(backend):
    only_sh = Slice(ScopedStore(backend, Scope.for_branches(["SH01"])))
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


def by_month(frame):
    return {m.strftime("%Y-%m"): (None if pd.isna(v) else v) for m, v in zip(pd.to_datetime(frame["month"]), frame["value"])}


def test_net_new_customers_is_opened_minus_churned(backend):
    # nobody opened in 2024; customer 2 churned in March, customer 3 in July
    frame = kpis.net_new_customers(Slice(ScopedStore(backend, Scope.all_branches())))
    assert values(frame) == [0, 0, -1, 0, 0, 0, -1]


def test_twelve_month_churn_needs_a_year_of_history(backend):
    frame = kpis.churn_rate_12m(Slice(ScopedStore(backend, Scope.all_branches())))
    assert values(frame) == [None] * 7  # seven months of data: no month has a start 12 months earlier


def test_csat_is_the_share_of_4_and_5_answers(backend):
    got = by_month(kpis.csat(Slice(ScopedStore(backend, Scope.all_branches()))))
    # Feb: a 4; Mar: a 5; Jun: a 2 and a 3
    assert got == {"2024-02": 1.0, "2024-03": 1.0, "2024-06": 0.0}


def test_complaint_sla_counts_resolved_complaints_by_month_of_resolution(backend):
    got = by_month(kpis.complaint_sla(Slice(ScopedStore(backend, Scope.all_branches()))))
    assert got == {"2024-05": 1.0}  # resolved in 2 days against 15; the July complaint is still open


def test_funnel_conversion_is_activations_over_new_leads_in_three_months(backend):
    got = by_month(kpis.funnel_conversion(Slice(ScopedStore(backend, Scope.all_branches()))))
    # new leads Jan 2 (101, 102), Feb 1 (103), Apr 1 (104), May 1 (105); activations Feb (101), May (105)
    assert got == {"2024-01": None, "2024-02": None, "2024-03": pytest.approx(1 / 3), "2024-04": 0.5,
                   "2024-05": 0.5, "2024-06": 0.5, "2024-07": 1.0}


def test_kpi_history_follows_the_filters(backend):
    wealth_fund_holders = Slice(ScopedStore(backend, Scope.all_branches()), Filters(products=("wealth_fund",)))
    assert values(kpis.customers(wealth_fund_holders)) == [1] * 7  # customer 1 holds the fund at July's end
    app_channel = Slice(ScopedStore(backend, Scope.all_branches()), Filters(channels=("app",)))
    assert by_month(kpis.nps(app_channel)) == {"2024-06": -100.0}  # the one app answer: NPS 3
