"""Figures with their change, drawn the same way on every page."""

from __future__ import annotations

from analytics import format as fmt
from ui.i18n import lang


def metric(column, label: str, value: str, change: float | None, unit: str, up_is_good: bool, **options) -> None:
    """`st.metric` (in `column`) with `change` in `unit`: green when it moves the good way (`up_is_good`, from
    the KPI registry for a KPI), red the other; a change shown as zero is grey and has no arrow."""
    text = fmt.change(change, unit, lang())
    flat = text is None or fmt.is_zero(text)
    column.metric(label, value, delta=text, delta_color="off" if flat else "normal" if up_is_good else "inverse",
                  delta_arrow="off" if flat else "auto", **options)


def share(column, label: str, value: str, note: str, **options) -> None:
    """`st.metric` with a note beside the figure (a share of a whole, say) that is not a change: no arrow,
    no colour."""
    column.metric(label, value, delta=note, delta_color="off", delta_arrow="off", **options)
