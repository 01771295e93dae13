"""Tiers on the hand-built store (tests/handbuilt.py), worked out by hand, and totals on the demo store."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import strategies as st

from analytics import kpis, tiers
from analytics.filters import Filters, Slice
from analytics.rules import TIERS, RuleSet
from analytics.schema import CHANNELS, PRODUCTS
from analytics.scope import Scope, ScopedStore

from . import engines

JUNE, JULY = dt.date(2024, 6, 30), dt.date(2024, 7, 31)
# customer 1's 3-month average AUM: 5,000 in June, 6,000 in July; customer 3's: 50
NARROW = RuleSet(version=7, tier_cutoffs_cny=(100, 5_500, 10_000))


def sliced(backend, filters=Filters(), rules=RuleSet()):
    return Slice(ScopedStore(backend, Scope.all_branches()), filters, rules)


def test_summary_counts_customers_not_churned_by_tier_at_the_as_of_month(backend):
    frame = tiers.summary(sliced(backend))  # July: customers 2 and 3 have churned
    assert list(frame.tier) == list(TIERS)
    assert list(frame.customers) == [1, 0, 0, 0] and list(frame.aum_cny) == [7000, 0, 0, 0]
    assert frame.customers_share.iloc[0] == 1.0


def test_the_rule_set_decides_the_tier(backend):
    frame = tiers.summary(sliced(backend, Filters(end=JUNE), NARROW)).set_index("tier")
    assert frame.customers.to_dict() == {"Mass": 1, "Affluent": 1, "Wealth": 0, "Private": 0}
    assert frame.aum_cny.to_dict() == {"Mass": 50, "Affluent": 6000, "Wealth": 0, "Private": 0}


def test_migration_shows_who_moved_and_who_left(backend):
    moves = tiers.migration(sliced(backend, rules=NARROW), JUNE, JULY)
    assert {(r.from_tier, r.to_tier): r.customers for r in moves.itertuples()} == {
        ("Affluent", "Wealth"): 1,   # customer 1: 5,000 -> 6,000 average
        ("Mass", "Churned"): 1,      # customer 3: dormant 180 days in July
    }


def test_migration_counts_stayers(backend):
    moves = tiers.migration(sliced(backend), dt.date(2024, 1, 31), dt.date(2024, 2, 29))
    assert {(r.from_tier, r.to_tier): r.customers for r in moves.itertuples()} == {("Mass", "Mass"): 3}


def test_products_per_customer_and_cross_sold_share(backend):
    frame = tiers.products(sliced(backend)).set_index("tier")
    assert frame.loc["Mass", "products_per_customer"] == 2  # a current account and a fund
    assert frame.loc["Mass", "cross_sold_share"] == 1.0
    assert frame.loc["Wealth", "customers"] == 0


def test_lifecycle_stage_by_tier(backend):
    frame = tiers.lifecycle(sliced(backend, Filters(end=JUNE)))
    # customer 1: last transaction 28 Apr, 63 days: Active; customer 3: 5 Jan, 177 days: Dormant
    assert {(r.tier, r.stage): (r.customers, r.share) for r in frame.itertuples()} == {
        ("Mass", "Active"): (1, 0.5), ("Mass", "Dormant"): (1, 0.5)}  # each half of the tier


@pytest.fixture(scope="module")
def demo(demo_store, connect):
    backend = connect(demo_store)
    regions = tuple(backend.table("branches").region.execute().unique())
    return backend, regions


def filters_strategy(regions):
    subset = lambda values: st.lists(st.sampled_from(values), max_size=2, unique=True).map(tuple)
    return st.builds(Filters, regions=subset(regions), tiers=subset(TIERS), products=subset(PRODUCTS),
                     channels=subset(CHANNELS))


def test_totals_across_tiers_equal_the_whole(demo, engine):
    @engines.properties(engine, examples=20)
    def check(data):
        backend, regions = demo
        filters = data.draw(filters_strategy(regions))
        sl = Slice(ScopedStore(backend, Scope.all_branches()), filters)
        summary = tiers.summary(sl)
        whole = kpis.customers(sl)
        as_of = sl.as_of().execute()
        customers_then = whole[whole.month == as_of].value.sum()
        assert summary.customers.sum() == customers_then
        assert summary.aum_cny.sum() == pytest.approx(kpis.aum(sl)[lambda f: f.month == as_of].value.sum())
        by_branch = tiers.by_branch(sl)
        assert by_branch.customers.sum() == customers_then

    check()
