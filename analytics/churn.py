"""Churn: rates by group, and how the churn-warnings list (portfolio.at_risk) reads: order, reasons, what would help."""

from __future__ import annotations

import json

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd
from ibis import _

from analytics import format as fmt
from analytics import measures
from analytics.filters import Slice, month_end
from analytics.scope import AGE_BAND_YEARS, age_band


def latest_scores(sl: Slice) -> ir.Table:
    """The newest scoring run in scope: one row per customer (customer_id, probability, reasons_json, ...)."""
    scores = sl.table("churn_scores")
    newest = scores.filter(scores.as_of == scores.as_of.max())
    return newest.filter(newest.model_version == newest.model_version.max())


# how the churn-warnings list can be ordered: largest value at risk or probability first, by RM, soonest task first
SORTS = ("value_at_risk_cny", "probability", "rm_id", "next_task_on")


def ordered(listed: pd.DataFrame, by: str) -> pd.DataFrame:
    """The at-risk list (portfolio.at_risk, with next_task_on) sorted `by` one of SORTS, ties by value at risk;
    missing values last."""
    if by not in SORTS:
        raise ValueError(f"sort the churn warnings by {by!r}: choose one of {', '.join(SORTS)}")
    keys = {by: by in ("rm_id", "next_task_on")} | {"value_at_risk_cny": False} | {"customer_id": True}
    return listed.sort_values(list(keys), ascending=list(keys.values()), na_position="last", kind="stable",
                              ignore_index=True)


GROUPS = ("tier", "branch")


def rate_by(sl: Slice, group: str) -> pd.DataFrame:
    """Monthly churn rate per tier or branch, in the period: customers churned in the month / customers
    of the group at the start of the month (still in the data in the month). A customer's group is the one they
    were in at the start: the tier_month mart's parts of the month-end before (analytics.measures)."""
    if group not in GROUPS:
        raise ValueError(f"churn rate by {group!r}: choose one of {', '.join(GROUPS)}")
    tm = measures.parts(sl, measures.TIER_MONTH)
    start = tm.filter(sl.in_period(tm.month + ibis.interval(months=1)))  # the month-ends just before the period's
    expr = start.group_by(month=month_end(start.month + ibis.interval(days=1)),
                          group=start.tier if group == "tier" else start.branch_code).agg(
        at_start=_.next_rows.sum(), churned=_.churned_next.sum())
    expr = expr.filter(expr.at_start > 0).mutate(value=measures.rate(_.churned, _.at_start))
    return expr.order_by(["month", "group"]).rename(**{group: "group"}).execute()


def pooled(rates: pd.DataFrame, by: str) -> pd.DataFrame:
    """The groups of `rate_by` taken together per `by` ("month": every group's customers in each month; "branch":
    a branch's months together): the churn rate of them all, their churned / their customers at the start."""
    frame = rates.groupby(by, as_index=False)[["churned", "at_start"]].sum()
    return frame.assign(value=frame.churned / frame.at_start)


EXTREMES = 3  # branches named at each end of the churn rate by branch: more lines than this cannot be told apart


def extremes(rates: pd.DataFrame, n: int = EXTREMES) -> pd.DataFrame:
    """The branches of `rate_by(sl, "branch")` from the highest churn rate over the period (`pooled`) to the
    lowest (ties by branch code), the n highest marked "highest", the n lowest "lowest" and those between "";
    with 2n branches or fewer every one is marked."""
    ranked = pooled(rates, "branch").sort_values(["value", "branch"], ascending=[False, True], ignore_index=True)
    size = len(ranked)
    high = min(n, (size + 1) // 2)
    low = size - min(n, size - high)
    return ranked.assign(mark=["highest" if i < high else "lowest" if i >= low else "" for i in range(size)])


def relationship_managers(sl: Slice) -> list[str]:
    rms = sl.table("relationship_managers")
    return rms.order_by("rm_id").rm_id.execute().tolist()


# A missing figure that is a reason in itself, in words; any other missing figure is no reason to show.
MISSING_WORDS = {"last_nps": ("never answered an NPS survey", "从未参与 NPS 调研")}


def reasons_text(payload, lang: str = "en") -> str:
    """The reasons stored with a score, in words: "no transactions for 74 days; holds a single product". An age
    reads as its 10-year band, also in scores written before reasons kept only the band; a reason without its
    figure (stored by releases before they were left out: "oldest_open_complaint_days: unknown") is not shown."""
    if not isinstance(payload, str):
        return ""
    return "; ".join(_age_in_band(item)[lang] for item in json.loads(payload)
                     if item.get("value") is not None or item.get("feature") in MISSING_WORDS)


def age_reason(years: float) -> tuple[str, str]:
    """An age as a reason, in English and Chinese: its 10-year band only ("aged 30–39")."""
    band = fmt.age(age_band(years), AGE_BAND_YEARS)
    return f"aged {band}", f"{band} 岁"


def _age_in_band(item: dict) -> dict:
    if item.get("feature") != "age_years" or item.get("value") is None:
        return item
    return {**item, **dict(zip(("en", "zh"), age_reason(float(item["value"]))))}


def helps_text(payload, lang: str = "en") -> str:
    """What would help, with the model's estimate after each change."""
    if not isinstance(payload, str):
        return ""
    label = "estimate" if lang == "en" else "估计"
    return "; ".join(f"{a[lang]} → {a['probability_after']:.0%} ({label})" for a in json.loads(payload))


def score_distribution(sl: Slice, bins: tuple[float, ...]) -> pd.DataFrame:
    """The latest scoring's customers in scope per probability bin (bin i holds bins[i] <= p < bins[i+1],
    the last bin includes 1): bin, customers, share, model_version, as_of. Empty without scores."""
    scores = latest_scores(sl)
    index = sum((scores.probability >= edge).cast("int64") for edge in bins[1:-1])
    counted = (scores.mutate(bin=index).group_by("bin")
               .agg(customers=_.count(), model_version=_.model_version.max(), as_of=_.as_of.max())
               .order_by("bin").execute())
    if counted.empty:
        return counted.assign(share=[])
    full = pd.DataFrame({"bin": range(len(bins) - 1)}).merge(counted, on="bin", how="left")
    full["customers"] = full.customers.fillna(0).astype(int)
    full[["model_version", "as_of"]] = full[["model_version", "as_of"]].ffill().bfill()
    return full.assign(share=full.customers / full.customers.sum())


def population_stability(expected: list[float], actual: list[float]) -> float:
    """Population stability index: sum over bins of (actual - expected) x ln(actual / expected), shares
    floored at 0.0001. Under 0.1 the scores are distributed as at training time; over 0.25 they have
    moved enough that the model should be retrained."""
    e = np.maximum(np.asarray(expected, dtype=float), 1e-4)
    a = np.maximum(np.asarray(actual, dtype=float), 1e-4)
    return float(np.sum((a - e) * np.log(a / e)))
