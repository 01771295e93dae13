"""Tiers: who is Mass, Affluent, Wealth or Private, how that changes, and what they hold.

A customer's tier at a month-end is the active rule set's tier of their
3-month average AUM (analytics.rules.tier); churned customers have no tier.
The figures at the as-of month add up the tier_month mart's parts (analytics.measures); the migration between
two months follows each customer, from customer_month.
"""

from __future__ import annotations

import datetime as dt

import ibis.expr.types as ir
import pandas as pd
from ibis import _

from analytics import measures
from analytics.filters import Slice
from analytics.rules import ALL_TIERS, STAGES, tier
from analytics.tags import TAGS

NEW, GONE = STAGES[0], STAGES[4]  # migration from nowhere / to nowhere


def tiered(sl: Slice, month: ir.DateScalar | dt.date | None = None) -> ir.Table:
    """customer_month rows of customers not churned at the month (default: the as-of month), with their tier."""
    cm = sl.table("customer_month")
    at = cm.filter((cm.month == (sl.as_of() if month is None else month)) & ~cm.is_churned)
    return at.mutate(tier=tier(at, sl.rules))


def _at_as_of(sl: Slice) -> ir.Table:
    """The tier_month mart's parts at the as-of month, for the slice."""
    tm = measures.parts(sl, measures.TIER_MONTH)
    return tm.filter(tm.month == sl.as_of())


def _every_tier(frame: pd.DataFrame, columns: list[str], sl: Slice) -> pd.DataFrame:
    """One row per tier of the rule set in tier order, zero where a tier has nobody."""
    return (frame.set_index("tier").reindex(list(sl.rules.tiers)).fillna({c: 0 for c in columns})
            .astype({c: "int64" for c in columns if c in ("customers",)}).reset_index())


def summary(sl: Slice) -> pd.DataFrame:
    """Customers and AUM per tier at the as-of month, with each tier's share of the whole."""
    t = _at_as_of(sl)
    frame = t.group_by("tier").agg(customers=_.customers.sum(), aum_cny=_.aum_cny.sum()).execute()
    frame = _every_tier(frame, ["customers", "aum_cny"], sl)
    frame["customers_share"] = frame.customers / frame.customers.sum() if frame.customers.sum() else float("nan")
    frame["aum_share"] = frame.aum_cny / frame.aum_cny.sum() if frame.aum_cny.sum() else float("nan")
    return frame


def by_branch(sl: Slice) -> pd.DataFrame:
    """Customers and AUM per branch and tier at the as-of month."""
    t = _at_as_of(sl)
    counts = t.group_by("branch_code", "tier").agg(customers=_.customers.sum(), aum_cny=_.aum_cny.sum())
    branches = sl.table("branches").select("branch_code", "name", "name_en")
    return counts.join(branches, "branch_code").order_by(["branch_code", "tier"]).execute()


def migration(sl: Slice, from_month: dt.date, to_month: dt.date) -> pd.DataFrame:
    """Customers by tier at `from_month` and at `to_month`: `New` for those not yet customers
    (or without data) at the first month, `Churned` for those churned (or gone) by the second."""
    before = tiered(sl, from_month).select("customer_id", from_tier=_.tier)
    after = tiered(sl, to_month).select("customer_id", to_tier=_.tier)
    moves = before.outer_join(after, before.customer_id == after.customer_id).select(
        from_tier=_.from_tier.fill_null(NEW), to_tier=_.to_tier.fill_null(GONE))
    frame = moves.group_by("from_tier", "to_tier").agg(customers=_.count()).execute()
    order = {name: i for i, name in enumerate((NEW, *ALL_TIERS, GONE))}
    return frame.sort_values(["from_tier", "to_tier"], key=lambda s: s.map(order)).reset_index(drop=True)


def products(sl: Slice) -> pd.DataFrame:
    """Products held per customer by tier at the as-of month (the cross-sell ratio), and the share of
    customers holding at least the rule set's cross-sell number of products."""
    t = _at_as_of(sl).group_by("tier").agg(customers=_.customers.sum(), products_held=_.products_held.sum(),
                                            cross_sold=_.cross_sold.sum())
    frame = t.select("tier", "customers", products_per_customer=measures.rate(t.products_held, t.customers),
                     cross_sold_share=measures.rate(t.cross_sold, t.customers)).execute()
    return _every_tier(frame, ["customers"], sl)


def lifecycle(sl: Slice) -> pd.DataFrame:
    """Customers per tier and lifecycle stage at the as-of month (churned customers excluded), and the stage's
    share of the tier's customers."""
    t = _at_as_of(sl)
    frame = t.group_by("tier", "stage").agg(customers=_.customers.sum()).order_by(["tier", "stage"]).execute()
    return frame.assign(share=frame.customers / frame.groupby("tier").customers.transform("sum"))


def tag_prevalence(sl: Slice) -> pd.DataFrame:
    """Per tier at the as-of month and behaviour tag: customers, tagged customers and the share tagged, in
    tier and tag order (tags are as of each customer's latest month-end)."""
    t = _at_as_of(sl)
    counts = t.group_by("tier").agg(customers=_.profiled.sum(), **{tag: t[tag].sum() for tag in TAGS})
    counts = counts.filter(counts.customers > 0).execute()
    long = counts.melt(id_vars=["tier", "customers"], value_vars=list(TAGS), var_name="tag", value_name="tagged")
    long = long.astype({"customers": "int64", "tagged": "int64"}).assign(share=lambda f: f.tagged / f.customers)
    order = {"tier": {name: i for i, name in enumerate(ALL_TIERS)}, "tag": {name: i for i, name in enumerate(TAGS)}}
    return long.sort_values(["tier", "tag"], key=lambda s: s.map(order[s.name])).reset_index(drop=True)
