"""Overview: the bank's health at a month-end against the month before and a year before."""

import pandas as pd
import plotly.express as px
import streamlit as st

from analytics import format as fmt
from analytics.kpis import KPIS, snapshot
from ui import guard
from ui.cache import kpi_series, session_scope, store_version

guard.page("overview")

scope = session_scope()
version = store_version()
series = {key: kpi_series(key, scope, version) for key in KPIS}

st.title("Overview")
months = sorted(series["customers"]["month"].unique(), reverse=True)
if not months:
    st.info("The store has no monthly data yet. Generate the demo store or import monthly_balances.")
    st.stop()
month = st.selectbox("Month-end", months, format_func=lambda m: pd.Timestamp(m).strftime("%Y-%m"))


def change_text(value, unit):
    if value is None:
        return None
    if unit == "pct":
        return f"{value * 100:+.2f} pp"
    if unit == "cny":
        return ("+" if value >= 0 else "") + fmt.money(value)
    return f"{value:+,.1f}" if unit == "score" else f"{value:+,.0f}"


for column, kpi in zip(st.columns(len(KPIS)), KPIS.values()):
    snap = snapshot(series[kpi.key], month)
    trend = series[kpi.key]
    trend = trend[trend["month"] <= month].tail(13)["value"]
    column.metric(
        kpi.label_en,
        fmt.BY_UNIT[kpi.unit](snap.value),
        delta=change_text(snap.change, kpi.unit),
        delta_color="normal" if kpi.up_is_good else "inverse",
        help=kpi.definition_en,
        chart_data=trend,
        chart_type="line",
        border=True,
    )
    column.caption(f"vs a year earlier: {change_text(snap.change_year, kpi.unit) or '–'}")

churn = series["churn_rate"]
figure = px.line(churn, x="month", y="value", labels={"month": "Month", "value": "Monthly churn rate"},
                 title="Monthly churn rate")
figure.update_yaxes(tickformat=".2%", rangemode="tozero")
st.plotly_chart(figure, width="stretch")
