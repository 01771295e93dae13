"""The page queries in plain pandas, the benchmark's baseline (the way many dashboards are written).

`load` reads whole store tables into memory once; each function below then
answers one page's query from those frames with groupby, merge and boolean
masks, and returns exactly what its analytics function returns (columns,
values, row order), so `analytics.bench` can time both and print the ratio.
`QUERIES` pairs them; tests/test_pandas_baseline.py holds them equal.

Mirrored: the scope of all branches, the rule set `DEFAULT_RULES`, and the
period and branch filters; any other filter is refused rather than ignored.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from analytics import churn, funnel, kpis, measures, portfolio, satisfaction, store, tiers
from analytics.filters import Filters
from analytics.rules import DEFAULT_RULES, TIERS
from analytics.schema import FUNNEL_STAGES

RULES = DEFAULT_RULES
LOADED = ("customer_month", "customers", "branches", "surveys", "funnel_events", "churn_scores")


@dataclass(frozen=True)
class Frames:
    """The store tables a pandas dashboard holds in memory, whole."""
    customer_month: pd.DataFrame
    customers: pd.DataFrame
    branches: pd.DataFrame
    surveys: pd.DataFrame
    funnel_events: pd.DataFrame
    churn_scores: pd.DataFrame


def load(store_path: Path | str) -> Frames:
    with store.connect(store_path, read_only=True) as con:
        return Frames(**{name: con.table(name).df() for name in LOADED})


# --- what analytics.filters.Slice does ----------------------------------------

def _kept(frame: pd.DataFrame, frames: Frames, filters: Filters) -> pd.DataFrame:
    """The rows of customers the filters keep: by the branch in `customers`, as Slice.customers()."""
    if narrowed := [name for name in ("regions", "tiers", "products", "channels") if getattr(filters, name)]:
        raise ValueError(f"the pandas baseline mirrors the period and branch filters only, not {', '.join(narrowed)}")
    if not filters.branches:
        return frame
    c = frames.customers
    return frame[frame.customer_id.isin(c.customer_id[c.branch_code.isin(filters.branches)])]


def _in_period(when: pd.Series, filters: Filters) -> pd.Series:
    keep = pd.Series(True, index=when.index)
    if filters.start:
        keep &= when >= pd.Timestamp(filters.start.replace(day=1))
    if filters.end:
        keep &= when < pd.Timestamp(filters.end + dt.timedelta(days=1))
    return keep


def _as_of(frames: Frames, filters: Filters) -> pd.Timestamp:
    return pd.Timestamp(filters.end) if filters.end else frames.customer_month.month.max()


def _month_end(when: pd.Series) -> pd.Series:
    return when.dt.normalize() + pd.offsets.MonthEnd(0)


def _tier(cm: pd.DataFrame) -> np.ndarray:
    """analytics.rules.tier under DEFAULT_RULES (which has no Potential override)."""
    low, middle, high = RULES.tier_cutoffs_cny
    aum = cm.aum_3m_avg_cny.fillna(0)
    return np.select([aum < low, aum < middle, aum < high], TIERS[:3], TIERS[3])


# --- one function per page query ---------------------------------------------

def customers(frames: Frames, filters: Filters) -> pd.DataFrame:
    """kpis.customers; like it, every month, whatever the period (the Overview trims the trend itself)."""
    cm = _kept(frames.customer_month, frames, filters)
    return cm.loc[~cm.is_churned, ["month"]].groupby("month", as_index=False).agg(value=("month", "size"))


def aum(frames: Frames, filters: Filters) -> pd.DataFrame:
    """kpis.aum; every month, whatever the period, as `customers`."""
    cm = _kept(frames.customer_month, frames, filters)
    return cm.loc[~cm.is_churned, ["month", "aum_cny"]].groupby("month", as_index=False).agg(value=("aum_cny", "sum"))


def tier_summary(frames: Frames, filters: Filters) -> pd.DataFrame:
    """tiers.summary: customers and AUM per tier at the as-of month, and their shares."""
    cm = _kept(frames.customer_month, frames, filters)
    at = cm[(cm.month == _as_of(frames, filters)) & ~cm.is_churned]
    frame = (at.assign(tier=_tier(at)).groupby("tier").agg(customers=("customer_id", "size"), aum_cny=("aum_cny", "sum"))
             .reindex(list(RULES.tiers)).fillna(0).astype({"customers": "int64"}).reset_index())
    frame["customers_share"] = frame.customers / frame.customers.sum() if frame.customers.sum() else float("nan")
    frame["aum_share"] = frame.aum_cny / frame.aum_cny.sum() if frame.aum_cny.sum() else float("nan")
    return frame


def funnel_stages(frames: Frames, filters: Filters) -> pd.DataFrame:
    """funnel.stages: leads of the period that reached each stage, and the conversions."""
    e = _kept(frames.funnel_events, frames, filters)
    by_lead = e.assign(rank=e.stage.map(funnel.RANK)).groupby("lead_id")
    first = by_lead.occurred_at.min()
    # a lead starts at its 'lead' event, or at its first event when that is missing
    started = e[e.stage == "lead"].groupby("lead_id").occurred_at.min().reindex(first.index).fillna(first)
    furthest = by_lead["rank"].max()[_in_period(started, filters)]
    frame = pd.DataFrame({"stage": FUNNEL_STAGES, "leads": [int((furthest >= i).sum()) for i in range(len(FUNNEL_STAGES))]})
    reached = frame["leads"].astype("float64")
    frame["stage_conversion"] = reached / reached.shift(1).where(lambda n: n > 0)
    frame["overall_conversion"] = reached / (reached.iloc[0] if reached.iloc[0] > 0 else float("nan"))
    return frame


def nps_by_month(frames: Frames, filters: Filters) -> pd.DataFrame:
    """satisfaction.nps_by_month: NPS per month of answer, with its 95% band."""
    s = _kept(frames.surveys, frames, filters)
    s = s[_in_period(s.answered_at, filters) & s.nps.notna()]
    counts = s.assign(month=_month_end(s.answered_at), promoter=s.nps >= 9, passive=s.nps.between(7, 8),
                      detractor=s.nps <= 6).groupby("month", as_index=False).agg(
        answers=("nps", "size"), promoters=("promoter", "sum"), passives=("passive", "sum"),
        detractors=("detractor", "sum"))
    n = counts.answers.astype("float64")
    pro, det = counts.promoters / n, counts.detractors / n
    counts["value"] = 100 * (pro - det)
    se = 100 * np.sqrt((pro + det - (pro - det) ** 2) / n)
    enough = counts.answers >= 2
    counts["low"] = (counts.value - measures.Z_95 * se).clip(lower=-100).where(enough)
    counts["high"] = (counts.value + measures.Z_95 * se).clip(upper=100).where(enough)
    return counts


def churn_rate_by(frames: Frames, filters: Filters, group: str) -> pd.DataFrame:
    """churn.rate_by: each month's churned / active at the previous month, by the group at that month."""
    cm = _kept(frames.customer_month, frames, filters)
    month = cm.loc[_in_period(cm.month, filters), ["customer_id", "month", "month_idx", "churned_in_month"]]
    # only the month-ends just before the period's months can be a start
    start = cm.loc[~cm.is_churned & (cm.month_idx + 1).isin(month.month_idx.unique()),
                   ["customer_id", "month_idx", "branch_code", "aum_3m_avg_cny"]]
    start = pd.DataFrame({"customer_id": start.customer_id, "month_idx": start.month_idx + 1,
                          group: _tier(start) if group == "tier" else start.branch_code})
    frame = month.merge(start, on=["customer_id", "month_idx"]).groupby(["month", group], as_index=False).agg(
        at_start=("customer_id", "size"), churned=("churned_in_month", "sum"))
    frame["value"] = frame.churned / frame.at_start
    return frame


def branch_league(frames: Frames, filters: Filters) -> pd.DataFrame:
    """portfolio.branches: the branch league table at the as-of month."""
    cm = _kept(frames.customer_month, frames, filters)
    as_of = _as_of(frames, filters)
    as_of_idx = as_of.year * 12 + as_of.month - 1
    scores = _kept(frames.churn_scores, frames, filters)
    scores = scores[scores.as_of == scores.as_of.max()]
    scores = scores[scores.model_version == scores.model_version.max()]

    now = cm.loc[(cm.month == as_of) & ~cm.is_churned, ["customer_id", "branch_code", "aum_cny"]]
    now = now.merge(scores[["customer_id", "probability"]], "left", "customer_id")
    now = now.assign(value_at_risk_cny=(now.probability * now.aum_cny).fillna(0)).groupby("branch_code").agg(
        customers=("customer_id", "size"), aum_cny=("aum_cny", "sum"), value_at_risk_cny=("value_at_risk_cny", "sum"))
    year_ago = cm.loc[(cm.month_idx == as_of_idx - 12) & ~cm.is_churned, ["branch_code", "aum_cny"]].groupby("branch_code")
    year = cm.loc[(cm.month_idx > as_of_idx - 12) & (cm.month_idx <= as_of_idx), ["branch_code", "churned_in_month"]]
    rates = year.groupby("branch_code").churned_in_month.sum().rename("churned_12m").to_frame()
    rates["churn_rate_12m"] = rates.churned_12m / year_ago.size().reindex(rates.index).replace(0, np.nan)

    s = _kept(frames.surveys, frames, filters)
    answered = _month_end(s.answered_at)
    s = s[s.nps.notna() & (answered <= as_of) & (answered > as_of - pd.DateOffset(years=1))]
    s = s.merge(_kept(frames.customers, frames, filters)[["customer_id", "branch_code"]], on="customer_id")
    nps = s.assign(score=(s.nps >= 9).astype(int) - (s.nps <= 6).astype(int)).groupby("branch_code").agg(
        nps_answers=("score", "size"), nps_12m=("score", "mean"))
    nps["nps_12m"] *= 100

    b = frames.branches[["branch_code", "name", "name_en", "region"]]
    b = b[b.branch_code.isin(filters.branches)] if filters.branches else b
    frame = (b.join(now, on="branch_code", how="inner")
             .join(year_ago.aum_cny.sum().rename("aum_year_ago_cny"), on="branch_code")
             .join(rates, on="branch_code").join(nps, on="branch_code"))
    frame["aum_change_12m"] = frame.aum_cny / frame.aum_year_ago_cny.replace(0, np.nan) - 1
    frame = frame.sort_values(["aum_cny", "branch_code"], ascending=[False, True], ignore_index=True)
    frame.insert(0, "rank", range(1, len(frame) + 1))
    return frame


# --- the benchmark's list -----------------------------------------------------

@dataclass(frozen=True)
class Query:
    """One page's query: `analytics_fn(slice, *args)` and `pandas_fn(frames, filters, *args)` return equal frames."""
    page: str
    name: str
    analytics_fn: Callable[..., pd.DataFrame]
    args: tuple
    pandas_fn: Callable[..., pd.DataFrame]


QUERIES = (
    Query("overview", "customers", kpis.customers, (), customers),
    Query("overview", "aum", kpis.aum, (), aum),
    Query("tiers", "tier summary", tiers.summary, (), tier_summary),
    Query("funnel", "funnel stages", funnel.stages, (), funnel_stages),
    Query("satisfaction", "NPS by month", satisfaction.nps_by_month, (), nps_by_month),
    Query("churn", "churn rate by tier", churn.rate_by, ("tier",), churn_rate_by),  # the page's default group
    Query("portfolio", "branch league", portfolio.branches, (), branch_league),
)
