"""Monthly churn rate by tier and by branch on the hand-built store (tests/handbuilt.py), by hand."""

from __future__ import annotations

import datetime as dt

import pytest

from analytics import churn
from analytics.filters import Filters, Slice
from analytics.scope import Scope, ScopedStore


def rates(backend, group, filters=Filters()):
    frame = churn.rate_by(Slice(ScopedStore(backend, Scope.all_branches()), filters), group)
    return {(m.strftime("%Y-%m"), g): (c, n) for m, g, c, n in zip(frame.month, frame[group], frame.churned,
                                                                   frame.at_start)}


def test_churn_rate_by_branch_counts_the_branch_s_customers_at_the_start_of_the_month(backend):
    got = rates(backend, "branch")
    assert got["2024-03", "BJ01"] == (1, 2)   # customer 2 of customers 2 and 3
    assert got["2024-03", "SH01"] == (0, 1)
    assert got["2024-07", "BJ01"] == (1, 1)   # customer 3; customer 2 was gone before June ended
    assert ("2024-01", "SH01") not in got      # no month before the first to start from


def test_churn_rate_by_tier_uses_the_tier_at_the_start_of_the_month(backend):
    got = rates(backend, "tier")
    assert got["2024-03", "Mass"] == (1, 3) and got["2024-07", "Mass"] == (1, 2)
    assert {tier for _, tier in got} == {"Mass"}


def test_churn_rates_keep_to_the_period(backend):
    got = rates(backend, "tier", Filters(start=dt.date(2024, 6, 30), end=dt.date(2024, 7, 31)))
    assert sorted({month for month, _ in got}) == ["2024-06", "2024-07"]


def test_an_unknown_grouping_is_refused_by_name(backend):
    with pytest.raises(ValueError, match="churn rate by 'rm'"):
        churn.rate_by(Slice(ScopedStore(backend, Scope.all_branches())), "rm")
