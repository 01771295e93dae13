"""Numbers, dates and times as people read them, one format per language."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from analytics import format as fmt


@pytest.fixture(autouse=True)
def shanghai(monkeypatch):
    monkeypatch.delenv("BANKCRM_TZ", raising=False)


def test_a_moment_stored_in_utc_reads_in_local_time_in_one_format_per_language(monkeypatch):
    stored = "2026-06-30 17:05:09.123"  # the state store's UTC, with milliseconds
    assert fmt.time(stored, "en") == "1 Jul 2026 01:05:09"  # Asia/Shanghai: the next day
    assert fmt.time(stored, "zh") == "2026年7月1日 01:05:09"
    assert fmt.time(pd.Timestamp(stored), "en") == fmt.time(stored, "en")
    assert fmt.time(None, "en") == fmt.time(float("nan"), "zh") == "–"
    monkeypatch.setenv("BANKCRM_TZ", "Europe/London")
    assert fmt.time(stored, "en") == "30 Jun 2026 18:05:09"


def test_a_downloaded_moment_keeps_its_offset():
    assert fmt.local_time("2026-06-30 17:05:09.123").isoformat() == "2026-07-01T01:05:09.123000+08:00"
    assert fmt.local_time(None) is None


def test_a_day_reads_the_same_way_as_the_day_of_a_moment():
    assert fmt.date(dt.date(2026, 7, 1), "en") == fmt.time("2026-06-30 17:05:09", "en").split(" 01:")[0]
    assert fmt.date("2026-07-01", "zh") == fmt.time("2026-06-30 17:05:09", "zh").split(" ")[0]
