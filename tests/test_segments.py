"""Segments found by k-means: reproducible, the number chosen by silhouette, everyone assigned, named by
their traits; profiles and the cross-table with the tiers read through the scope."""

from __future__ import annotations

import json

import duckdb
import numpy as np
import pandas as pd
import pytest

from analytics import segments, tiers
from analytics.filters import Filters, Slice
from analytics.scope import Scope, ScopedStore
from analytics.tags import TAGS, tagged

# Four kinds of customer, far apart: (days since the last transaction, transactions a month, AUM,
# products, digital logins a month)
KINDS = {
    "wealthy digital": (2, 30, 2_000_000, 6, 40),
    "dormant": (400, 0, 300, 1, 0),
    "everyday": (5, 12, 30_000, 2, 3),
    "branch savers": (20, 2, 800_000, 3, 0),
}


def blobs(per_kind: int = 400, seed: int = 1) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    rows, kinds = [], []
    for i, values in enumerate(KINDS.values()):
        noise = rng.normal(1, 0.08, size=(per_kind, 5))
        rows.append(np.array(values, dtype=float) * noise)
        kinds += [i] * per_kind
    frame = pd.DataFrame(np.vstack(rows), columns=list(segments.FEATURES))
    frame.insert(0, "customer_id", range(1, len(frame) + 1))
    return frame, np.array(kinds)


def test_the_number_of_segments_is_chosen_by_silhouette_within_the_range():
    frame, kinds = blobs()
    labels, found = segments.fit(frame)
    assert set(found.k) == {4}
    tried = json.loads(found.silhouettes_json.iloc[0])
    assert [int(k) for k in tried] == list(range(segments.K_RANGE[0], segments.K_RANGE[1] + 1))
    assert max(tried, key=tried.get) == "4" and found.silhouette.iloc[0] == tried["4"]
    # each kind is exactly one segment
    assert pd.crosstab(labels, kinds).gt(0).sum(axis=1).eq(1).all()


def test_the_same_data_and_seed_give_the_same_segments():
    frame, _ = blobs(seed=2)
    one_labels, one = segments.fit(frame, seed=5)
    two_labels, two = segments.fit(frame.sample(frac=1, random_state=0).sort_values("customer_id"), seed=5)
    assert (one_labels == two_labels).all()
    pd.testing.assert_frame_equal(one, two)


def test_every_customer_is_assigned_though_k_means_sees_a_sample(monkeypatch):
    monkeypatch.setattr(segments, "FIT_SAMPLE", 300)
    monkeypatch.setattr(segments, "SILHOUETTE_SAMPLE", 200)
    frame, kinds = blobs(per_kind=1000)
    labels, found = segments.fit(frame)
    assert len(labels) == len(frame) and set(labels) == set(found.segment) == {1, 2, 3, 4}
    assert found.customers.sum() == len(frame) and found.customers.is_monotonic_decreasing  # numbered by size
    assert pd.crosstab(labels, kinds).gt(0).sum(axis=1).eq(1).all()


def test_segments_are_named_by_their_most_distinctive_traits_in_both_languages():
    frame, kinds = blobs()
    labels, found = segments.fit(frame)
    name_of = {kind: found.set_index("segment").loc[pd.Series(labels[kinds == i]).mode()[0]]
               for i, kind in enumerate(KINDS)}
    centre = json.loads(name_of["dormant"].centre_json)
    assert centre["days_since_last_txn"] > 1 and centre["aum_cny"] < -1
    assert name_of["dormant"].name_en.startswith("Long inactive") and name_of["dormant"].name_zh.startswith("长期未交易")
    assert found.name_en.is_unique and found.name_zh.is_unique


def test_names_take_the_two_traits_furthest_from_average_then_a_third_to_tell_apart():
    base = dict.fromkeys(segments.FEATURES, 0.0)
    centres = [
        {**base, "aum_cny": 1.8, "products_held": 1.1, "digital_logins_per_month": 0.4},
        {**base, "aum_cny": 1.5, "products_held": 1.2, "digital_logins_per_month": -0.9},
        {**base, "days_since_last_txn": 2.0, "txns_per_month": -1.4},
        {**base, "aum_cny": 0.1},
    ]
    assert segments._names(centres) == [
        ("High balances, many products, digital", "高资产、多产品、常用线上渠道"),
        ("High balances, many products, offline", "高资产、多产品、线下为主"),
        ("Long inactive, few transactions", "长期未交易、交易少"),
        ("Typical customers", "普通客户"),
    ]


def test_too_few_customers_find_no_segments():
    frame, _ = blobs(per_kind=7)  # 28 customers: fewer than 10 for each of 3 segments
    labels, found = segments.fit(frame)
    assert found.empty and len(labels) == len(frame)


def test_customers_who_all_look_the_same_find_no_segments():
    """A bank that imported customers but no balances yet: every customer's features are the same."""
    frame = pd.DataFrame({"customer_id": range(1, 1001), **dict.fromkeys(segments.FEATURES, 0.0)})
    labels, found = segments.fit(frame)
    assert found.empty


@pytest.fixture(scope="module")
def demo(connect, demo_store):
    return connect(demo_store)


def test_the_marts_assign_every_customer_not_churned(demo_store):
    con = duckdb.connect(str(demo_store), read_only=True)
    try:
        current = con.execute("SELECT count(*) FROM customer_current WHERE NOT is_churned").fetchone()[0]
        assigned = con.execute("SELECT count(*), count(DISTINCT customer_id) FROM customer_segments").fetchone()
        k, sizes = con.execute("SELECT max(k), sum(customers) FROM found_segments").fetchone()
        per = con.execute("SELECT segment, count(*) FROM customer_segments GROUP BY ALL ORDER BY 1").fetchall()
    finally:
        con.close()
    assert assigned == (current, current) and sizes == current
    assert segments.K_RANGE[0] <= k <= segments.K_RANGE[1] and [s for s, _ in per] == list(range(1, k + 1))


def test_profiles_and_the_tier_cross_table_follow_the_scope(demo):
    bank = Slice(ScopedStore(demo, Scope.all_branches()))
    branch = Slice(ScopedStore(demo, Scope.for_branches({"SH01"})))
    everyone, mine = segments.profiles(bank), segments.profiles(branch)
    current = tagged(bank).count().execute()
    assert everyone.customers.sum() == current
    assert mine.customers.sum() == tagged(branch).count().execute() < current
    assert mine.share.sum() == pytest.approx(1)
    # the medians are the branch's, not the bank's
    sh01 = tagged(branch).execute()
    assert mine.bank_products_held.iloc[0] == sh01.products_held.median()
    # the most common tags of a segment, with their share of it
    one = mine.iloc[0]
    assigned = branch.table("customer_segments")
    members = set(assigned.filter(assigned.segment == int(one.segment)).customer_id.execute())
    in_segment = sh01[sh01.customer_id.isin(members)]
    shares = {tag: in_segment[tag].mean() for tag in TAGS}
    assert [tag for tag, _ in one.top_tags] == sorted(shares, key=lambda tag: -shares[tag])[:segments.TOP_TAGS]
    assert one.top_tags[0][1] == pytest.approx(shares[one.top_tags[0][0]], abs=1e-4)
    spread = segments.by_tier(branch)
    assert spread.customers.sum() == tiers.summary(branch).customers.sum()
    assert set(spread.segment) <= set(everyone.segment)


def test_filters_narrow_the_profiles(demo):
    sl = Slice(ScopedStore(demo, Scope.all_branches()), Filters(tiers=("Wealth",)))
    wealth = segments.profiles(sl)
    assert wealth.customers.sum() == tiers.summary(sl).customers.sum()
    assert segments.model(sl)["k"] == segments.model(Slice(ScopedStore(demo, Scope.all_branches())))["k"]
