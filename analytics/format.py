"""Numbers as people read them: money in 万/亿 (Chinese) or K/M/B (English); days and moments in one format per
language, moments in local time (analytics.config.local_zone)."""

from __future__ import annotations

import datetime as dt
import math

import pandas as pd

from analytics import config
from analytics.i18n import t

_EN_STEPS = ((1e9, "B"), (1e6, "M"), (1e3, "K"))
_ZH_STEPS = ((1e8, "亿"), (1e4, "万"))


def money(value: float | None, lang: str = "en") -> str:
    """1234567 -> 'CNY 1.23M' (en) or '¥123.46万' (zh)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    step, suffix = _scale(abs(value), lang)
    shown = f"{abs(value) / step:,.2f}" if suffix else f"{abs(value):,.0f}"
    return f"{'-' if value < 0 else ''}{_PREFIX[lang == 'zh']}{shown}{suffix}"


def money_ticks(values: list[float], lang: str = "en") -> list[str]:
    """Round figures of money as an axis names them, all in the unit of the largest, without zeros after the
    point: [0, 5e7, 1e8] -> ['0', '¥0.5亿', '¥1亿'] (zh), ['0', 'CNY 50M', 'CNY 100M'] (en)."""
    step, suffix = _scale(max((abs(v) for v in values), default=0), lang)
    return ["0" if v == 0 else f"{'-' if v < 0 else ''}{_PREFIX[lang == 'zh']}"
            f"{f'{abs(v) / step:,.2f}'.rstrip('0').rstrip('.')}{suffix}" for v in values]


_PREFIX = {False: "CNY ", True: "¥"}


def _scale(size: float, lang: str) -> tuple[float, str]:
    """The unit money of `size` is shown in: (100000000, '亿'), (1000000, 'M'), ... or (1, '')."""
    return next(((step, suffix) for step, suffix in (_ZH_STEPS if lang == "zh" else _EN_STEPS) if size >= step),
                (1, ""))


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


def number(value: float | None, lang: str = "en", digits: int = 3) -> str:
    """A measure between 0 and 1 that is not a share (a fall in AUC, a silhouette): 0.0123 -> '0.012'."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value:.{digits}f}"


BY_UNIT = {"count": count, "cny": money, "pct": pct, "score": score, "number": number}


def change(value: float | None, unit: str, lang: str = "en") -> str | None:
    """A change as shown beside a figure of `unit`: '+0.12 pp', '-CNY 1.20M', '+3'. A change that rounds to
    zero as shown has no sign ('0.00 pp'): it is neither a rise nor a fall."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if unit == "pct":
        size = f"{abs(value) * 100:.2f} {t('unit.pp', lang)}"
    elif unit == "cny":
        size = money(abs(value), lang)
    else:
        size = f"{abs(value):,.1f}" if unit == "score" else f"{abs(value):,.0f}"
    if is_zero(size):
        return size
    return ("-" if value < 0 else "+") + size


def is_zero(shown: str) -> bool:
    """Whether a number as shown is zero: no digit but 0 in it."""
    return not any(ch in "123456789" for ch in shown)


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


def local_time(value) -> pd.Timestamp | None:
    """A moment as the stores keep it (UTC, without a zone: '2026-06-30 17:05:09.123') in local time, with its
    offset; None when missing."""
    if value is None or pd.isna(value):
        return None
    moment = pd.Timestamp(value)
    return (moment.tz_localize(dt.UTC) if moment.tzinfo is None else moment).tz_convert(config.local_zone())


def time(value, lang: str = "en") -> str:
    """A moment in local time, to the second: '1 Jul 2026 01:05:09' (en) or '2026年7月1日 01:05:09' (zh)."""
    moment = local_time(value)
    return "–" if moment is None else f"{date(moment, lang)} {moment:%H:%M:%S}"
