"""What-if: the effect of a rule set against another, before anything is saved.

A `Study` copies the as-of month of one slice (customers not churned, the
columns the rules read, the latest churn probability) once into a private
in-memory DuckDB. Each comparison then runs the same `rules.tier` and
`rules.stage` expressions every page uses, for both rule sets, in one grouped
query over that copy: a slider move does not touch the store. The copy
is built through the slice, so it holds only the scope's customers, with
names masked as the scope requires. It holds the figures the behaviour tags
read too, so a comparison also counts the customers carrying each tag.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass

import ibis
import ibis.expr.types as ir
import pandas as pd
from ibis import _

from analytics.filters import Slice
from analytics.portfolio import current
from analytics.rules import ALL_TIERS, HIGH_TIERS, STAGES, RuleSet, stage, tier, tiers_of
from analytics.tags import FIGURES, TAGS, flags, profiles

COLUMNS = ("customer_id", "branch_code", "rm_id", "aum_cny", "aum_3m_avg_cny", "aum_3m_ago_cny", "txn_count",
           "days_since_last_txn", "tenure_months", "products_held", "is_churned", "probability")
# The tag figures not already among COLUMNS (which hold the as-of month's products and average AUM).
TAG_FIGURES = tuple(name for name in FIGURES if name not in COLUMNS)
_RANK = {name: i for i, name in enumerate(ALL_TIERS)}


@dataclass(frozen=True)
class WhatIf:
    """The effect of `after` against `before` on one study."""
    tiers: pd.DataFrame     # tier, customers_before, customers_after, customers_change, aum_before, aum_after, aum_change
    matrix: pd.DataFrame    # from_tier, to_tier, customers, aum_cny (every pair with customers)
    stages: pd.DataFrame    # stage, customers_before, customers_after, customers_change
    branches: pd.DataFrame  # branch_code, name, name_en, customers, moved, upgraded, downgraded,
    #                         high_tier_before, high_tier_after, rms, rms_needed_before, rms_needed_after
    rm_load: pd.DataFrame   # tier, customers_before, customers_after, customers_per_rm, rms_needed_before, rms_needed_after
    customers: int
    moved: int              # customers whose tier changes
    aum_moved_cny: float
    stage_moved: int        # customers whose lifecycle stage changes
    changed: int            # customers whose tier or stage changes (the movers list)
    tags: pd.DataFrame      # tag, customers_before, customers_after, customers_change


class Study:
    """The as-of month of one slice, ready for any number of comparisons."""

    def __init__(self, sl: Slice):
        names = sl.table("customers").select("customer_id", "name")
        habits = profiles(sl.table("customer_current")).select("customer_id", *TAG_FIGURES)
        rows = current(sl).select(*COLUMNS).join(names, "customer_id").left_join(habits, "customer_id").drop(
            "customer_id_right")
        self._engine = ibis.duckdb.connect()  # private, in memory
        self._lock = threading.Lock()         # one query at a time on it, whichever session asks
        self.base = self._engine.create_table("base", ibis.memtable(rows.to_pyarrow()))
        self.branches = sl.table("branches").select("branch_code", "name", "name_en").order_by("branch_code").execute()
        self.rms = (sl.table("relationship_managers").group_by("branch_code").agg(rms=_.count()).execute()
                    .set_index("branch_code").rms)

    def _labelled(self, before: RuleSet, after: RuleSet) -> ir.Table:
        b = self.base
        return b.mutate(tier_before=tier(b, before), tier_after=tier(b, after),
                        stage_before=stage(b, before, b.probability), stage_after=stage(b, after, b.probability))

    def compare(self, before: RuleSet, after: RuleSet) -> WhatIf:
        groups = self._labelled(before, after).group_by(
            "branch_code", "tier_before", "tier_after", "stage_before", "stage_after").agg(
            customers=_.count(), aum_cny=_.aum_cny.sum())
        with self._lock:
            g = groups.execute()
        g["customers"] = g.customers.astype("int64")
        g["aum_cny"] = g.aum_cny.astype("float64")
        tiers = self._tiers(g, before, after)
        was, now = flags(self.base, before), flags(self.base, after)
        counts = self.base.aggregate(**{f"{tag}_before": was[tag].sum() for tag in TAGS},
                                     **{f"{tag}_after": now[tag].sum() for tag in TAGS})
        with self._lock:
            counts = counts.execute().iloc[0]
        tags = pd.DataFrame({"tag": TAGS, "customers_before": [int(counts[f"{tag}_before"]) for tag in TAGS],
                             "customers_after": [int(counts[f"{tag}_after"]) for tag in TAGS]})
        return WhatIf(
            tiers=tiers, matrix=_matrix(g), stages=_stages(g),
            branches=self._branches(g, before, after), rm_load=_rm_load(tiers, before, after),
            customers=int(g.customers.sum()), moved=int(g.customers[g.tier_before != g.tier_after].sum()),
            aum_moved_cny=float(g.aum_cny[g.tier_before != g.tier_after].sum()),
            stage_moved=int(g.customers[g.stage_before != g.stage_after].sum()),
            changed=int(g.customers[(g.tier_before != g.tier_after) | (g.stage_before != g.stage_after)].sum()),
            tags=tags.assign(customers_change=tags.customers_after - tags.customers_before))

    def movers(self, before: RuleSet, after: RuleSet, limit: int = 1000) -> pd.DataFrame:
        """Customers whose tier or stage changes, largest 3-month average AUM first: customer_id, name,
        branch_code, rm_id, aum_3m_avg_cny, aum_cny, tier_before, tier_after, stage_before, stage_after."""
        t = self._labelled(before, after)
        t = t.filter((t.tier_before != t.tier_after) | (t.stage_before != t.stage_after))
        listed = t.select("customer_id", "name", "branch_code", "rm_id", "aum_3m_avg_cny", "aum_cny",
                          "tier_before", "tier_after", "stage_before", "stage_after")
        with self._lock:
            return listed.order_by([ibis.desc("aum_3m_avg_cny"), "customer_id"]).limit(limit).execute()

    @staticmethod
    def _tiers(g: pd.DataFrame, before: RuleSet, after: RuleSet) -> pd.DataFrame:
        shown = list(tiers_of(before, after))
        was = g.groupby("tier_before")[["customers", "aum_cny"]].sum().reindex(shown, fill_value=0)
        now = g.groupby("tier_after")[["customers", "aum_cny"]].sum().reindex(shown, fill_value=0)
        return pd.DataFrame({
            "tier": shown,
            "customers_before": was.customers.to_numpy(), "customers_after": now.customers.to_numpy(),
            "customers_change": (now.customers - was.customers).to_numpy(),
            "aum_before": was.aum_cny.to_numpy(), "aum_after": now.aum_cny.to_numpy(),
            "aum_change": (now.aum_cny - was.aum_cny).to_numpy(),
        })

    def _branches(self, g: pd.DataFrame, before: RuleSet, after: RuleSet) -> pd.DataFrame:
        up = g.tier_after.map(_RANK) > g.tier_before.map(_RANK)
        down = g.tier_after.map(_RANK) < g.tier_before.map(_RANK)
        frame = pd.DataFrame({
            "branch_code": g.branch_code, "customers": g.customers,
            "moved": g.customers.where(up | down, 0), "upgraded": g.customers.where(up, 0),
            "downgraded": g.customers.where(down, 0),
            "high_tier_before": g.customers.where(g.tier_before.isin(HIGH_TIERS), 0),
            "high_tier_after": g.customers.where(g.tier_after.isin(HIGH_TIERS), 0),
        }).groupby("branch_code").sum()
        need_before = _rms_needed(g.groupby(["branch_code", "tier_before"]).customers.sum(), before)
        need_after = _rms_needed(g.groupby(["branch_code", "tier_after"]).customers.sum(), after)
        frame["rms"] = self.rms.reindex(frame.index).fillna(0).astype("int64")
        frame["rms_needed_before"] = need_before.reindex(frame.index).fillna(0).astype("int64")
        frame["rms_needed_after"] = need_after.reindex(frame.index).fillna(0).astype("int64")
        return (self.branches.merge(frame.reset_index(), on="branch_code")
                .sort_values(["moved", "branch_code"], ascending=[False, True]).reset_index(drop=True))


def _matrix(g: pd.DataFrame) -> pd.DataFrame:
    m = g.groupby(["tier_before", "tier_after"])[["customers", "aum_cny"]].sum().reset_index()
    m = m.rename(columns={"tier_before": "from_tier", "tier_after": "to_tier"})
    return m.sort_values(["from_tier", "to_tier"], key=lambda s: s.map(_RANK)).reset_index(drop=True)


def _stages(g: pd.DataFrame) -> pd.DataFrame:
    living = list(STAGES[:-1])  # the study holds customers not churned
    was = g.groupby("stage_before").customers.sum().reindex(living, fill_value=0)
    now = g.groupby("stage_after").customers.sum().reindex(living, fill_value=0)
    return pd.DataFrame({"stage": living, "customers_before": was.to_numpy(), "customers_after": now.to_numpy(),
                         "customers_change": (now - was).to_numpy()})


def _rms_needed(counts: pd.Series, rules: RuleSet) -> pd.Series:
    """Relationship managers needed per first index level: per tier, customers / the tier's service
    ratio rounded up, summed."""
    needed = [math.ceil(n / rules.customers_per_rm_of(t)) for (_, t), n in counts.items()]
    return pd.Series(needed, index=counts.index, dtype="int64").groupby(level=0).sum()


def _rm_load(tiers: pd.DataFrame, before: RuleSet, after: RuleSet) -> pd.DataFrame:
    """Per tier of the comparison: customers, the proposal's service ratio, RMs needed under each rule set."""
    return tiers[["tier", "customers_before", "customers_after"]].assign(
        customers_per_rm=[after.customers_per_rm_of(t) for t in tiers.tier],
        rms_needed_before=[math.ceil(n / before.customers_per_rm_of(t))
                           for t, n in zip(tiers.tier, tiers.customers_before)],
        rms_needed_after=[math.ceil(n / after.customers_per_rm_of(t)) for t, n in zip(tiers.tier, tiers.customers_after)])
