"""The executive KPIs, one function each, and the registry that names them.

Each function takes the tables of one scope and returns a small frame with
one row per month-end. Its definition (shown next to the figure in the app)
lives in the registry, once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import ibis
import ibis.expr.types as ir
import pandas as pd
from ibis import _

from analytics import funnel, measures, satisfaction
from analytics.filters import Slice


def _by_month(sl: Slice) -> ir.Table:
    """The slice's branch_month parts summed per month of its data (analytics.measures)."""
    bm = measures.parts(sl, measures.BRANCH_MONTH)
    per_month = bm.group_by("month").agg(**{name: bm[name].sum() for name in measures.BRANCH_MONTH_PARTS})
    return per_month.filter(per_month.rows > 0)


def customers(sl: Slice) -> pd.DataFrame:
    """Customers not churned at each month-end."""
    return _by_month(sl).select("month", value="customers").order_by("month").execute()


def net_new_customers(sl: Slice) -> pd.DataFrame:
    """Customers who opened their relationship in the month minus customers who churned in it."""
    expr = _by_month(sl).select("month", "opened", "churned", value=_.opened - _.churned).order_by("month")
    return expr.select("month", "value", "opened", "churned").execute()


def aum(sl: Slice) -> pd.DataFrame:
    """AUM of customers not churned at each month-end, CNY."""
    return _by_month(sl).select("month", value="aum_cny").order_by("month").execute()


def churn_rate(sl: Slice) -> pd.DataFrame:
    """Customers churned in the month / customers at the start of the month (the previous month-end)."""
    per_month = _by_month(sl)
    expr = per_month.mutate(at_start=per_month.customers.lag().over(ibis.window(order_by="month")))
    expr = expr.mutate(value=measures.rate(_.churned, _.at_start)).order_by("month")
    return expr.select("month", "value", "churned", "at_start").execute()


def churn_rate_12m(sl: Slice) -> pd.DataFrame:
    """Customers churned in the 12 months to the month-end / customers at the start of those 12 months."""
    per_month = _by_month(sl)
    expr = per_month.mutate(
        churned_12m=per_month.churned.sum().over(ibis.window(order_by="month", preceding=11, following=0)),
        at_start=per_month.customers.lag(12).over(ibis.window(order_by="month")),
    ).mutate(value=measures.churn_rate_12m(_.churned_12m, _.at_start)).order_by("month")
    return expr.select("month", "value", "churned_12m", "at_start").execute()


def nps(sl: Slice) -> pd.DataFrame:
    """% promoters (9-10) minus % detractors (0-6) among the month's NPS answers."""
    return satisfaction.nps_by_month(sl)


def csat(sl: Slice) -> pd.DataFrame:
    """Share of the month's CSAT answers that are 4 or 5."""
    return satisfaction.csat_by_month(sl)


def funnel_conversion(sl: Slice) -> pd.DataFrame:
    """Leads activated in the 3 months to the month-end / new leads in those 3 months (campaigns start
    leads in bursts, so a single month is often all leads or all activations)."""
    monthly = funnel.monthly(sl)
    if monthly.empty:
        return monthly
    last = max(pd.Timestamp(sl.as_of_date()), pd.Timestamp(monthly.month.max()))
    months = pd.date_range(monthly.month.min(), last, freq="ME")
    rolled = monthly.set_index(pd.to_datetime(monthly.month))[["leads", "activated"]].reindex(months, fill_value=0)
    rolled = rolled.rolling(3, min_periods=3).sum()
    rolled["value"] = rolled.activated / rolled.leads.where(rolled.leads > 0)
    return rolled.rename_axis("month").reset_index()


def complaint_sla(sl: Slice) -> pd.DataFrame:
    """Complaints resolved within their SLA / complaints resolved, by month of resolution."""
    return satisfaction.sla_by_month(sl)


@dataclass(frozen=True)
class Kpi:
    key: str
    label_en: str
    label_zh: str
    unit: str  # "count" | "cny" | "pct" | "score"
    up_is_good: bool
    definition_en: str
    definition_zh: str
    fn: Callable[[Slice], pd.DataFrame]


KPIS: dict[str, Kpi] = {
    k.key: k
    for k in (
        Kpi("customers", "Customers", "客户数", "count", True,
            "Customers not churned at the month-end.",
            "月末未流失的客户数。", customers),
        Kpi("net_new", "Net new customers", "净新增客户", "count", True,
            "Customers who opened their relationship in the month minus customers who churned in it.",
            "当月新开户客户数减去当月流失客户数。", net_new_customers),
        Kpi("aum", "AUM", "管理资产", "cny", True,
            "Assets under management: month-end deposits + investments + insurance cash value of customers "
            "not churned, CNY.",
            "管理资产：未流失客户月末存款 + 投资 + 保险现金价值，人民币。", aum),
        Kpi("churn_rate", "Churn rate (monthly)", "月流失率", "pct", False,
            "Customers churned in the month / customers at the start of the month. Churned: every account closed, "
            "or dormant 180 days with AUM under 100 CNY.",
            "当月流失客户数 / 月初客户数。流失：全部账户销户，或连续 180 天无交易且管理资产低于 100 元。", churn_rate),
        Kpi("churn_rate_12m", "Churn rate (12 months)", "12 个月滚动流失率", "pct", False,
            "Customers churned in the 12 months to the month-end / customers at the start of those 12 months.",
            "截至月末的 12 个月内流失客户数 / 这 12 个月开始时的客户数。", churn_rate_12m),
        Kpi("nps", "NPS", "净推荐值", "score", True,
            "% promoters (9-10) minus % detractors (0-6) among the month's survey answers.",
            "当月调研中推荐者（9-10 分）占比减去贬损者（0-6 分）占比。", nps),
        Kpi("csat", "CSAT", "满意度", "pct", True,
            "Share of the month's satisfaction answers that are 4 or 5 (of 5).",
            "当月满意度调研中 4 分或 5 分（满分 5 分）的占比。", csat),
        Kpi("funnel_conversion", "Funnel conversion", "营销转化率", "pct", True,
            "Leads activated in the 3 months to the month-end / new leads in those 3 months (lead → activated).",
            "截至月末 3 个月内激活的线索数 / 这 3 个月新增的线索数（线索 → 激活）。", funnel_conversion),
        Kpi("complaint_sla", "Complaint SLA compliance", "投诉时效达标率", "pct", True,
            "Complaints resolved within their SLA / complaints resolved, by month of resolution.",
            "按解决月份：在时限内解决的投诉数 / 已解决的投诉数。", complaint_sla),
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
