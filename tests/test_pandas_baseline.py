"""The benchmark's pandas baseline answers every page query exactly as the analytics do, on the demo store."""

from __future__ import annotations

import ibis
import pandas as pd
import pytest

from analytics import churn
from analytics.filters import Filters, Slice, default_period, options
from analytics.rules import DEFAULT_RULES
from analytics.scope import Scope, ScopedStore
from bankcrm import pandas_baseline
from bankcrm.pandas_baseline import QUERIES


@pytest.fixture(scope="module")
def tables(demo_store) -> ScopedStore:
    return ScopedStore(ibis.duckdb.connect(str(demo_store), read_only=True), Scope.all_branches(pii="shown"))


@pytest.fixture(scope="module")
def frames(demo_store) -> pandas_baseline.Frames:
    return pandas_baseline.load(demo_store)


@pytest.fixture(scope="module", params=["default period", "default period, one branch", "every month"])
def filters(request, tables) -> Filters:
    found = options(tables)
    start, end = default_period(found.months)
    return {"default period": Filters(start=start, end=end),
            "default period, one branch": Filters(start=start, end=end, branches=(found.branches.branch_code.iloc[0],)),
            "every month": Filters()}[request.param]


def assert_same(pandas_result: pd.DataFrame, analytics_result: pd.DataFrame) -> None:
    assert not analytics_result.empty  # an empty comparison would prove nothing
    pd.testing.assert_frame_equal(pandas_result.reset_index(drop=True), analytics_result.reset_index(drop=True),
                                  check_dtype=False, rtol=1e-9)


@pytest.mark.parametrize("query", QUERIES, ids=lambda q: f"{q.page}: {q.name}")
def test_pandas_baseline_returns_what_the_analytics_return(query, tables, frames, filters):
    expected = query.analytics_fn(Slice(tables, filters, DEFAULT_RULES), *query.args)
    assert_same(query.pandas_fn(frames, filters, *query.args), expected)


@pytest.mark.parametrize("group", churn.GROUPS)
def test_churn_rate_by_either_group_matches(group, tables, frames, filters):
    expected = churn.rate_by(Slice(tables, filters, DEFAULT_RULES), group)
    assert_same(pandas_baseline.churn_rate_by(frames, filters, group), expected)


def test_a_filter_the_baseline_does_not_mirror_is_refused(frames):
    with pytest.raises(ValueError, match="channels"):
        pandas_baseline.customers(frames, Filters(channels=("app",)))
