"""Funnel: lead -> contacted -> qualified -> applied -> approved -> activated, by any dimension."""

import plotly.express as px
import plotly.graph_objects as go
import streamlit as st

from analytics import format as fmt
from analytics import funnel
from analytics.filters import period
from analytics.schema import FUNNEL_STAGES
from ui import guard, theme
from ui.cache import compute, filter_options, saved_lists
from ui.charts import chart, clicked, drillable
from ui.filters import current
from ui.i18n import lang, t, term, texts
from ui.tables import table

guard.page("funnel")

HEADERS = {"campaign": "col.campaign", "product": "col.product", "channel": "col.channel", "branch": "col.branch",
           "rm": "col.rm"}

filters = current()
st.title(t("page.funnel"))
stages = compute(funnel.stages, filters) if period(filters, filter_options().months) else None
if stages is None or stages.leads.iloc[0] == 0:
    st.info(t("empty"))
    st.stop()

stages = stages.assign(name=stages.stage.map(lambda v: term("funnel", v)))
st.subheader(t("funnel.stages"))
figure = go.Figure(go.Funnel(
    y=stages.name, x=stages.leads, customdata=stages[["stage", "overall_conversion"]].values, textinfo="text",
    text=[f"{fmt.count(n)} · {fmt.pct(share, lang(), 1)}" for n, share in zip(stages.leads, stages.overall_conversion)],
    marker=dict(color=[theme.FUNNEL_COLOURS[s] for s in stages.stage]),
))
figure.update_xaxes(title=t("col.leads"))
picked = clicked(drillable(figure, key="funnel_stages", x="count", more=(("col.overall_conversion", "pct"),)))
st.caption(t("funnel.click_stage"))
table(stages, {"stage": ("col.stage_funnel", "term:funnel"), "leads": ("col.leads", "count"),
               "stage_conversion": ("col.stage_conversion", "pct1"),
               "overall_conversion": ("col.overall_conversion", "pct1")}, "funnel_stages")
if picked in FUNNEL_STAGES and picked != FUNNEL_STAGES[-1]:
    stopped = compute(funnel.stopped_at, filters, picked)
    st.subheader(t("funnel.stopped", stage=term("funnel", picked)))
    table(stopped, {"name": ("col.customer", None), "last_event_at": ("col.last_event", "date"),
                    "campaign_id": ("col.campaign", None), "rm_id": ("col.rm_id", None),
                    "branch_code": ("col.branch_code", None), "customer_id": ("col.customer_id", None),
                    "lead_id": ("col.lead_id", None)}, "funnel_stopped")

st.subheader(t("funnel.by"))
dimension = st.segmented_control(t("funnel.by"), funnel.DIMENSIONS, default="campaign", key="funnel_dimension",
                                 format_func=texts(HEADERS), label_visibility="collapsed") or "campaign"
split = compute(funnel.by, filters, dimension)
if dimension in ("product", "channel"):
    split = split.assign(label=split[dimension].map(lambda v: term(dimension, v)))
split = split.assign(label_text=split.label.astype(str))
top = split.head(15)
figure = px.bar(top, y="label_text", x="conversion", orientation="h", text=top.conversion.map(lambda v: fmt.pct(v, lang(), 1)),
                labels={"label_text": "", "conversion": t("col.conversion")}, color_discrete_sequence=[theme.SERIES[0]],
                custom_data=["leads", "activated"])
figure.update_layout(yaxis=dict(categoryorder="total ascending"), height=max(300, 28 * len(top)))
chart(figure, key="funnel_by", x="pct", more=(("col.leads", "count"), ("col.activated", "count")))
table(split, {"label_text": (HEADERS[dimension], None), "leads": ("col.leads", "count"),
              "activated": ("col.activated", "count"), "conversion": ("col.conversion", "pct1")}, f"funnel_by_{dimension}")

left, right = st.columns(2)
with left:
    st.subheader(t("funnel.times"))
    times = compute(funnel.stage_times, filters)
    times = times.assign(step=times.from_stage.map(lambda v: term("funnel", v)) + " → "
                         + times.to_stage.map(lambda v: term("funnel", v)))
    figure = px.bar(times, x="step", y="median_days", labels={"step": "", "median_days": t("col.median_days")},
                    text=times.median_days.map(lambda v: fmt.score(v)), color_discrete_sequence=[theme.SERIES[1]])
    chart(figure, key="funnel_times", y="score")
with right:
    st.subheader(t("funnel.drop_outs"))
    drops = compute(funnel.drop_outs, filters)
    drops = drops.assign(name=drops.stage.map(lambda v: term("funnel", v)))
    figure = px.bar(drops, x="name", y="leads", color="name", color_discrete_map=theme.colours("funnel"),
                    text=drops.share.map(lambda v: fmt.pct(v, lang(), 1)), labels={"name": "", "leads": t("col.leads")},
                    custom_data=["share"])
    figure.update_layout(showlegend=False)
    chart(figure, key="funnel_drops", y="count", more=(("col.share", "pct"),))

st.subheader(t("funnel.cohorts"))
cohorts = compute(funnel.cohorts, filters)
later = [s for s in FUNNEL_STAGES[1:] if s in cohorts.columns]
long = cohorts.melt(id_vars=["lead_month"], value_vars=later, var_name="stage", value_name="share")
long["name"] = long.stage.map(lambda v: term("funnel", v))
figure = px.line(long, x="lead_month", y="share", color="name", color_discrete_map=theme.colours("funnel"),
                 labels={"lead_month": t("col.month"), "share": t("col.overall_conversion"), "name": t("col.stage_funnel")},
                 category_orders={"name": theme.order("funnel")}, markers=True)
figure.update_yaxes(rangemode="tozero")
chart(figure, key="funnel_cohorts", y="pct")
table(cohorts, {"lead_month": ("col.month", "month"), "leads": ("col.leads", "count"),
                FUNNEL_STAGES[-1]: ("col.conversion", "pct1")}, "funnel_cohorts")

saved = saved_lists()
if not saved.empty:
    st.subheader(t("funnel.lists"))
    st.caption(t("funnel.lists_explain"))
    followed = compute(funnel.lists, filters, tuple(saved.campaign_id))
    table(followed, {"campaign": ("col.campaign_id", None), "label": ("col.campaign", None),
                     "leads": ("col.leads", "count"), "contacted": ("col.contacted", "count"),
                     "activated": ("col.activated", "count"), "conversion": ("col.conversion", "pct1")}, "funnel_lists")
