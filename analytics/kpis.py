"""The executive KPIs, one function each, and the registry that names them.

Each function takes the tables of one scope and returns a small frame with
one row per month-end. Its definition (shown next to the figure in the app)
lives in the registry, once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import ibis
import pandas as pd
from ibis import _

from analytics.scope import ScopedStore


def customers(tables: ScopedStore) -> pd.DataFrame:
    """Customers not churned at each month-end."""
    cm = tables.table("customer_month")
    expr = cm.filter(~cm.is_churned).group_by("month").agg(value=_.count()).order_by("month")
    return expr.execute()


def aum(tables: ScopedStore) -> pd.DataFrame:
    """AUM of customers not churned at each month-end, CNY."""
    cm = tables.table("customer_month")
    expr = cm.filter(~cm.is_churned).group_by("month").agg(value=_.aum_cny.sum()).order_by("month")
    return expr.execute()


def churn_rate(tables: ScopedStore) -> pd.DataFrame:
    """Customers churned in the month / customers at the start of the month (the previous month-end)."""
    cm = tables.table("customer_month")
    per_month = cm.group_by("month").agg(
        active=(~cm.is_churned).sum().cast("int64"),
        churned=cm.churned_in_month.sum().cast("int64"),
    )
    at_start = per_month.active.lag().over(ibis.window(order_by="month"))
    expr = per_month.mutate(at_start=at_start).mutate(
        value=(_.churned / _.at_start.nullif(0)).cast("float64")
    ).order_by("month")
    return expr.select("month", "value", "churned", "at_start").execute()


def nps(tables: ScopedStore) -> pd.DataFrame:
    """% promoters (9-10) minus % detractors (0-6) among the month's NPS answers."""
    s = tables.table("surveys")
    s = s.filter(s.nps.notnull())
    month = (s.answered_at.date().truncate("M") + ibis.interval(months=1) - ibis.interval(days=1)).name("month")
    expr = (
        s.group_by(month)
        .agg(answers=_.count(), promoters=(_.nps >= 9).sum(), detractors=(_.nps <= 6).sum())
        .mutate(value=(100.0 * (_.promoters - _.detractors) / _.answers))
        .order_by("month")
    )
    return expr.select("month", "value", "answers").execute()


@dataclass(frozen=True)
class Kpi:
    key: str
    label_en: str
    label_zh: str
    unit: str  # "count" | "cny" | "pct" | "score"
    up_is_good: bool
    definition_en: str
    definition_zh: str
    fn: Callable[[ScopedStore], pd.DataFrame]


KPIS: dict[str, Kpi] = {
    k.key: k
    for k in (
        Kpi("customers", "Customers", "客户数", "count", True,
            "Customers not churned at the month-end.",
            "月末未流失的客户数。", customers),
        Kpi("aum", "AUM", "管理资产", "cny", True,
            "Assets under management: month-end deposits + investments + insurance cash value of customers not churned, CNY.",
            "管理资产：未流失客户月末存款 + 投资 + 保险现金价值，人民币。", aum),
        Kpi("churn_rate", "Churn rate (monthly)", "月流失率", "pct", False,
            "Customers churned in the month / customers at the start of the month. Churned: every account closed, "
            "or dormant 180 days with AUM under 100 CNY.",
            "当月流失客户数 / 月初客户数。流失：全部账户销户，或连续 180 天无交易且管理资产低于 100 元。", churn_rate),
        Kpi("nps", "NPS", "净推荐值", "score", True,
            "% promoters (9-10) minus % detractors (0-6) among the month's survey answers.",
            "当月调研中推荐者（9-10 分）占比减去贬损者（0-6 分）占比。", nps),
    )
}


@dataclass(frozen=True)
class Snapshot:
    """A KPI at one month-end against the month before and the same month a year earlier."""
    month: pd.Timestamp
    value: float | None
    previous: float | None
    year_ago: float | None

    @property
    def change(self) -> float | None:
        return None if self.value is None or self.previous is None else self.value - self.previous

    @property
    def change_year(self) -> float | None:
        return None if self.value is None or self.year_ago is None else self.value - self.year_ago


def snapshot(series: pd.DataFrame, month: pd.Timestamp) -> Snapshot:
    """Read `series` (month, value) at `month`, one month before, and twelve months before."""
    by_month = series.set_index(pd.to_datetime(series["month"]))["value"]

    def at(m: pd.Timestamp) -> float | None:
        value = by_month.get(m)
        return None if value is None or pd.isna(value) else float(value)

    month = pd.Timestamp(month)
    return Snapshot(month, at(month), at(month - pd.offsets.MonthEnd(1)), at(month - pd.offsets.MonthEnd(12)))
