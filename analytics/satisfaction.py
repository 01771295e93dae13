"""NPS, CSAT and complaints: what customers say, and how fast the bank answers them.

Every function takes a `Slice` (scope + global filters + rule set) and returns
a small frame, built as one Ibis expression and executed once. Surveys count
in the period by `answered_at`, complaints by `opened_at` unless a function
says otherwise. Bands are 95% confidence intervals, so a reader can tell a
real move from a handful of answers.

Definitions (shared/DESIGN.md):
- NPS = % promoters (9-10) - % detractors (0-6) among NPS answers, -100..100.
- CSAT = share of CSAT answers that are 4 or 5, 0..1.
- Complaint SLA compliance = complaints resolved within their `sla_days` /
  complaints resolved.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir
import pandas as pd
from ibis import _

from analytics.filters import Slice, month_end
from analytics.rules import ALL_TIERS, tier

Z_95 = 1.96
DIMENSIONS = ("tier", "branch", "channel", "touchpoint")
GROUPS = ("detractors", "passives", "promoters")
# what the promoters-vs-detractors profile compares, and how each figure reads (analytics.format's units)
FEATURE_UNITS = {"aum_cny": "cny", "tenure_months": "score", "products_held": "score", "days_since_last_txn": "days",
                 "digital_logins": "score", "complained_90d": "pct1"}
FEATURES = tuple(FEATURE_UNITS)
COMPLAINT_LOOKBACK_DAYS = 90


# --- building blocks ----------------------------------------------------------

def _surveys(sl: Slice) -> ir.Table:
    s = sl.table("surveys")
    return s.filter(sl.in_period(s.answered_at))


def _answer_counts(s: ir.Table) -> dict[str, ir.IntegerScalar]:
    return {
        "nps_answers": s.count(where=s.nps.notnull()),
        "promoters": s.count(where=s.nps >= 9),
        "passives": s.count(where=s.nps.between(7, 8)),
        "detractors": s.count(where=s.nps <= 6),
        "csat_answers": s.count(where=s.csat.notnull()),
        "satisfied": s.count(where=s.csat >= 4),
    }


def nps_of(answers: ir.IntegerValue, promoters: ir.IntegerValue, detractors: ir.IntegerValue) -> dict[str, ir.FloatingValue]:
    """NPS and its normal-approximation 95% band, clipped to -100..100; no band under 2 answers."""
    n = answers.cast("float64").nullif(0)
    pro, det = promoters / n, detractors / n
    value = 100 * (pro - det)
    se = 100 * ((pro + det - (pro - det) ** 2) / n).sqrt()
    enough = answers >= 2
    return {
        "value": value,
        "low": ibis.cases((enough, (value - Z_95 * se).clip(lower=-100)), else_=ibis.null("float64")),
        "high": ibis.cases((enough, (value + Z_95 * se).clip(upper=100)), else_=ibis.null("float64")),
    }


def _csat(answers: ir.IntegerValue, satisfied: ir.IntegerValue) -> dict[str, ir.FloatingValue]:
    """CSAT share and its 95% Wilson score interval (stays inside 0..1 even at 0 or 100%)."""
    n = answers.cast("float64").nullif(0)
    p = satisfied / n
    z2 = Z_95**2
    shrink = 1 + z2 / n
    centre = (p + z2 / (2 * n)) / shrink
    half = Z_95 * (p * (1 - p) / n + z2 / (4 * n * n)).sqrt() / shrink
    # clipped only against rounding: at 0% or 100% the bound is 0 or 1 up to a last bit
    return {"value": p, "low": (centre - half).clip(lower=0), "high": (centre + half).clip(upper=1)}


def _end_of_day(day: ir.DateValue) -> ir.TimestampValue:
    """The first instant after `day`: a timestamp before it happened on or before `day`."""
    return (day + ibis.interval(days=1)).cast("timestamp")


def _within_sla(c: ir.Table) -> ir.BooleanValue:
    return c.resolved_at.notnull() & (c.resolved_at <= c.opened_at + c.sla_days.as_interval("D"))


def _group(nps: ir.IntegerValue) -> ir.StringValue:
    return ibis.cases((nps >= 9, "promoters"), (nps >= 7, "passives"), else_="detractors")


# --- surveys -------------------------------------------------------------------

def nps_by_month(sl: Slice) -> pd.DataFrame:
    """NPS per month of answer: % promoters (9-10) minus % detractors (0-6) among the month's NPS answers, -100..100.

    Columns: month, answers, promoters, passives, detractors, value, low, high
    (low/high: 95% band, value ± 1.96 standard errors; none under 2 answers).
    """
    s = _surveys(sl)
    s = s.filter(s.nps.notnull())
    counts = s.group_by(month=month_end(s.answered_at)).agg(
        answers=_.count(),
        promoters=_.count(where=_.nps >= 9),
        passives=_.count(where=_.nps.between(7, 8)),
        detractors=_.count(where=_.nps <= 6),
    )
    expr = counts.mutate(**nps_of(counts.answers, counts.promoters, counts.detractors)).order_by("month")
    return expr.execute()


def csat_by_month(sl: Slice) -> pd.DataFrame:
    """CSAT per month of answer: the share of the month's CSAT answers that are 4 or 5 (0..1).

    Columns: month, answers, satisfied, value, low, high (low/high: 95% Wilson interval).
    """
    s = _surveys(sl)
    s = s.filter(s.csat.notnull())
    counts = s.group_by(month=month_end(s.answered_at)).agg(answers=_.count(), satisfied=_.count(where=_.csat >= 4))
    expr = counts.mutate(**_csat(counts.answers, counts.satisfied)).order_by("month")
    return expr.execute()


def by(sl: Slice, dimension: str) -> pd.DataFrame:
    """NPS and CSAT over the whole period, split by tier, branch, channel or touchpoint.

    Tier is the customer's tier at the as-of month (customers without a month
    row then are left out); branch the customer's branch; channel and
    touchpoint those of the survey. Columns: <dimension>, nps_answers, nps,
    nps_low, nps_high, csat_answers, csat, csat_low, csat_high.
    """
    if dimension not in DIMENSIONS:
        raise ValueError(f"unknown dimension {dimension!r}; known: {', '.join(DIMENSIONS)}")
    s = _surveys(sl)
    if dimension == "tier":
        cm = sl.table("customer_month")
        at = cm.filter(cm.month == sl.as_of())
        s = s.join(at.select("customer_id", tier=tier(at, sl.rules)), "customer_id")
    elif dimension == "branch":
        s = s.join(sl.table("customers").select("customer_id", branch=_.branch_code), "customer_id")
    counts = s.group_by(dimension).agg(**_answer_counts(s))
    nps = nps_of(counts.nps_answers, counts.promoters, counts.detractors)
    csat = _csat(counts.csat_answers, counts.satisfied)
    expr = counts.select(
        dimension, "nps_answers",
        nps=nps["value"], nps_low=nps["low"], nps_high=nps["high"],
        csat_answers=counts.csat_answers,
        csat=csat["value"], csat_low=csat["low"], csat_high=csat["high"],
    )
    frame = expr.execute()
    order = (lambda col: col.map(ALL_TIERS.index)) if dimension == "tier" else None
    return frame.sort_values(dimension, key=order, ignore_index=True)


def promoters_vs_detractors(sl: Slice) -> pd.DataFrame:
    """What sets promoters apart: each customer's latest NPS answer in the period puts them in a group
    (detractors 0-6, passives 7-8, promoters 9-10); shown is each group's mean of the customer's month-end
    figures in the month of that answer, and the share who opened a complaint in the 90 days before it.

    Rows: feature (aum_cny, tenure_months, products_held, days_since_last_txn,
    digital_logins, complained_90d); columns: detractors, passives, promoters, and unit (how the row's
    figures read: FEATURE_UNITS).
    """
    s = _surveys(sl)
    s = s.filter(s.nps.notnull())
    newest_first = ibis.window(group_by="customer_id", order_by=[ibis.desc("answered_at"), ibis.desc("survey_id")])
    latest = s.filter(ibis.row_number().over(newest_first) == 0)
    latest = latest.select("survey_id", "customer_id", "answered_at",
                           group=_group(latest.nps), month=month_end(latest.answered_at))
    c = sl.table("complaints").select(complainant=_.customer_id, complaint_opened_at=_.opened_at)
    recent = latest.left_join(c, [
        latest.customer_id == c.complainant,
        c.complaint_opened_at < latest.answered_at,
        c.complaint_opened_at >= latest.answered_at - ibis.interval(days=COMPLAINT_LOOKBACK_DAYS),
    ])
    answers = recent.group_by("survey_id", "customer_id", "month", "group").agg(
        complained_90d=(_.complainant.count() > 0).cast("float64")
    )
    cm = sl.table("customer_month").select("customer_id", "month", *FEATURES[:-1])
    joined = answers.left_join(cm, ["customer_id", "month"])
    means = joined.group_by("group").agg(**{f: joined[f].mean() for f in FEATURES})
    frame = means.execute().set_index("group")
    frame = frame.reindex(index=list(GROUPS), columns=list(FEATURES)).astype("float64").T
    frame = frame.rename_axis(index="feature", columns=None).reset_index()
    return frame.assign(unit=frame.feature.map(FEATURE_UNITS))


# --- complaints ----------------------------------------------------------------

def complaints_by_category(sl: Slice) -> pd.DataFrame:
    """Complaints opened in the period, by category: how many, how many still open at the period's end
    (the as-of month-end, end of day), how many resolved by then, and SLA compliance = resolved within
    their SLA days / resolved.

    Columns: category, complaints, open, resolved, within_sla, sla_compliance.
    """
    c = sl.table("complaints")
    c = c.filter(sl.in_period(c.opened_at))
    # A column first: as_of() may be a reduction of another table, which Ibis
    # makes a subquery in a projection but not inside an aggregate's `where`.
    c = c.mutate(is_resolved=c.resolved_at.notnull() & (c.resolved_at < _end_of_day(sl.as_of())))
    counts = c.group_by("category").agg(
        complaints=_.count(),
        open=c.count(where=~c.is_resolved),
        resolved=c.count(where=c.is_resolved),
        within_sla=c.count(where=c.is_resolved & _within_sla(c)),
    )
    expr = counts.mutate(sla_compliance=counts.within_sla / counts.resolved.cast("float64").nullif(0))
    return expr.order_by([ibis.desc("complaints"), "category"]).execute()


def backlog_by_month(sl: Slice) -> pd.DataFrame:
    """Complaints open at each month-end of the period: opened on or before that day and not resolved by
    its end. Columns: month, open."""
    cm = sl.table("customer_month")
    months = cm.filter(sl.in_period(cm.month)).select("month").distinct()
    months = months.mutate(month_closes_at=_end_of_day(months.month))
    c = sl.table("complaints").select("complaint_id", "opened_at", "resolved_at")
    open_then = months.left_join(c, [
        c.opened_at < months.month_closes_at,
        c.resolved_at.isnull() | (c.resolved_at >= months.month_closes_at),
    ])
    expr = open_then.group_by("month").agg(open=_.complaint_id.count()).order_by("month")
    return expr.execute()


def sla_by_month(sl: Slice) -> pd.DataFrame:
    """Complaint SLA compliance per month of resolution: complaints resolved within their SLA days
    (resolved_at - opened_at <= sla_days) / complaints resolved that month.

    Columns: month, resolved, within_sla, value.
    """
    c = sl.table("complaints")
    c = c.filter(c.resolved_at.notnull() & sl.in_period(c.resolved_at))
    counts = c.group_by(month=month_end(c.resolved_at)).agg(
        resolved=_.count(), within_sla=c.count(where=_within_sla(c)),
    )
    expr = counts.mutate(value=counts.within_sla / counts.resolved.cast("float64")).order_by("month")
    return expr.execute()
