"""What the churn model sees of a customer at a month-end, and what it learns to predict.

`features(tables, month)` uses only what was known at that month-end: the
customer_month rows up to it, complaints opened by then (open if not
resolved by then), survey answers given by then. A test builds the features
from a store cut off at the month-end and from the full store and requires
them to be equal, so nothing from the future can leak in.

`labels(tables, month)`: did the customer churn (shared/DESIGN.md) in the
three months after the month-end.
"""

from __future__ import annotations

import datetime as dt

import ibis
import ibis.expr.types as ir
import pandas as pd
from ibis import _

from analytics.ml.pipeline import Features
from analytics.scope import ScopedStore

HORIZON_MONTHS = 3

FEATURES = Features(
    numeric=(
        "aum_cny", "aum_3m_avg_cny", "aum_change_3m_pct", "investment_share", "products_held",
        "txn_count_month", "txn_count_3m", "digital_logins_3m", "days_since_last_txn", "tenure_months",
        "age_years", "open_complaints", "oldest_open_complaint_days", "complaints_90d", "last_nps",
    ),
    # No gender: a protected attribute is neither a reason to give nor a lever to pull.
    categorical=(),
)


def _month_idx(month: dt.date) -> int:
    return month.year * 12 + month.month - 1


def features(tables: ScopedStore, month: dt.date) -> ir.Table:
    """One row per customer not churned at `month` (a month-end): customer_id plus FEATURES."""
    idx = _month_idx(month)
    end_of_day = ibis.timestamp(dt.datetime.combine(month, dt.time()) + dt.timedelta(days=1))
    cm = tables.table("customer_month")
    now = cm.filter((cm.month_idx == idx) & ~cm.is_churned)
    recent = (cm.filter((cm.month_idx > idx - 3) & (cm.month_idx <= idx))
              .group_by("customer_id")
              .agg(txn_count_3m=_.txn_count.sum(), digital_logins_3m=_.digital_logins.sum()))
    complaints = tables.table("complaints")
    known = complaints.filter(complaints.opened_at < end_of_day)
    is_open = known.resolved_at.isnull() | (known.resolved_at >= end_of_day)
    complaint_figures = known.group_by("customer_id").agg(
        open_complaints=is_open.sum(),
        oldest_open_complaint_days=is_open.ifelse(ibis.date(month).delta(known.opened_at.date(), unit="day"), None).max(),
        complaints_90d=(known.opened_at >= end_of_day - ibis.interval(days=90)).sum(),
    )
    surveys = tables.table("surveys")
    answered = surveys.filter((surveys.answered_at < end_of_day) & surveys.nps.notnull())
    last_nps = (answered.mutate(rank=ibis.row_number().over(group_by="customer_id",
                                                             order_by=[ibis.desc("answered_at"), ibis.desc("survey_id")]))
                .filter(_.rank == 0).select("customer_id", last_nps=_.nps))
    customers = tables.table("customers").select("customer_id", "birth_date")
    joined = (now.left_join(recent, "customer_id").left_join(complaint_figures, "customer_id")
              .left_join(last_nps, "customer_id").left_join(customers, "customer_id"))
    return joined.select(
        "customer_id",
        aum_cny=_.aum_cny,
        aum_3m_avg_cny=_.aum_3m_avg_cny,
        aum_change_3m_pct=((_.aum_cny - _.aum_3m_ago_cny) / _.aum_3m_ago_cny.nullif(0)),
        investment_share=(_.investments_cny / _.aum_cny.nullif(0)),
        products_held=_.products_held,
        txn_count_month=_.txn_count,
        txn_count_3m=_.txn_count_3m,
        digital_logins_3m=_.digital_logins_3m,
        days_since_last_txn=_.days_since_last_txn,
        tenure_months=_.tenure_months,
        age_years=ibis.date(month).delta(joined.birth_date, unit="day").cast("float64") / 365.25,  # not a decimal on Spark
        open_complaints=_.open_complaints.fill_null(0),
        oldest_open_complaint_days=_.oldest_open_complaint_days,
        complaints_90d=_.complaints_90d.fill_null(0),
        last_nps=_.last_nps,
    )


def labels(tables: ScopedStore, month: dt.date) -> ir.Table:
    """customer_id, churned: churned in the HORIZON_MONTHS after `month`."""
    idx = _month_idx(month)
    cm = tables.table("customer_month")
    churned = (cm.filter(cm.churned_in_month & (cm.month_idx > idx) & (cm.month_idx <= idx + HORIZON_MONTHS))
               .select("customer_id").distinct().mutate(churned=ibis.literal(True)))
    active = cm.filter((cm.month_idx == idx) & ~cm.is_churned).select("customer_id")
    return active.left_join(churned, "customer_id").select("customer_id", churned=_.churned.fill_null(False))


def training_frame(tables: ScopedStore, month: dt.date) -> pd.DataFrame:
    """Features and label of every customer active at `month`."""
    return features(tables, month).join(labels(tables, month), "customer_id").order_by("customer_id").execute()
