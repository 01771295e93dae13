"""Chart helpers every page shares: what a click selected, and a plain message instead of an empty chart."""

from __future__ import annotations

import streamlit as st


def clicked(event, position: int = 0):
    """The customdata value at `position` of the first point a click (or box) selected, or None."""
    points = (event or {}).get("selection", {}).get("points", []) if isinstance(event, dict) else \
        getattr(getattr(event, "selection", None), "points", None) or []
    for point in points:
        data = point.get("customdata")
        if data is not None:
            return data[position] if isinstance(data, list | tuple) else data
    return None


def drillable(figure, key: str):
    """A chart whose bars can be clicked; returns the selection event."""
    figure.update_layout(clickmode="event+select", dragmode=False)
    return st.plotly_chart(figure, width="stretch", key=key, on_select="rerun", selection_mode="points",
                           config={"displayModeBar": False})


def chart(figure, key: str | None = None) -> None:
    st.plotly_chart(figure, width="stretch", key=key, config={"displayModeBar": False})
