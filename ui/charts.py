"""Chart helpers every page shares: one formatter that makes a figure read in the session's language and units,
drawing it (its text shown as text, never as plotly's HTML), and what a click selected.

A chart says the unit of each axis of numbers: `x=`, `y=` (`z=` for a heatmap's colours), one of
analytics.format.BY_UNIT ("cny", "count", "pct", "score", "number"); an axis of month-ends is known from its
data and an axis of names needs none. Plotly's number formats cannot say 万/亿 nor its dates 2026年1月: money axes
get tick values and texts worked out here, month axes their month names, and every point a hover made of words,
its values formatted as the tables format them (analytics.format), never plotly's column names and "=".
"""

from __future__ import annotations

import datetime as dt
import html
import math
import urllib.parse
from collections.abc import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from analytics import format as fmt
from analytics import i18n
from analytics.rules import STAGES
from ui import theme
from ui.i18n import lang, message, term
from ui.text import from_figure, plain_figure

MONTH_TICKS = 6  # at most this many month names on an axis: "2026年1月" needs room, on a phone too
VALUE_TICKS = {"y": 5, "x": 3}  # about this many ticks on a money axis; fewer across, where labels sit side by side
# d3 formats that read the same in both languages (plotly's default would write 22.817k)
TICK_FORMATS = {"pct": "~%", "count": ",", "score": ",", "number": ","}


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


def formatted(figure: go.Figure, lang: str, *, x: str | None = None, y: str | None = None, z: str | None = None,
              more: Sequence[tuple[str, str]] = ()) -> go.Figure:
    """`figure` reading in `lang`: month-ends drawn within their month under the month's name, each axis of
    numbers in its unit (`x`, `y`; `z` a heatmap's colours), and each point's hover in words: what it is (the
    trace's name, its month or category) and each value with its axis title. `more`: (message key, unit) of the
    last columns of each trace's customdata (px's custom_data; a click's key comes first) to add to the hover, in
    order. In place; returns it."""
    units = {"x": x, "y": y, "z": z}
    for trace in _plotted(figure):
        for side in ("x", "y", "z"):
            if _kind(_values(trace, side)) == "number" and units[side] is None:
                raise ValueError(f"a chart's {side} axis holds numbers: say their unit ({', '.join(fmt.BY_UNIT)})")
    months_in_place(figure)
    for side in ("x", "y"):
        for name, traces in _axes(figure, side).items():
            kinds = {_kind(_values(trace, side)) for trace in traces}
            if "month" in kinds:
                _month_ticks(figure.layout[name], traces, side, lang)
            elif "number" in kinds:
                _value_ticks(figure, figure.layout[name], traces, side, units[side], lang)
    if z is not None:
        figure.update_coloraxes(colorbar_tickformat=TICK_FORMATS.get(z))
    for trace in _plotted(figure):
        if trace.hoverinfo != "skip":
            _hover(figure, trace, units, more, lang)
    return figure


def drillable(figure, key: str, **units):
    """A chart whose bars can be clicked; returns the selection event. `units` as for `formatted`."""
    figure.update_layout(clickmode="event+select", dragmode=False)
    return st.plotly_chart(plain_figure(formatted(figure, lang(), **units)), width="stretch", key=key,
                           on_select="rerun", selection_mode="points", config={"displayModeBar": False})


def chart(figure, key: str | None = None, **units) -> None:
    """Draw `figure` read in the session's language; `units` as for `formatted` (each axis of numbers needs one)."""
    st.plotly_chart(plain_figure(formatted(figure, lang(), **units)), width="stretch", key=key,
                    config={"displayModeBar": False})


SPARK_CLASS = "bankcrm-spark"  # the element of a sparkline, also for what waits for one to be drawn
SPARK_HEIGHT_PX = 70
SPARK_PAD = 8  # of the image's 100 units of height, kept free above and below the line
_SPARK_CSS = f"""
.{SPARK_CLASS}{{position:relative;height:{SPARK_HEIGHT_PX}px;margin:0 0 2px}}
.{SPARK_CLASS} img{{position:absolute;inset:0;width:100%;height:100%}}
.{SPARK_CLASS} ol{{position:absolute;inset:0;display:flex;margin:0;padding:0;list-style:none}}
.{SPARK_CLASS} li{{flex:1;position:relative;margin:0;padding:0;cursor:default;outline:none}}
.{SPARK_CLASS} li i{{display:none;position:absolute;left:50%;width:8px;height:8px;margin:-4px 0 0 -4px;
  border-radius:50%;background:{theme.SERIES[0]}}}
.{SPARK_CLASS} li span{{display:none;position:absolute;bottom:100%;left:50%;z-index:2;padding:2px 6px;
  white-space:nowrap;font-size:12px;line-height:1.4;color:{theme.INK};background:#fff;
  border:1px solid #C9CED3;border-radius:4px;box-shadow:0 1px 3px rgba(0,0,0,.15)}}
.{SPARK_CLASS} li.right-half span{{left:auto;right:50%}}
.{SPARK_CLASS} li:hover i,.{SPARK_CLASS} li:focus i,.{SPARK_CLASS} li:hover span,.{SPARK_CLASS} li:focus span
  {{display:block}}
"""


def sparkline(months: Sequence, values: Sequence[float], label: str, unit: str, target: float | None = None) -> None:
    """A KPI's months drawn small, in its tile: `sparkline_html` in the session's language."""
    st.html(sparkline_html(months, values, label, unit, target, lang()))


def sparkline_html(months: Sequence, values: Sequence[float], label: str, unit: str, target: float | None,
                   lang: str) -> str:
    """The line of `values` (one per month-end of `months`, in `unit`), a dotted line at `target`, and over each
    month a column that a hover or a tap turns into its point and its words, as every chart's hover reads them
    (`formatted`): "Jan 2026" and "Customers: 12,345".

    No plotly: a browser signing in would load and run its library for the nine tiles of the Overview. The
    lines are an SVG image, which holds no text and runs nothing; the words are escaped text in HTML that
    Streamlit sanitises again (st.html), shown and hidden by CSS alone."""
    values = [None if v is None or (isinstance(v, float) and math.isnan(v)) else float(v) for v in values]
    drawn = [v for v in values if v is not None] + ([] if target is None else [float(target)])
    low, high = (min(drawn), max(drawn)) if drawn else (0.0, 1.0)
    span = high - low or abs(high) or 1.0
    low, high = (low, high) if high > low else (low - span / 2, high + span / 2)

    def y(value: float) -> float:
        return round(SPARK_PAD + (high - value) / (high - low) * (100 - 2 * SPARK_PAD), 2)

    def x(i: int) -> float:  # each month in the middle of its column, as `months_in_place` draws them
        return round((i + 0.5) * 100 / len(values), 2)

    shapes = []
    if target is not None:
        shapes.append(f'<line x1="0" x2="100" y1="{y(target)}" y2="{y(target)}" stroke="{theme.TARGET}" '
                      'stroke-width="1.5" stroke-dasharray="2 3" vector-effect="non-scaling-stroke"/>')
    runs: list[list[int]] = [[]]
    for i, value in enumerate(values):
        if value is None:
            runs.append([])
        else:
            runs[-1].append(i)
    for run in (r for r in runs if r):
        if len(run) == 1:  # a month alone (no month beside it has a value): a dot
            shapes.append(f'<ellipse cx="{x(run[0])}" cy="{y(values[run[0]])}" rx="1" ry="3" '
                          f'fill="{theme.SERIES[0]}"/>')
        else:
            points = " ".join(f"{x(i)},{y(values[i])}" for i in run)
            shapes.append(f'<polyline points="{points}" fill="none" stroke="{theme.SERIES[0]}" stroke-width="2" '
                          'stroke-linejoin="round" vector-effect="non-scaling-stroke"/>')
    image = ('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 100 100" preserveAspectRatio="none">'
             + "".join(shapes) + "</svg>")
    columns = []
    for i, (month, value) in enumerate(zip(months, values, strict=True)):
        words = [_shown(month, "month", None, lang), _line(label, fmt.BY_UNIT[unit](value, lang), lang)]
        dot = "" if value is None else f'<i style="top:{y(value)}%"></i>'
        side = ' class="right-half"' if i >= len(values) / 2 else ""  # its words open towards the tile's middle
        columns.append(f'<li tabindex="0"{side}>{dot}<span>{"<br>".join(html.escape(w) for w in words)}</span></li>')
    return (f"<style>{_SPARK_CSS}</style>"
            f'<div class="{SPARK_CLASS}" role="img" aria-label="{html.escape(label)}">'
            f'<img alt="" src="data:image/svg+xml,{urllib.parse.quote(image)}"><ol>{"".join(columns)}</ol></div>')


def migration(moves: pd.DataFrame, nodes: list[str], left: str, right: str, key: str) -> None:
    """A Sankey of customers moving from `from_tier` to `to_tier` (a frame with `customers` per pair);
    `nodes` are tier codes (and the stages New and Churned) in order, `left` and `right` name the sides."""
    names = [term("stage", n) if n in STAGES else term("tier", n) for n in nodes]
    colours = [theme.STAGE_COLOURS.get(n) or theme.TIER_COLOURS[n] for n in nodes]
    customers = message("col.customers")
    figure = go.Figure(go.Sankey(
        node=dict(label=[f"{n} · {left}" for n in names] + [f"{n} · {right}" for n in names],
                  color=colours * 2, pad=14, thickness=16,
                  hovertemplate=f"%{{label}}<br>{customers}: %{{value:,}}<extra></extra>"),
        link=dict(source=[nodes.index(v) for v in moves.from_tier],
                  target=[len(nodes) + nodes.index(v) for v in moves.to_tier],
                  value=list(moves.customers), color="rgba(120,130,140,0.25)",
                  hovertemplate=f"%{{source.label}} → %{{target.label}}<br>{customers}: %{{value:,}}<extra></extra>"),
    ))
    figure.update_layout(height=420)
    chart(figure, key=key)


def _plotted(figure: go.Figure) -> list:
    """The traces drawn on axes (a Sankey has none and its own hovers)."""
    return [trace for trace in figure.data if trace.type != "sankey"]


def _values(trace, name: str):
    """The trace's `name` attribute (its x, y, z, stackgroup ...), None where its type has none."""
    return trace[name] if name in trace else None


def _kind(values) -> str | None:
    """"month" (dates: month-ends), "number", "name", or None (no values)."""
    if values is None:
        return None
    array = np.asarray(values, dtype=object if not isinstance(values, np.ndarray) else None)
    if array.dtype.kind == "M":
        return "month"
    if array.dtype.kind in "iuf":
        return "number" if array.size else None
    first = next((v for v in array.ravel() if v is not None), None)
    if first is None:
        return None
    if isinstance(first, dt.date | np.datetime64):
        return "month"
    if isinstance(first, int | float | np.number) and not isinstance(first, bool | np.bool_):
        return "number"
    return "name"


def _axes(figure: go.Figure, side: str) -> dict[str, list]:
    """The traces on each axis of `side` ("xaxis", "xaxis2" ...), heatmaps' names and a Sankey aside."""
    axes: dict[str, list] = {}
    for trace in _plotted(figure):
        if trace.type != "heatmap":
            anchor = trace[f"{side}axis"] or side
            axes.setdefault(f"{side}axis{anchor[1:]}", []).append(trace)
    return axes


def _month_ticks(axis, traces: list, side: str, lang: str) -> None:
    """The month names (2026年1月, Jan 2026) under the points, counted back from the last month so that the
    as-of month is always named, at most MONTH_TICKS of them."""
    months = sorted({pd.Timestamp(v).normalize() for trace in traces for v in _values(trace, side) if not pd.isna(v)})
    if not months:
        return
    named = months[::-math.ceil(len(months) / MONTH_TICKS)][::-1]
    within = any(_values(trace, "xperiodalignment") == "middle" for trace in traces)
    # a label past the plot's edge (the last month's, under a point at the edge) is hidden unless allowed out:
    # the margin then grows to hold it
    axis.update(tickmode="array", tickvals=[_middle(m) if within else m for m in named],
                ticktext=[fmt.month(m, lang) for m in named], ticklabeloverflow="allow")


def _middle(month_end: pd.Timestamp) -> pd.Timestamp:
    """Where plotly draws a month's point when it is drawn in the middle of its month."""
    start = month_end.replace(day=1)
    return start + (start + pd.offsets.MonthBegin(1) - start) / 2


def _value_ticks(figure: go.Figure, axis, traces: list, side: str, unit: str, lang: str) -> None:
    if unit != "cny":
        axis.update(tickformat=TICK_FORMATS[unit])
        return
    ticks = _round_ticks(*_extent(figure, traces, side), count=VALUE_TICKS[side])
    axis.update(tickmode="array", tickvals=ticks, ticktext=fmt.money_ticks(ticks, lang), ticklabeloverflow="allow")


def _extent(figure: go.Figure, traces: list, side: str) -> tuple[float, float]:
    """The lowest and highest value drawn on an axis: bars from zero, stacks (bars, filled areas) to their top,
    and any line across the chart (a target)."""
    other = "y" if side == "x" else "x"
    drawn = [0.0] if any(trace.type in ("bar", "funnel") or _values(trace, "stackgroup") for trace in traces) else []
    stacks: dict = {}
    for trace in traces:
        values = np.asarray(_values(trace, side), dtype=float)
        if not np.isnan(values).all():
            drawn += [float(np.nanmin(values)), float(np.nanmax(values))]
        stacked = _values(trace, "stackgroup") or (trace.type == "bar" and figure.layout.barmode in ("stack", "relative"))
        if stacked:
            group = stacks.setdefault(stacked, {})
            for at, value in zip(map(str, _values(trace, other)), values):
                group[at] = group.get(at, 0.0) + max(value, 0.0)
    drawn += [top for group in stacks.values() for top in group.values()]
    drawn += [shape[f"{side}0"] for shape in figure.layout.shapes
              if shape[f"{side}0"] is not None and shape[f"{side}0"] == shape[f"{side}1"]
              and (shape[f"{side}ref"] or side).startswith(side)]
    return (min(drawn), max(drawn)) if drawn else (0.0, 1.0)


def _round_ticks(low: float, high: float, count: int) -> list[float]:
    """Round values from below `low` to above `high`, about `count` steps of 1, 2, 2.5 or 5 times a power of ten."""
    if high <= low:
        high = low + (abs(low) or 1.0)
    rough = (high - low) / count
    power = 10 ** math.floor(math.log10(rough))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= rough)
    first, last = math.floor(low / step), math.ceil(high / step)
    return [round(i * step, 6) for i in range(first, last + 1)]


def _title(figure: go.Figure, trace, side: str) -> str:
    if side == "z":
        return figure.layout.coloraxis.colorbar.title.text or ""
    return figure.layout[f"{side}axis{(trace[f'{side}axis'] or side)[1:]}"].title.text or ""


def _shown(value, kind: str | None, unit: str | None, lang: str) -> str:
    if unit:
        return fmt.BY_UNIT[unit](value, lang)
    if kind == "month":
        return fmt.month(value, lang)
    return str(value)


def _hover(figure: go.Figure, trace, units: dict, more: Sequence[tuple[str, str]], lang: str) -> None:
    """The trace's hover in words: "大众 · 2026年1月<br>流失率：1.07%<br>流失数：304". Its lines are put into the
    trace's customdata, after the columns there (what a click reads), as text plain_figure shows as text."""
    sides = ("x", "y", "z") if trace.type == "heatmap" else ("x", "y")
    points = _points(trace, sides)
    if not points:
        return
    name = (trace.name or "") if trace.type != "heatmap" else ""  # px names a heatmap "0"
    headings, lines = [], []
    for side in sides:
        kind = _kind(_values(trace, side))
        if kind is None:
            continue
        if units[side] is None or kind != "number":
            headings.append([_shown(point[side], kind, None, lang) for point in points])
            continue
        label = _title(figure, trace, side) or name
        name = "" if label == name else name
        lines.append([_line(label, _shown(point[side], kind, units[side], lang), lang) for point in points])
    extra = [point["customdata"] or [] for point in points]
    kept = len(extra[0])  # the trace's own customdata columns come first: a click reads them
    for i, (key, unit) in enumerate(more, start=kept - len(more)):
        lines.append([_line(i18n.t(key, lang), fmt.BY_UNIT[unit](row[i], lang), lang) for row in extra])
    heading = [" · ".join(([name] if name and name not in parts else []) + [part for part in parts if part])
               for parts in zip(*headings, strict=True)] if headings else [name] * len(points)
    texts = ([heading] if any(heading) else []) + lines
    if not texts:
        return
    cells = [[*row, *shown] for row, shown in zip(extra, zip(*texts, strict=True), strict=True)]
    if trace.type == "heatmap":
        width = len(trace.z[0])
        cells = [cells[i:i + width] for i in range(0, len(cells), width)]
    trace.update(customdata=np.array(cells, dtype=object), hovertemplate="<br>".join(
        f"%{{customdata[{kept + i}]}}" for i in range(len(texts))) + "<extra></extra>")


def _points(trace, sides: tuple[str, ...]) -> list[dict]:
    """Each point (a heatmap's cell) with its value on each side and its customdata row."""
    if trace.type == "heatmap":
        rows = np.asarray(trace.z, dtype=object)
        x = trace.x if trace.x is not None else range(rows.shape[1])
        y = trace.y if trace.y is not None else range(rows.shape[0])
        data = trace.customdata
        return [{"x": x[c], "y": y[r], "z": rows[r][c],
                 "customdata": None if data is None else list(np.atleast_1d(data[r][c]))}
                for r in range(rows.shape[0]) for c in range(rows.shape[1])]
    values = {side: _values(trace, side) for side in sides}
    size = max((len(v) for v in values.values() if v is not None), default=0)
    data = trace.customdata
    return [{**{side: (v[i] if v is not None else None) for side, v in values.items()},
             "customdata": None if data is None else list(np.atleast_1d(data[i]))} for i in range(size)]


def _line(label: str, value: str, lang: str) -> str:
    return i18n.t("chart.value", lang, label=label, value=value) if label else value
