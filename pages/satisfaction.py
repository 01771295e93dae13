"""Satisfaction: NPS and CSAT with confidence bands, by tier, branch, channel and touchpoint; complaints."""

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
import streamlit as st

from analytics import satisfaction, targets
from analytics.filters import period
from ui import guard, theme
from ui.cache import compute, filter_options
from ui.charts import chart
from ui.filters import current
from ui.i18n import lang, t, term, texts
from ui.tables import table

guard.page("satisfaction")

HEADERS = {"tier": "col.tier", "branch": "col.branch", "channel": "col.channel", "touchpoint": "col.touchpoint"}

filters = current()
st.title(t("page.satisfaction"))
nps = compute(satisfaction.nps_by_month, filters) if period(filters, filter_options().months) else None
csat = compute(satisfaction.csat_by_month, filters) if nps is not None else None
if nps is None or (nps.answers.sum() == 0 and csat.answers.sum() == 0):
    st.info(t("empty"))
    st.stop()
goals = targets.load()


def banded(frame: pd.DataFrame, title: str, target: float | None) -> go.Figure:
    """The monthly value with its 95% band, so a small branch's swing is not read as a trend."""
    figure = go.Figure([
        go.Scatter(x=frame.month, y=frame.high, mode="lines", line=dict(width=0), hoverinfo="skip", showlegend=False),
        go.Scatter(x=frame.month, y=frame.low, mode="lines", line=dict(width=0), fill="tonexty", fillcolor=theme.BAND,
                   hoverinfo="skip", showlegend=False),
        go.Scatter(x=frame.month, y=frame.value, mode="lines+markers", name=title, customdata=frame[["answers"]]),
    ])
    if target is not None:
        figure.add_hline(y=target, line=dict(color=theme.TARGET, dash="dot"))
    figure.update_layout(title=title, showlegend=False)
    return figure


left, right = st.columns(2)
answers = (("col.answers", "count"),)
with left:
    chart(banded(nps, t("satisfaction.nps"), goals.get("nps")), key="nps_months", y="score", more=answers)
with right:
    chart(banded(csat, t("satisfaction.csat"), goals.get("csat")), key="csat_months", y="pct", more=answers)
st.caption(t("satisfaction.band_help"))

st.subheader(t("satisfaction.by"))
dimension = st.segmented_control(t("satisfaction.by"), satisfaction.DIMENSIONS, default="tier", key="satisfaction_by",
                                 format_func=texts(HEADERS), label_visibility="collapsed") or "tier"
split = compute(satisfaction.by, filters, dimension)
if dimension == "branch":
    names = filter_options().branches.set_index("branch_code")["name" if lang() == "zh" else "name_en"]
    split = split.assign(label=split.branch.map(lambda code: f"{code} {names.get(code, '')}"))
else:
    split = split.assign(label=split[dimension].map(lambda v: term(dimension, v)))
figure = go.Figure(go.Bar(
    x=split.label, y=split.nps, error_y=dict(type="data", symmetric=False, array=split.nps_high - split.nps,
                                             arrayminus=split.nps - split.nps_low),
    marker_color=[theme.TIER_COLOURS.get(v, theme.SERIES[0]) for v in split[dimension]], name=t("col.nps"),
    customdata=split[["nps_low", "nps_high", "nps_answers"]],
))
figure.update_layout(title=t("col.nps"), yaxis=dict(range=[-100, 100]))
chart(figure, key="nps_by", y="score",
      more=(("col.nps_low", "score"), ("col.nps_high", "score"), ("col.nps_answers", "count")))
table(split, {"label": (HEADERS[dimension], None), "nps_answers": ("col.nps_answers", "count"),
              "nps": ("col.nps", "score"), "nps_low": ("col.nps_low", "score"), "nps_high": ("col.nps_high", "score"),
              "csat_answers": ("col.csat_answers", "count"), "csat": ("col.csat", "pct1"),
              "csat_low": ("col.csat_low", "pct1"), "csat_high": ("col.csat_high", "pct1")},
      f"satisfaction_by_{dimension}")

st.subheader(t("satisfaction.complaints"))
categories = compute(satisfaction.complaints_by_category, filters)
if categories.empty:
    st.caption(t("c360.none"))
else:
    categories = categories.assign(name=categories.category.map(lambda v: term("category", v)))
    figure = px.bar(categories, x="name", y=["resolved", "open"], barmode="stack",
                    labels={"name": "", "value": t("col.complaints"), "variable": ""})
    figure.for_each_trace(lambda tr: tr.update(name=t(f"col.{tr.name}")))
    chart(figure, key="complaint_categories", y="count")
    table(categories, {"category": ("col.category", "term:category"), "complaints": ("col.complaints", "count"),
                       "open": ("col.open", "count"), "resolved": ("col.resolved", "count"),
                       "within_sla": ("col.within_sla", "count"), "sla_compliance": ("col.sla_compliance", "pct1")},
          "complaints_by_category")

left, right = st.columns(2)
with left:
    backlog = compute(satisfaction.backlog_by_month, filters)
    figure = px.bar(backlog, x="month", y="open", labels={"month": t("col.month"), "open": t("col.open")},
                    title=t("satisfaction.backlog"), color_discrete_sequence=[theme.SERIES[1]])
    chart(figure, key="complaint_backlog", y="count")
with right:
    sla = compute(satisfaction.sla_by_month, filters)
    figure = px.line(sla, x="month", y="value", markers=True, title=t("satisfaction.sla"),
                     labels={"month": t("col.month"), "value": t("col.sla_compliance")})
    if (target := goals.get("complaint_sla")) is not None:
        figure.add_hline(y=target, line=dict(color=theme.TARGET, dash="dot"))
    chart(figure, key="complaint_sla", y="pct")

st.subheader(t("satisfaction.profile"), help=t("satisfaction.profile_help"))
profile = compute(satisfaction.promoters_vs_detractors, filters)
table(profile, {"feature": ("col.feature", "term:feature"), "detractors": ("col.detractors", "row"),
                "passives": ("col.passives", "row"), "promoters": ("col.promoters", "row")}, "promoters_vs_detractors")
