"""The global filters: what a link carries, and what each filter keeps (hand-built store)."""

from __future__ import annotations

import datetime as dt

import pytest

from analytics.filters import BadFilter, Filters, Slice
from analytics.scope import Scope, ScopedStore


def customer_ids(backend, filters, name="customers", scope=Scope.all_branches()):
    t = Slice(ScopedStore(backend, scope), filters).table(name)
    return sorted(set(t.customer_id.execute()))


def test_a_link_carries_the_filters_and_reads_back_the_same():
    filters = Filters(start=dt.date(2024, 1, 31), end=dt.date(2024, 6, 30), regions=("华东",), branches=("SH01",),
                      tiers=("Wealth", "Mass"), products=("loan",), channels=("app",))
    assert Filters.from_query(filters.to_query()) == filters
    assert filters.to_query()["tiers"] == "Mass,Wealth"  # sorted: the same choice is the same link and cache key


@pytest.mark.parametrize("query, problem", [
    ({"tiers": "Gold"}, "tiers: unknown 'Gold'"),
    ({"products": "loan,yacht"}, "products: unknown 'yacht'"),
    ({"end": "June"}, "end: 'June' is not a date"),
    ({"start": "2024-06-30", "end": "2024-01-31"}, "period: start 2024-06-30 is after end 2024-01-31"),
])
def test_a_bad_link_is_refused_naming_the_parameter(query, problem):
    with pytest.raises(BadFilter, match=problem):
        Filters.from_query(query)


def test_each_filter_narrows_the_customers(backend):
    assert customer_ids(backend, Filters()) == [1, 2, 3]
    assert customer_ids(backend, Filters(regions=("华北",))) == [2, 3]
    assert customer_ids(backend, Filters(branches=("SH01",))) == [1]
    assert customer_ids(backend, Filters(products=("wealth_fund",))) == [1]     # opened 2024-02-10
    assert customer_ids(backend, Filters(products=("wealth_fund",), end=dt.date(2024, 1, 31))) == []
    assert customer_ids(backend, Filters(tiers=("Mass",), end=dt.date(2024, 6, 30))) == [1, 3]
    assert customer_ids(backend, Filters(tiers=("Affluent",))) == []


def test_tables_of_a_customer_follow_the_customer_filters(backend):
    assert customer_ids(backend, Filters(branches=("BJ01",)), "surveys") == [2, 3]
    assert customer_ids(backend, Filters(branches=("BJ01",)), "funnel_events") == [2, 3]


def test_channel_narrows_events_not_customers(backend):
    assert customer_ids(backend, Filters(channels=("app",)), "surveys") == [1]          # the June app answer
    assert customer_ids(backend, Filters(channels=("app",)), "funnel_events") == [1, 2, 3]  # campaign C1 is app
    assert customer_ids(backend, Filters(channels=("branch",)), "funnel_events") == [1, 3]  # campaign C2
    assert customer_ids(backend, Filters(channels=("app",))) == [1, 2, 3]


def test_filters_never_widen_the_scope(backend):
    only_sh = Scope.for_branches(["SH01"])
    assert customer_ids(backend, Filters(branches=("BJ01",)), scope=only_sh) == []
    assert customer_ids(backend, Filters(regions=("华北",)), "surveys", scope=only_sh) == []


def test_any_day_of_a_month_means_its_month_end():
    assert Filters(start=dt.date(2024, 2, 3), end=dt.date(2024, 6, 15)) == Filters(start=dt.date(2024, 2, 29),
                                                                                  end=dt.date(2024, 6, 30))
