"""Tables as files people download: CSV and Excel, safe to open in a spreadsheet."""

from __future__ import annotations

import io

import pandas as pd

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


class FormulaText(ValueError):
    """Text a person typed that a spreadsheet would run as a formula."""


def typed_text(field: str, value: str | None) -> str:
    """Free text typed in the app (a note, a campaign name), stripped; refused like an imported cell when a
    spreadsheet that opens a download would run it as a formula."""
    value = (value or "").strip()
    if value.startswith(FORMULA_STARTS):
        raise FormulaText(f"{field}: starts with a character that spreadsheets run as a formula (= + - @); "
                          "begin it with a letter or a digit")
    return value


def neutralise(frame: pd.DataFrame) -> pd.DataFrame:
    """Text cells a spreadsheet would run as a formula get a leading apostrophe; numbers are left alone."""
    out = frame.copy()
    for name in out.columns:
        if out[name].dtype == object or pd.api.types.is_string_dtype(out[name]):
            out[name] = out[name].map(lambda v: "'" + v if isinstance(v, str) and v.startswith(FORMULA_STARTS) else v)
    return out


def csv_bytes(frame: pd.DataFrame) -> bytes:
    """UTF-8 with BOM, so that Excel shows Chinese names correctly."""
    return neutralise(frame).to_csv(index=False).encode("utf-8-sig")


def excel_bytes(frame: pd.DataFrame, sheet: str = "data") -> bytes:
    buffer = io.BytesIO()
    with pd.ExcelWriter(buffer, engine="xlsxwriter") as writer:
        neutralise(frame).to_excel(writer, sheet_name=sheet[:31], index=False)
    return buffer.getvalue()
