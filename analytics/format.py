"""Numbers as people read them: money in 万/亿 (Chinese) or K/M/B (English)."""

from __future__ import annotations

import math

import pandas as pd

_EN_STEPS = ((1e9, "B"), (1e6, "M"), (1e3, "K"))
_ZH_STEPS = ((1e8, "亿"), (1e4, "万"))


def money(value: float | None, lang: str = "en") -> str:
    """1234567 -> 'CNY 1.23M' (en) or '¥123.46万' (zh)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    steps, prefix = (_ZH_STEPS, "¥") if lang == "zh" else (_EN_STEPS, "CNY ")
    sign = "-" if value < 0 else ""
    size = abs(value)
    for step, suffix in steps:
        if size >= step:
            return f"{sign}{prefix}{size / step:,.2f}{suffix}"
    return f"{sign}{prefix}{size:,.0f}"


def count(value: float | None, lang: str = "en") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value:,.0f}"


def pct(share: float | None, lang: str = "en", digits: int = 2) -> str:
    """0.0123 -> '1.23%'."""
    if share is None or (isinstance(share, float) and math.isnan(share)):
        return "–"
    return f"{share * 100:.{digits}f}%"


def score(value: float | None, lang: str = "en") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value:.1f}"


BY_UNIT = {"count": count, "cny": money, "pct": pct, "score": score}


def age(years: float | None, band_years: int | None = None) -> str:
    """An age in years, or its band ("30–39") when `band_years` says the age is the start of one."""
    if years is None or (isinstance(years, float) and math.isnan(years)):
        return "–"
    years = int(years)
    return f"{years}–{years + band_years - 1}" if band_years else str(years)


def month(value, lang: str = "en") -> str:
    """A month-end as people name it: 'Jun 2026' (en) or '2026年6月' (zh)."""
    if value is None or value is pd.NaT or (isinstance(value, float) and math.isnan(value)):
        return "–"
    value = pd.Timestamp(value)
    return f"{value.year}年{value.month}月" if lang == "zh" else value.strftime("%b %Y")


def date(value, lang: str = "en") -> str:
    """A day: '30 Jun 2026' (en) or '2026年6月30日' (zh)."""
    if value is None or pd.isna(value):
        return "–"
    value = pd.Timestamp(value)
    return f"{value.year}年{value.month}月{value.day}日" if lang == "zh" else f"{value.day} {value.strftime('%b %Y')}"
