"""The marts hold the same figures as the raw tables (#25 items 1-2).

Every page's figures, as the pages ask for them (analytics.views.calls), computed once from the marts and once
with `analytics.measures.served` answering no, so that every mart's parts are made from the slice's raw rows with
the same definitions: on the hand-built store and on a generated one, on DuckDB and on Spark, for the bank, a
branch head, and filters the marts serve (a region, a branch, channels, a period) and one they do not (a tier).
"""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from analytics import churn, marts, measures, schema, store, tiers, views
from analytics.filters import Filters, Slice, options
from analytics.rules import DEFAULT_RULES, RuleSet
from analytics.scope import AGGREGATED, Scope, ScopedStore

from . import engines
from .test_engines import assert_same

SCOPES = {"the bank": Scope.all_branches(role="executive"), "a branch head": Scope.for_branches({"SH01", "BJ01"})}


def figures(backend, scope: Scope, chosen: dict) -> dict[str, object]:
    tables = ScopedStore(backend, scope)
    offered = options(tables)
    filters = Filters(start=offered.months[max(0, len(offered.months) - 13)], end=offered.months[-1], **chosen)
    out = {}
    for page, calls in views.calls(offered.months, filters).items():
        for fn, f, args in calls:
            out[f"{page}: {fn.__module__}.{fn.__name__}{args}"] = fn(Slice(tables, f, DEFAULT_RULES), *args)
    return out


FILTERS = {
    "default": {},
    "a region": {"regions": ("华东",)},
    "a branch": {"branches": ("SH01",)},
    "channels": {"channels": ("app", "branch")},
    "a tier (from raw rows either way)": {"tiers": ("Mass",)},
}


def assert_marts_equal_raw(backend, scope: Scope, chosen: dict, monkeypatch) -> None:
    from_marts = figures(backend, scope, chosen)
    with monkeypatch.context() as raw:
        raw.setattr(measures, "served", lambda sl: False)
        from_raw = figures(backend, scope, chosen)
    assert from_marts.keys() == from_raw.keys()
    assert sum(isinstance(v, pd.DataFrame) and len(v) > 0 for v in from_marts.values()) >= 15
    for name in from_marts:
        assert_same(from_marts[name], from_raw[name], name)


@pytest.mark.parametrize("chosen", FILTERS)
@pytest.mark.parametrize("scope", SCOPES)
@pytest.mark.parametrize("store", ["hand", "demo"])
def test_every_page_s_figures_from_the_marts_equal_those_from_the_raw_tables(
        store, scope, chosen, hand_store, demo_store, monkeypatch):
    backend = engines.duckdb_connect(hand_store if store == "hand" else demo_store)
    assert_marts_equal_raw(backend, SCOPES[scope], FILTERS[chosen], monkeypatch)


@pytest.mark.parametrize("store", ["hand", "demo"])
def test_on_spark_too_the_marts_hold_the_raw_tables_figures(store, connect, hand_store, demo_store, monkeypatch):
    """The same on both engines (each Spark query takes about a second: the bank and a branch head's choices)."""
    backend = connect(hand_store if store == "hand" else demo_store)
    assert_marts_equal_raw(backend, SCOPES["the bank"], FILTERS["a branch"], monkeypatch)


def test_the_comparison_sees_a_mart_that_holds_other_figures(demo_store, connect, monkeypatch):
    """A mart that counted every answer as a promoter would fail the comparison above."""
    backend = connect(demo_store)
    tables = ScopedStore(backend, SCOPES["the bank"])
    marts_nps = Slice(tables, Filters(), DEFAULT_RULES)
    from analytics import satisfaction

    right = satisfaction.nps_by_month(marts_nps)
    monkeypatch.setattr(measures, "PROMOTER_MIN", 0)  # the raw rows now say every answer is a promoter
    monkeypatch.setattr(measures, "served", lambda sl: False)
    with pytest.raises(AssertionError):
        assert_same(right, satisfaction.nps_by_month(marts_nps), "NPS by month")


def test_the_marts_hold_no_customer_and_are_served_by_branch():
    for name in AGGREGATED:
        assert schema.BUILT[name].data_class == schema.C1 and not schema.BUILT[name].masks
    assert {m.name for m in measures.MARTS} == set(AGGREGATED)


def test_a_mart_refuses_a_filter_it_cannot_serve(backend):
    sl = Slice(ScopedStore(backend, SCOPES["the bank"]), Filters(tiers=("Mass",)), DEFAULT_RULES)
    with pytest.raises(ValueError, match="tier, product or tag"):
        sl.table("branch_month")
    assert not measures.served(sl)


PROPOSAL = dataclasses.replace(DEFAULT_RULES, version=3, tier_cutoffs_cny=(30_000, 300_000, 3_000_000),
                               potential_aum_rise_share=0.2, dormant_days=60, cross_sell_products=2,
                               tag_investment_share=0.2)


def tier_figures(path: Path, rules: RuleSet) -> dict[str, object]:
    sl = Slice(ScopedStore(engines.duckdb_connect(path), SCOPES["a branch head"]), Filters(), rules)
    return {fn.__name__: fn(sl) for fn in (tiers.summary, tiers.by_branch, tiers.products, tiers.lifecycle,
                                            tiers.tag_prevalence)} | {"churn": churn.rate_by(sl, "tier")}


def test_the_tier_mart_is_built_with_the_rules_in_force_and_read_only_under_them(demo_store, tmp_path):
    """tier_month depends on the rule set: built with the one in force, it serves slices under those rules only;
    under any other the figures come from the raw rows, so that a what-if or a new approval never reads another
    rule set's tiers. `bankcrm migrate` (and so an approval: tests/test_studio.py) rebuilds it with new rules."""
    copy = tmp_path / "copy.duckdb"
    shutil.copy2(demo_store, copy)
    assert store.upgrade(copy) == (store.latest_version(),) * 2
    before = {rules.version: tier_figures(copy, rules) for rules in (DEFAULT_RULES, PROPOSAL)}
    assert before[0]["summary"].customers.tolist() != before[3]["summary"].customers.tolist()  # rules that matter

    mtime = copy.stat().st_mtime_ns
    store.upgrade(copy, rules=DEFAULT_RULES)  # the rules it was built with: the store is not touched
    assert copy.stat().st_mtime_ns == mtime
    store.upgrade(copy, rules=PROPOSAL)
    with duckdb.connect(str(copy), read_only=True) as con:
        assert marts.kept_rules(con) == PROPOSAL
        assert con.table("tier_month").aggregate("count(DISTINCT tier)").fetchone()[0] == len(PROPOSAL.tiers)
    after = {rules.version: tier_figures(copy, rules) for rules in (DEFAULT_RULES, PROPOSAL)}
    for version in before:
        for name in before[version]:
            assert_same(after[version][name], before[version][name], f"rules {version}: {name}")


CUSTOMER_ROWS = {"customer_month", "customer_current", "churn_scores", "product_scores", "customer_segments",
                 *schema.IMPORTABLE} - {"branches", "relationship_managers", "campaigns"}


def test_the_views_read_rows_of_customers_only_where_the_benchmark_report_says(demo_store):
    """Every view call reads the marts but those analytics.views.RAW_READS names (and the report prints)."""
    read: set[str] = set()

    class Recorded(ScopedStore):
        def table(self, name):
            read.add(name)
            return super().table(name)

    tables = Recorded(engines.duckdb_connect(demo_store), SCOPES["the bank"])
    offered = options(tables)
    filters = Filters(start=offered.months[-13], end=offered.months[-1])
    raw = set()
    for calls in views.calls(offered.months, filters).values():
        for fn, f, args in calls:
            read.clear()
            fn(Slice(tables, f, DEFAULT_RULES), *args)
            if read & CUSTOMER_ROWS:
                raw.add(f"{fn.__module__.removeprefix('analytics.')}.{fn.__name__}")
    assert raw == set(views.RAW_READS)
