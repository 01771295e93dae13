"""Chart helpers every page shares: drawing a figure (its text shown as text, never as plotly's HTML), and what a
click selected."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from analytics.rules import STAGES
from ui import theme
from ui.i18n import term
from ui.text import from_figure, plain_figure


def clicked(event, position: int = 0):
    """The customdata value at `position` of the first point a click (or box) selected, or None."""
    points = (event or {}).get("selection", {}).get("points", []) if isinstance(event, dict) else \
        getattr(getattr(event, "selection", None), "points", None) or []
    for point in points:
        data = point.get("customdata")
        if data is not None:
            return from_figure(data[position] if isinstance(data, list | tuple) else data)
    return None


def months_in_place(figure: go.Figure) -> go.Figure:
    """A month's figure is dated its month-end (30 Nov); drawn there it sits past the "Nov" tick, nearly at
    December. Every trace whose x are month-ends is drawn within its month instead (plotly's periods), under
    month ticks that name the month they span. In place; returns `figure`."""
    monthly = False
    for trace in (trace for trace in figure.data if trace.type in ("scatter", "bar")):
        x = np.asarray(trace.x if trace.x is not None else [])
        if not len(x) or not (x.dtype.kind == "M" or isinstance(x[0], dt.date)):
            continue
        if pd.Series(pd.to_datetime(x)).dt.is_month_end.all():
            trace.update(xperiod="M1", xperiodalignment="middle")
            monthly = True
    if monthly:
        figure.update_xaxes(ticklabelmode="period")
    return figure


def drillable(figure, key: str):
    """A chart whose bars can be clicked; returns the selection event."""
    figure.update_layout(clickmode="event+select", dragmode=False)
    return st.plotly_chart(plain_figure(months_in_place(figure)), width="stretch", key=key, on_select="rerun",
                           selection_mode="points", config={"displayModeBar": False})


def chart(figure, key: str | None = None) -> None:
    st.plotly_chart(plain_figure(months_in_place(figure)), width="stretch", key=key, config={"displayModeBar": False})


def migration(moves: pd.DataFrame, nodes: list[str], left: str, right: str, key: str) -> None:
    """A Sankey of customers moving from `from_tier` to `to_tier` (a frame with `customers` per pair);
    `nodes` are tier codes (and the stages New and Churned) in order, `left` and `right` name the sides."""
    names = [term("stage", n) if n in STAGES else term("tier", n) for n in nodes]
    colours = [theme.STAGE_COLOURS.get(n) or theme.TIER_COLOURS[n] for n in nodes]
    figure = go.Figure(go.Sankey(
        node=dict(label=[f"{n} · {left}" for n in names] + [f"{n} · {right}" for n in names],
                  color=colours * 2, pad=14, thickness=16),
        link=dict(source=[nodes.index(v) for v in moves.from_tier],
                  target=[len(nodes) + nodes.index(v) for v in moves.to_tier],
                  value=list(moves.customers), color="rgba(120,130,140,0.25)"),
    ))
    figure.update_layout(height=420)
    chart(figure, key=key)
