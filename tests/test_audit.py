"""The audit log as an admin reads it (#24 item 9): every event, role and detail in words, times in local time.
The log itself is untouched: append-only and chained (tests/test_state.py)."""

from __future__ import annotations

import json
import re

import pytest

from analytics import audit, i18n, permissions
from analytics import format as fmt
from analytics.state import AUDIT_EVENTS, StateStore

from . import apptest


@pytest.fixture(autouse=True)
def shanghai(monkeypatch):
    monkeypatch.delenv("BANKCRM_TZ", raising=False)


def test_every_event_and_every_role_has_a_name_in_both_languages():
    assert set(i18n.TERMS["audit_event"]) == set(AUDIT_EVENTS)
    assert set(permissions.ROLES) | {"cli"} <= set(i18n.TERMS["role"])
    assert i18n.term("audit_event", "care_task_done") == "Care task closed"
    assert i18n.term("role", "branch_head") == "Branch head" and i18n.term("role", "branch_head", "zh") == "支行行长"


def _detail(**detail) -> str:
    return json.dumps(detail)


def test_a_download_s_detail_reads_as_words_with_its_filters():
    detail = _detail(what="churn_warnings", rows=1234, format="excel",
                     filters={"start": "2025-07-31", "end": "2026-06-30", "tiers": "Wealth,Affluent",
                              "products": "term_deposit"})
    assert audit.detail_text(detail, "en") == (
        "File: churn_warnings.xlsx · Rows: 1,234 · Filters: (From: Jul 2025; To: Jun 2026; Tier: Wealth, Affluent; "
        "Product: Term deposit)")
    assert audit.detail_text(detail, "zh") == (
        "文件：churn_warnings.xlsx · 行数：1,234 · 筛选：（起始月：2025年7月；截止月：2026年6月；客户层级：财富、富裕；"
        "产品：定期存款）")
    assert audit.detail_text(_detail(what="tiers", rows=5, format="csv", filters={}), "en") == (
        "File: tiers.csv · Rows: 5 · Filters: All")


def test_codes_dates_and_times_in_a_detail_read_in_the_language():
    assert audit.detail_text(_detail(on="2026-06-30", created={"churn_risk": 3, "birthday": 0}, expired={}),
                             "en") == "As of: 30 Jun 2026 · Created: (Churn risk: 3; Birthday: 0) · Closed as expired: –"
    assert audit.detail_text(_detail(task_id=5, outcome="no_answer"), "zh") == "任务：5 · 结果：未能联系上"
    assert audit.detail_text(_detail(reason="wrong password"), "en") == "Reason: Wrong password"
    assert audit.detail_text(_detail(username="wang", new_role="branch_head", sessions_ended=2), "en") == (
        "User: wang · New role: Branch head · Sessions ended: 2")
    assert audit.detail_text(_detail(page="audit"), "zh") == "页面：审计日志"
    assert audit.detail_text(_detail(branches=[]), "en") == "Branches: –"  # an admin's sign-in: no branch list
    # a lock's end is stored in UTC: read in local time, like the event's own time
    assert audit.detail_text(_detail(locked_until="2026-06-30 17:05:09"), "en") == "Locked until: 1 Jul 2026 01:05:09"


def test_a_rule_change_reads_with_the_rule_s_name_and_its_values_before_and_after():
    detail = _detail(version=3, based_on=0, comment="tighter", changes={
        "warning_probability": [0.3, 0.25], "tier_cutoffs_cny": [[50000, 500000, 6000000], [60000, 500000, 6000000]]})
    assert audit.detail_text(detail, "en") == (
        "Version: 3 · Based on version: 0 · Comment: tighter · Changes: (Churn-warning: churn probability at or above: "
        "0.3 → 0.25; Tier cut-offs (3-month average AUM): 50,000, 500,000, 6,000,000 → 60,000, 500,000, 6,000,000)")


def test_a_key_this_version_does_not_know_is_shown_as_it_is_and_no_detail_is_empty():
    assert audit.detail_text(_detail(mystery="x"), "en") == "mystery: x"
    assert audit.detail_text("{}", "zh") == ""


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_audit_log_page_shows_events_roles_and_details_in_words_and_local_time(app_env, lang):
    """After a failed sign-in (no role), a sign-in and a download, the admin's audit log holds no code, no "None"
    and no JSON; each time is the stored UTC moment in local time."""
    apptest.sign_in(apptest.app(), "exec", "not-the-password")
    StateStore().record("exec", "download", role="executive", what="churn_warnings", rows=75, format="csv",
                        filters={"tiers": "Wealth"})
    at = apptest.sign_in(apptest.app(), "admin")
    if lang == "zh":
        at.sidebar.radio[0].set_value("zh").run()
    apptest.open_page(at, "audit")
    assert not at.exception, [e.message for e in at.exception]
    events = StateStore().audit_events()
    shown = at.dataframe[0].value
    column = {key: i18n.t(key, lang) for key in ("col.event", "col.role", "col.detail", "col.occurred_at")}
    assert list(shown[column["col.event"]]) == [i18n.term("audit_event", e, lang) for e in events.event]
    assert list(shown[column["col.role"]]) == [i18n.term("role", r, lang) for r in events.role]
    assert "–" in set(shown[column["col.role"]])  # the failed sign-in has no role: an empty cell, not "None"
    assert list(shown[column["col.occurred_at"]]) == [fmt.time(v, lang) for v in events.occurred_at]
    assert all(re.fullmatch(r"\d{1,2} \w{3} \d{4} \d\d:\d\d:\d\d" if lang == "en" else r"\d{4}年\d{1,2}月\d{1,2}日 \d\d:\d\d:\d\d", v)
               for v in shown[column["col.occurred_at"]])
    cells = [str(v) for row in shown.itertuples(index=False) for v in row]
    assert "None" not in cells and not [c for c in cells if "{" in c or '"' in c]
    download = shown[shown[column["col.event"]] == i18n.term("audit_event", "download", lang)][column["col.detail"]]
    assert download.iloc[0] == audit.detail_text(events[events.event == "download"].detail_json.iloc[0], lang)
    options = next(s for s in at.selectbox if s.label == i18n.t("audit.event", lang)).options
    assert options == [i18n.t("filters.all", lang), *(i18n.term("audit_event", e, lang) for e in AUDIT_EVENTS)]
