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


def by_branch(churned: dict[str, tuple[int, int]], at_start: dict[str, tuple[int, int]]):
    """rate_by(sl, "branch")'s frame for two months, built by hand."""
    import pandas as pd

    months = [dt.date(2026, 1, 31), dt.date(2026, 2, 28)]
    rows = [(m, b, churned[b][i], at_start[b][i]) for b in churned for i, m in enumerate(months)]
    frame = pd.DataFrame(rows, columns=["month", "branch", "churned", "at_start"])
    return frame.assign(value=frame.churned / frame.at_start)


def test_the_branches_churning_most_and_least_over_the_period_are_marked_from_their_pooled_rates():
    churned = {f"B{i}": (i, i) for i in range(1, 9)} | {"B3": (0, 12)}  # B3: 6% over its two months
    at_start = {f"B{i}": (100, 100) for i in range(1, 9)} | {"B8": (400, 100)}  # B8: 16 of 500, 3.2%
    ranked = churn.extremes(by_branch(churned, at_start), n=3)
    assert list(ranked.branch) == ["B7", "B3", "B6", "B5", "B4", "B8", "B2", "B1"]  # highest first
    assert list(ranked.mark) == ["highest"] * 3 + [""] * 2 + ["lowest"] * 3
    assert ranked.set_index("branch").value["B8"] == pytest.approx(16 / 500)


def test_with_few_branches_every_one_is_marked():
    ranked = churn.extremes(by_branch({"A": (1, 1), "B": (3, 3)}, {"A": (100, 100), "B": (100, 100)}), n=3)
    assert list(ranked.mark) == ["highest", "lowest"] and list(ranked.branch) == ["B", "A"]


def test_all_groups_together_churn_at_their_churned_over_their_customers_at_start():
    bank = churn.pooled(by_branch({"A": (1, 0), "B": (3, 5)}, {"A": (100, 50), "B": (300, 150)}), "month")
    assert list(bank.churned) == [4, 5] and list(bank.at_start) == [400, 200]
    assert list(bank.value) == [0.01, 0.025]
