"""Overview: the bank's health at a month-end against the month before, a year before and the target."""

import pandas as pd
import streamlit as st

from analytics import format as fmt
from analytics import portfolio, targets
from analytics.filters import period
from analytics.kpis import KPIS, snapshot
from analytics.scope import MIN_PEERS
from ui import guard, metrics
from ui.cache import compute, filter_options
from ui.charts import sparkline
from ui.filters import current
from ui.i18n import lang, t, term
from ui.scores import on_their_way
from ui.tables import table

guard.page("overview")

filters = current()
st.title(t("page.overview"))
months = filter_options().months
shown = period(filters, months)
if shown is None:
    st.info(t("no_data"))
    st.stop()
first, month = shown
# KPIs need the months before the period too (last month, a year ago): their history ignores its start.
history = filters.but(start=None)
series = {key: compute(kpi.fn, history) for key, kpi in KPIS.items()}
goals = targets.load()
st.caption(t("filters.as_of", month=fmt.month(month, lang())))


listed = list(KPIS.values())
for row in (listed[i:i + 3] for i in range(0, len(listed), 3)):
    for column, kpi in zip(st.columns(3), row):
        frame = series[kpi.key]
        snap = snapshot(frame, month)
        label = kpi.label_zh if lang() == "zh" else kpi.label_en
        metrics.metric(column, label, fmt.BY_UNIT[kpi.unit](snap.value, lang()), snap.change, kpi.unit,
                       kpi.up_is_good, help=kpi.definition_zh if lang() == "zh" else kpi.definition_en, border=True)
        trend = frame[(pd.to_datetime(frame["month"]) >= pd.Timestamp(first))
                      & (pd.to_datetime(frame["month"]) <= pd.Timestamp(month))]
        target = goals.get(kpi.key)
        with column:  # the KPI's months in the period; a hover or a tap above a month shows it and its value
            sparkline(trend["month"], trend["value"], label, kpi.unit, target)
        notes = [t("overview.vs_year", change=fmt.change(snap.change_year, kpi.unit, lang()) or "–")]
        if target is not None:
            notes.append(t("overview.target", target=fmt.BY_UNIT[kpi.unit](target, lang())))
        column.caption(" · ".join(notes))

st.subheader(t("overview.league"), help=t("overview.league_help"))
league = compute(portfolio.league, filters)
if league.branch_code.isna().all():
    st.info(t("empty"))
else:
    bank = league.branch_code.isna()
    league = league.assign(
        branch=league["name" if lang() == "zh" else "name_en"].where(~bank, t("overview.bank")),
        region=[term("region", r) if isinstance(r, str) else "–" for r in league.region])
    st.caption(t("overview.league_ranked", n=fmt.count(league.ranked.iloc[0])) if bank.any()
               else t("overview.league_few", n=fmt.count(league.ranked.iloc[0]), min=MIN_PEERS))
    on_their_way("churn")  # the league's value at risk
    table(league, {"rank": ("col.rank", "count"), "branch": ("col.branch", None), "region": ("col.region", None),
                   "customers": ("col.customers", "count"), "aum_cny": ("col.aum", "cny"),
                   "aum_change_12m": ("col.aum_change_12m", "pct1"), "churn_rate_12m": ("col.churn_rate_12m", "pct"),
                   "nps_12m": ("col.nps_12m", "score"), "value_at_risk_cny": ("col.value_at_risk", "cny")},
          "branch_league")
