"""NPS, CSAT and complaints: what customers say, and how fast the bank answers them.

Every function takes a `Slice` (scope + global filters + rule set) and returns
a small frame, built as one Ibis expression and executed once. Surveys count
in the period by `answered_at`, complaints by `opened_at` unless a function
says otherwise. Bands are 95% confidence intervals, so a reader can tell a
real move from a handful of answers.

Definitions (shared/DESIGN.md), each written once in analytics.measures:
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

from analytics import measures
from analytics.filters import Slice, month_end
from analytics.rules import ALL_TIERS, tier

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


def _figures(counts: ir.Table) -> dict[str, ir.FloatingValue]:
    """NPS and CSAT with their bands from summed answer counts (analytics.measures)."""
    nps = measures.nps(counts.nps_answers, counts.promoters, counts.detractors)
    csat = measures.csat(counts.csat_answers, counts.satisfied)
    return dict(nps=nps["value"], nps_low=nps["low"], nps_high=nps["high"],
                csat=csat["value"], csat_low=csat["low"], csat_high=csat["high"])


# --- surveys -------------------------------------------------------------------

def _answers(sl: Slice) -> ir.Table:
    """The survey_month parts of the slice's period (analytics.measures)."""
    sm = measures.parts(sl, measures.SURVEY_MONTH)
    return sm.filter(sl.in_period(sm.month))


def nps_by_month(sl: Slice) -> pd.DataFrame:
    """NPS per month of answer: % promoters (9-10) minus % detractors (0-6) among the month's NPS answers, -100..100.

    Columns: month, answers, promoters, passives, detractors, value, low, high
    (low/high: 95% band, value ± 1.96 standard errors; none under 2 answers).
    """
    sm = _answers(sl)
    counts = sm.group_by("month").agg(answers=sm.nps_answers.sum(), promoters=sm.promoters.sum(),
                                      passives=sm.passives.sum(), detractors=sm.detractors.sum())
    counts = counts.filter(counts.answers > 0)
    expr = counts.mutate(**measures.nps(counts.answers, counts.promoters, counts.detractors)).order_by("month")
    return expr.execute()


def csat_by_month(sl: Slice) -> pd.DataFrame:
    """CSAT per month of answer: the share of the month's CSAT answers that are 4 or 5 (0..1).

    Columns: month, answers, satisfied, value, low, high (low/high: 95% Wilson interval).
    """
    sm = _answers(sl)
    counts = sm.group_by("month").agg(answers=sm.csat_answers.sum(), satisfied=sm.satisfied.sum())
    counts = counts.filter(counts.answers > 0)
    expr = counts.mutate(**measures.csat(counts.answers, counts.satisfied)).order_by("month")
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
    if dimension == "tier":  # the tier at the as-of month depends on the rule set: from the answers themselves
        s = _surveys(sl)
        cm = sl.table("customer_month")
        at = cm.filter(cm.month == sl.as_of())
        s = s.join(at.select("customer_id", tier=tier(at, sl.rules)), "customer_id")
        answers = s.select(dimension, **measures.survey_counts(s))
    else:
        answers = _answers(sl).rename(branch="branch_code")
    counts = answers.group_by(dimension).agg(
        **{name: answers[name].sum() for name in ("nps_answers", "promoters", "detractors", "csat_answers",
                                                   "satisfied")})
    expr = counts.select(dimension, "nps_answers", "csat_answers", **_figures(counts))
    frame = expr.select(dimension, "nps_answers", "nps", "nps_low", "nps_high", "csat_answers", "csat", "csat_low",
                        "csat_high").execute()
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
                           group=measures.nps_group(latest.nps), month=month_end(latest.answered_at))
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

def _complaints(sl: Slice) -> ir.Table:
    """The complaint_month parts of the slice (analytics.measures): complaints by the month they were opened and
    the month they were resolved (none: open)."""
    return measures.parts(sl, measures.COMPLAINT_MONTH)


def complaints_by_category(sl: Slice) -> pd.DataFrame:
    """Complaints opened in the period, by category: how many, how many still open at the period's end
    (the as-of month-end, end of day), how many resolved by then, and SLA compliance = resolved within
    their SLA days / resolved.

    Columns: category, complaints, open, resolved, within_sla, sla_compliance.
    """
    c = _complaints(sl)
    c = c.filter(sl.in_period(c.opened_month))
    # A column first: as_of() may be a reduction of another table, which Ibis
    # makes a subquery in a projection but not inside an aggregate's `where`.
    c = c.mutate(is_resolved=c.resolved_month.notnull() & (c.resolved_month <= sl.as_of()))
    counts = c.group_by("category").agg(
        complaints=c.complaints.sum(),
        open=c.complaints.sum(where=~c.is_resolved).fill_null(0),
        resolved=c.complaints.sum(where=c.is_resolved).fill_null(0),
        within_sla=c.within_sla.sum(where=c.is_resolved).fill_null(0),
    )
    expr = counts.mutate(sla_compliance=measures.rate(counts.within_sla, counts.resolved))
    return expr.order_by([ibis.desc("complaints"), "category"]).execute()


def backlog_by_month(sl: Slice) -> pd.DataFrame:
    """Complaints open at each month-end of the period: opened on or before that day and not resolved by
    its end. Columns: month, open."""
    bm = measures.parts(sl, measures.BRANCH_MONTH)
    months = bm.filter(sl.in_period(bm.month) & (bm.rows > 0)).group_by("month").aggregate()  # see filters.options
    c = _complaints(sl).select("opened_month", "resolved_month", "complaints")
    open_then = months.left_join(c, [
        c.opened_month <= months.month,
        c.resolved_month.isnull() | (c.resolved_month > months.month),
    ])
    expr = open_then.group_by("month").agg(open=_.complaints.sum().fill_null(0)).order_by("month")
    return expr.execute()


def sla_by_month(sl: Slice) -> pd.DataFrame:
    """Complaint SLA compliance per month of resolution: complaints resolved within their SLA days
    (resolved_at - opened_at <= sla_days) / complaints resolved that month.

    Columns: month, resolved, within_sla, value.
    """
    c = _complaints(sl)
    c = c.filter(c.resolved_month.notnull() & sl.in_period(c.resolved_month))
    counts = c.group_by(month=c.resolved_month).agg(resolved=c.complaints.sum(), within_sla=c.within_sla.sum())
    expr = counts.mutate(value=measures.rate(counts.within_sla, counts.resolved)).order_by("month")
    return expr.execute()
