"""Tables as people read them on screen, and as files they download (CSV and Excel).

A table is described once by its columns: the source column, its header
(a translation key) and how its values read (money, share, term of a kind,
...). On screen the values are formatted for the language; in downloads
they stay numbers, with translated headers and terms, formula-like text
neutralised (analytics.export), and every download written to the audit log.
"""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
import streamlit as st
from pandas.api.types import is_string_dtype

from analytics import export
from analytics import format as fmt
from analytics.state import StateStore
from ui.cache import session_scope
from ui.filters import current
from ui.i18n import lang, t, term

# how a column reads on screen; "term:<kind>" names codes of that kind
SHOWN: dict[str, Callable] = {
    "cny": lambda v: fmt.money(v, lang()),
    "pct": lambda v: fmt.pct(v, lang()),
    "pct1": lambda v: fmt.pct(v, lang(), digits=1),
    "count": lambda v: fmt.count(v),
    "score": lambda v: fmt.score(v),
    "number": lambda v: fmt.number(v),  # a measure that is not a share: ROC-AUC, lift
    "days": lambda v: fmt.score(v),
    "month": lambda v: fmt.month(v, lang()),
    "date": lambda v: fmt.date(v, lang()),
    "time": lambda v: fmt.time(v, lang()),  # a moment kept in UTC, read in local time
}


def _missing(v) -> bool:
    return v is None or (isinstance(v, float) and pd.isna(v))


def _cell(unit: str | None) -> Callable:
    if unit is None:
        return lambda v: v
    if unit.startswith("term:"):
        return lambda v, kind=unit[5:]: term(kind, v)
    return SHOWN[unit]


def _downloaded(unit: str | None) -> Callable:
    if unit and unit.startswith("term:"):
        return _cell(unit)
    if unit in ("month", "date"):
        return lambda v: None if pd.isna(v) else pd.Timestamp(v).date().isoformat()
    if unit == "time":  # local time with its offset: unambiguous for a person and a program alike
        return lambda v: None if _missing(v) else fmt.local_time(v).isoformat(timespec="seconds")
    return lambda v: v


def _headers(columns: dict[str, tuple[str, str | None]]) -> list[str]:
    headers = [t(header) for header, _ in columns.values()]
    if twice := sorted({h for h in headers if headers.count(h) > 1}):  # one would hide the other's values
        raise ValueError(f"a table's headers must differ: {', '.join(twice)} head more than one column")
    return headers


def shown(frame: pd.DataFrame, columns: dict[str, tuple[str, str | None]]) -> pd.DataFrame:
    """The frame as displayed: the listed columns, formatted, under translated headers. A column of unit "row"
    reads, row by row, as the frame's `unit` column says (a table of different measures, one per row). A missing
    value in a column of text reads "–", never "None"."""
    return pd.DataFrame({
        header: [_cell(row_unit)(v) for v, row_unit in zip(frame[col], frame["unit"])] if unit == "row"
        else frame[col].map(lambda v: "–" if _missing(v) else v) if unit is None and is_string_dtype(frame[col].dtype)
        else frame[col].map(_cell(unit))
        for header, (col, (_, unit)) in zip(_headers(columns), columns.items())})


def downloadable(frame: pd.DataFrame, columns: dict[str, tuple[str, str | None]]) -> pd.DataFrame:
    return pd.DataFrame({header: frame[col].map(_downloaded(unit))
                         for header, (col, (_, unit)) in zip(_headers(columns), columns.items())})


def table(frame: pd.DataFrame, columns: dict[str, tuple[str, str | None]], name: str, *, select: bool = False,
          key: str | None = None, audit: dict | None = None):
    """Show `frame` with CSV and Excel downloads; with `select`, a row can be picked (returns the event).
    `audit`: what else a download's audit row records (the filters are always there).

    The columns show in the order given: the ones a person reads first (who, how likely, how much) lead, ids and
    codes trail, as a phone shows about four. The first stays in view while the table scrolls sideways."""
    key = key or f"table_{name}"
    options = dict(on_select="rerun", selection_mode="single-row", key=key) if select else {}
    on_screen = shown(frame, columns)
    event = st.dataframe(on_screen, hide_index=True, width="stretch",
                         column_config={on_screen.columns[0]: st.column_config.Column(pinned=True)}, **options)
    downloads(downloadable(frame, columns), name, audit)
    return event


def downloads(frame: pd.DataFrame, name: str, audit: dict | None = None) -> None:
    """CSV and Excel buttons for `frame`; a click is audited with who, what, how many rows and the filters."""
    scope = session_scope()
    # side by side, each as wide as its label, the second wrapping under the first where both do not fit: fixed
    # columns cut the labels short in a half-width column or on a phone
    row = st.container(horizontal=True)
    for label, data, file, mime, kind in (
        # Built with the page, not on click: a deferred file missed its download now and then in Chromium.
        (t("download.csv"), export.csv_bytes(frame), f"{name}.csv", "text/csv", "csv"),
        (t("download.excel"), export.excel_bytes(frame, name), f"{name}.xlsx",
         "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "excel"),
    ):
        if row.download_button(label, data, file, mime, key=f"download_{kind}_{name}", on_click="rerun",
                               icon=":material/download:"):
            StateStore().record(scope.user, "download", role=scope.role, what=name, rows=len(frame), format=kind,
                                filters=current().to_query(), **(audit or {}))
