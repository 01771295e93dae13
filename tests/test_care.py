"""Care tasks: the rules that create them, each once; closing them with an outcome; the kept history."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import sqlite3

import pytest
from typer.testing import CliRunner

from analytics import care, marts, store
from analytics.filters import Slice
from analytics.rules import DEFAULT_RULES
from analytics.scope import OutOfScope, Scope, ScopedStore
from analytics.state import StateStore
from bankcrm import cli

from . import handbuilt

AS_OF = dt.date(2024, 7, 31)  # the hand-built store's last month-end


def _extra(con) -> None:
    """The hand-built store (where customer 1 is the only current one, with complaint 2 open since 1 July on a
    7-day SLA), plus customers 4-8, current all year, chosen to sit on each rule's edges."""
    con.execute("""INSERT INTO customers VALUES
        (4, 'SH01', 'SH01-RM01', '赵强', 'M', '1984-08-07', NULL, NULL, '上海', '2020-01-01', NULL, 'active'),
        (5, 'SH01', 'SH01-RM01', '钱敏', 'F', '1990-08-08', NULL, NULL, '上海', '2020-01-01', NULL, 'active'),
        (6, 'BJ01', 'BJ01-RM01', '孙丽', 'F', '1992-07-31', NULL, NULL, '北京', '2020-01-01', NULL, 'active'),
        (7, 'BJ01', 'BJ01-RM01', '周杰', 'M', '1996-02-29', NULL, NULL, '北京', '2020-01-01', NULL, 'active'),
        (8, 'BJ01', 'BJ01-RM01', '吴磊', 'M', '2000-01-02', NULL, NULL, '北京', '2020-01-01', NULL, 'active')""")
    for customer in (4, 5, 6, 7, 8):
        con.execute("INSERT INTO accounts VALUES (?, ?, 'current', '2020-01-01', NULL, NULL)", [customer * 10, customer])
        for month in handbuilt.MONTHS:
            con.execute("INSERT INTO monthly_balances VALUES (?, ?, 20000, 0, 0, 0, 4, 400, 3, ?, NULL, NULL)",
                        [customer, month, month])
    con.execute("""INSERT INTO accounts VALUES
        (41, 4, 'term_deposit', '2023-08-30', NULL, '2024-08-30'),  -- in 30 days: due
        (42, 4, 'term_deposit', '2023-08-31', NULL, '2024-08-31'),  -- in 31 days: not yet
        (43, 4, 'term_deposit', '2023-08-10', '2024-06-01', '2024-08-10'),  -- closed early: nothing to do
        (61, 6, 'term_deposit', '2023-07-30', NULL, '2024-07-30')   -- matured yesterday: too late""")
    con.execute("""INSERT INTO complaints VALUES
        (3, 4, 'fees', 'low', 'branch', '2024-07-25 10:00', NULL, 7),                  -- SLA ends 1 Aug: in time
        (4, 6, 'service', 'low', 'branch', '2024-07-20 10:00', NULL, 10),              -- SLA ended 30 Jul: late
        (5, 6, 'card', 'high', 'app', '2024-07-01 10:00', '2024-08-05 10:00', 5),      -- resolved after the day: late then
        (6, 8, 'card', 'low', 'app', '2024-07-01 10:00', '2024-07-03 10:00', 5)        -- resolved in time""")
    con.execute("""INSERT INTO churn_scores VALUES
        (4, '2024-07-31', 'm1', 0.45, '[]', NULL),
        (6, '2024-07-31', 'm1', 0.20, '[]', NULL),
        (3, '2024-07-31', 'm1', 0.90, '[]', NULL)""")  # customer 3 has churned


@pytest.fixture(scope="module")
def care_store(tmp_path_factory):
    path = tmp_path_factory.mktemp("care") / "care.duckdb"
    with store.rewrite(path, fresh=True) as con:
        handbuilt.fill(con)
        _extra(con)
        marts.rebuild(con)
    return path


@pytest.fixture(scope="module")
def care_backend(care_store, connect):
    return connect(care_store)


def _slice(backend, scope=None, rules=DEFAULT_RULES) -> Slice:
    return Slice(ScopedStore(backend, scope or Scope.all_branches(pii="shown")), rules=rules)


ADMIN = Scope.all_branches(user="admin", role="admin", pii="shown")
HEAD_SH01 = Scope.for_branches({"SH01"}, user="head_sh01")
HEAD_BJ01 = Scope.for_branches({"BJ01"}, user="head_bj01")


def _keys(frame, kind) -> set[str]:
    return set(frame.loc[frame.kind == kind, "rule_key"])


def test_birthdays_within_seven_days_from_the_day_itself(care_backend):
    found = care.due(_slice(care_backend), AS_OF)
    assert _keys(found, "birthday") == {"birthday:4:2024", "birthday:6:2024"}  # 7 Aug yes, 8 Aug no, 31 Jul yes
    row = found[found.rule_key == "birthday:4:2024"].iloc[0]
    assert row.due_on == dt.date(2024, 8, 7) and row.detail == {"birthday": "2024-08-07", "age": 40}
    assert row.branch_code == "SH01" and row.rm_id == "SH01-RM01"
    assert list(found.due_on) == sorted(found.due_on)


def test_a_29_february_birthday_is_28_february_in_other_years_and_the_year_turns(care_backend):
    sl = _slice(care_backend)
    feb = care.due(sl, dt.date(2025, 2, 25))
    assert feb.loc[feb.kind == "birthday", ["rule_key", "due_on"]].values.tolist() == [
        ["birthday:7:2025", dt.date(2025, 2, 28)]]
    new_year = care.due(sl, dt.date(2024, 12, 28))
    assert _keys(new_year, "birthday") == {"birthday:8:2025"}


def test_open_term_deposits_maturing_within_thirty_days(care_backend):
    found = care.due(_slice(care_backend), AS_OF)
    assert _keys(found, "maturity") == {"maturity:41:2024-08-30"}
    assert found[found.kind == "maturity"].iloc[0].detail == {"account_id": 41, "maturity_on": "2024-08-30", "days": 30}


def test_complaints_open_on_the_day_past_their_sla(care_backend):
    found = care.due(_slice(care_backend), AS_OF)
    assert _keys(found, "complaint_sla") == {"complaint_sla:2", "complaint_sla:4", "complaint_sla:5"}
    late = found[found.rule_key == "complaint_sla:2"].iloc[0]
    assert late.detail == {"complaint_id": 2, "category": "system", "days_open": 30, "sla_days": 7}
    assert late.due_on == AS_OF


def test_churn_risk_over_the_rule_set_threshold_for_current_customers_only(care_backend):
    assert _keys(care.due(_slice(care_backend), AS_OF), "churn_risk") == {"churn_risk:4:2024-07-31"}
    stricter = dataclasses.replace(DEFAULT_RULES, warning_probability=0.5)
    assert _keys(care.due(_slice(care_backend, rules=stricter), AS_OF), "churn_risk") == set()


def test_a_branch_head_s_rules_find_only_their_branch(care_backend):
    found = care.due(_slice(care_backend, Scope.for_branches({"SH01"})), AS_OF)
    assert set(found.branch_code) == {"SH01"}
    assert set(found.customer_id) == {1, 4}


def test_generate_creates_each_rule_s_task_once_and_audits_the_run(care_backend, tmp_path):
    state = StateStore(tmp_path / "state.sqlite")
    found = care.due(_slice(care_backend), AS_OF)
    first = care.generate(state, found, on=AS_OF, actor="cli")
    assert first.created == {"churn_risk": 1, "birthday": 2, "maturity": 1, "complaint_sla": 3}
    assert care.generate(state, found, on=AS_OF, actor="cli").created == dict.fromkeys(care.KINDS, 0)
    open_tasks = care.tasks(state, ADMIN)
    assert len(open_tasks) == 7 and set(open_tasks.created_by) == {care.RULES_ACTOR}
    assert list(open_tasks.due_on) == sorted(open_tasks.due_on)
    runs = state.audit_events(event="care_tasks_generated")
    assert [json.loads(d)["created"]["complaint_sla"] for d in runs.detail_json] == [0, 3]
    assert care.last_run(state) == "2024-07-31"


def test_a_later_scoring_adds_no_second_risk_task_while_one_is_open(care_backend, tmp_path):
    state = StateStore(tmp_path / "state.sqlite")
    found = care.due(_slice(care_backend), AS_OF)
    risk = found[found.kind == "churn_risk"]
    care.generate(state, risk, on=AS_OF, actor="cli")
    later = risk.assign(rule_key="churn_risk:4:2024-08-31")
    assert care.generate(state, later, on=AS_OF, actor="cli").created["churn_risk"] == 0
    [task_id] = care.tasks(state, ADMIN).task_id
    care.complete(state, HEAD_SH01, int(task_id), outcome="retained", note="")
    assert care.generate(state, later, on=AS_OF, actor="cli").created["churn_risk"] == 1  # still at risk a month on


def _assign(state, backend, scope, customer_id, kind="churn_risk", reason="call") -> int:
    return care.assign(state, ScopedStore(backend, scope), customer_id=customer_id, kind=kind, reason=reason,
                       due_on=AS_OF)


def test_closing_a_task_keeps_its_outcome_who_and_when_and_audits_it(care_backend, tmp_path):
    state = StateStore(tmp_path / "state.sqlite")
    task_id = _assign(state, care_backend, HEAD_SH01, 4)
    care.complete(state, HEAD_SH01, task_id, outcome="product_added", note="opened a fund")
    assert care.tasks(state, ADMIN).empty
    [done] = care.tasks(state, HEAD_SH01, status="done").to_dict("records")
    assert (done["status"], done["outcome"], done["outcome_note"], done["done_by"]) == (
        "done", "product_added", "opened a fund", "head_sh01")
    assert done["done_at"] and done["reason"] == "call"
    [event] = state.audit_events(event="care_task_done").detail_json.map(json.loads)
    assert event == {"task_id": task_id, "outcome": "product_added"}


def test_a_task_is_closed_once_within_the_person_s_branches_with_a_known_outcome(care_backend, tmp_path):
    state = StateStore(tmp_path / "state.sqlite")
    task_id = _assign(state, care_backend, HEAD_BJ01, 6)
    with pytest.raises(OutOfScope, match=f"care task {task_id} is not one of your branches"):
        care.complete(state, HEAD_SH01, task_id, outcome="retained", note="")
    with pytest.raises(care.TaskError, match="unknown outcome 'sold'"):
        care.complete(state, HEAD_BJ01, task_id, outcome="sold", note="")
    care.complete(state, HEAD_BJ01, task_id, outcome="no_answer", note="")
    with pytest.raises(care.TaskError, match="already done"):
        care.complete(state, HEAD_BJ01, task_id, outcome="retained", note="")
    assert len(state.audit_events(event="care_task_done")) == 1


def test_a_task_is_assigned_to_the_customer_s_own_rm_and_never_outside_the_scope(care_backend, tmp_path):
    """The branch and the RM come from the store, not from the caller; another branch's customer is refused as
    one that does not exist."""
    state = StateStore(tmp_path / "state.sqlite")
    task_id = _assign(state, care_backend, HEAD_BJ01, 7)
    [task] = care.tasks(state, HEAD_BJ01).to_dict("records")
    assert (task["task_id"], task["branch_code"], task["rm_id"], task["created_by"]) == (
        task_id, "BJ01", "BJ01-RM01", "head_bj01")
    with pytest.raises(OutOfScope, match="customer 4 is not one of your branches"):
        _assign(state, care_backend, HEAD_BJ01, 4)
    with pytest.raises(OutOfScope):
        _assign(state, care_backend, HEAD_BJ01, 999)
    assert len(care.tasks(state, ADMIN)) == 1


@pytest.mark.parametrize("text", ["=HYPERLINK(\"http://evil.example\")", "+1 call", "-2", "@SUM(A1)"])
def test_notes_typed_in_the_app_are_refused_when_a_spreadsheet_would_run_them(care_backend, tmp_path, text):
    from analytics.export import FormulaText

    state = StateStore(tmp_path / "state.sqlite")
    with pytest.raises(FormulaText, match="reason: starts with a character that spreadsheets run as a formula"):
        _assign(state, care_backend, HEAD_SH01, 4, reason=text)
    task_id = _assign(state, care_backend, HEAD_SH01, 4)
    with pytest.raises(FormulaText, match="note: starts with"):
        care.complete(state, HEAD_SH01, task_id, outcome="retained", note=text)
    assert care.tasks(state, ADMIN, status="done").empty


def test_roles_without_pii_read_a_birthday_task_without_its_date_or_age_and_no_free_text(care_backend, tmp_path):
    """A birthday with the age gives the birth date, which is what an ID number's mask hides."""
    state = StateStore(tmp_path / "state.sqlite")
    found = care.due(_slice(care_backend), AS_OF)
    care.generate(state, found[found.kind == "birthday"], on=AS_OF, actor="cli")
    _assign(state, care_backend, HEAD_SH01, 4, kind="birthday", reason="Mr Zhao, born 1984-08-07")
    executive = Scope.all_branches(user="exec", role="executive", pii="masked")
    seen = care.tasks(state, executive, status=None)
    words = [care.reason_text(task, lang) for task in seen.itertuples() for lang in ("en", "zh")]
    assert set(words) == {"birthday within 7 days", "7 天内生日", ""}  # the branch head's own note is not shown
    assert seen.reason.isna().all() and not seen.detail_json.str.contains("1984|08-07|age").any()
    shown = care.tasks(state, HEAD_SH01, status=None)
    assert "birthday on 7 Aug 2024 (turns 40)" in [care.reason_text(task, "en") for task in shown.itertuples()]


def test_the_task_history_cannot_be_deleted_or_rewritten(care_backend, tmp_path):
    state = StateStore(tmp_path / "state.sqlite")
    open_id = _assign(state, care_backend, HEAD_SH01, 4, kind="birthday", reason="cake")
    done_id = _assign(state, care_backend, HEAD_SH01, 4)
    care.complete(state, HEAD_SH01, done_id, outcome="retained", note="")
    with state.connect() as con:
        with pytest.raises(sqlite3.DatabaseError, match="never deleted"):
            con.execute("DELETE FROM care_tasks WHERE task_id = ?", [open_id])
        with pytest.raises(sqlite3.DatabaseError, match="closed care task cannot change"):
            con.execute("UPDATE care_tasks SET outcome = 'leaving' WHERE task_id = ?", [done_id])
        with pytest.raises(sqlite3.DatabaseError, match="what was asked stays"):
            con.execute("UPDATE care_tasks SET rm_id = 'BJ01-RM01' WHERE task_id = ?", [open_id])
    assert len(care.tasks(state, ADMIN, status=None)) == 2


def test_tasks_read_by_branch_rm_and_customer(care_backend, tmp_path):
    state = StateStore(tmp_path / "state.sqlite")
    for customer, scope in ((4, HEAD_SH01), (6, HEAD_BJ01), (7, HEAD_BJ01)):
        _assign(state, care_backend, scope, customer)
    assert list(care.tasks(state, HEAD_BJ01).customer_id) == [6, 7]
    assert list(care.tasks(state, HEAD_BJ01, rm_id="SH01-RM01").customer_id) == []
    assert list(care.tasks(state, ADMIN, rm_id="SH01-RM01").customer_id) == [4]
    assert list(care.tasks(state, ADMIN, customer_id=4).customer_id) == [4]
    assert care.tasks(state, Scope.for_branches(set(), user="nobody")).empty


def test_a_rule_s_task_reads_in_both_languages_with_its_figure(care_backend):
    found = care.due(_slice(care_backend), AS_OF).set_index("rule_key")
    words = {key: (care.describe(found.kind[key], found.detail[key], "en"),
                   care.describe(found.kind[key], found.detail[key], "zh"))
             for key in ("complaint_sla:2", "maturity:41:2024-08-30", "churn_risk:4:2024-07-31", "birthday:4:2024")}
    assert words["complaint_sla:2"] == ("systems complaint 2 open for 30 days, SLA 7 days", "系统投诉 2 已 30 天未解决，时限 7 天")
    assert words["maturity:41:2024-08-30"] == ("term deposit 41 matures on 30 Aug 2024, in 30 days",
                                               "定期存款 41 将于 2024年8月30日到期（30 天后）")  # dates as on screen
    assert words["churn_risk:4:2024-07-31"][0] == "churn probability 45%, at or over the warning threshold"
    assert words["birthday:4:2024"] == ("birthday on 7 Aug 2024 (turns 40)", "2024年8月7日生日（40 岁）")
    on_the_day = {"account_id": 41, "maturity_on": "2024-07-31", "days": 0}
    assert care.describe("maturity", on_the_day, "en") == "term deposit 41 matures today, 31 Jul 2024"


def test_cli_care_generate_runs_the_rules_once(care_store, tmp_path, monkeypatch):
    monkeypatch.setenv("BANKCRM_STATE", str(tmp_path / "state.sqlite"))
    runner = CliRunner()
    first = runner.invoke(cli.app, ["care", "generate", "--store", str(care_store)])
    assert first.exit_code == 0, first.output
    assert ("Care tasks as of 2024-07-31: 1 churn_risk, 2 birthday, 1 maturity, 3 complaint_sla created; "
            "0 closed as expired." in first.output)
    later = runner.invoke(cli.app, ["care", "generate", "--store", str(care_store), "--on", "2024-08-08"])
    assert "2 closed as expired (2 birthday)." in later.output
    again = runner.invoke(cli.app, ["care", "generate", "--store", str(care_store)])
    assert "0 churn_risk, 0 birthday, 0 maturity, 0 complaint_sla created" in again.output
    bad = runner.invoke(cli.app, ["care", "generate", "--store", str(care_store), "--on", "31/07/2024"])
    assert bad.exit_code == 2 and "--on '31/07/2024' is not a date" in bad.output


# --- #24 item 16: the list a branch head works, kinds, expiry ------------------------------

def _worklist_input():
    """Open tasks as care.tasks reads them (by due date, then task id) and the customers' figures."""
    import pandas as pd

    tasks = pd.DataFrame({"task_id": [1, 2, 3, 4, 5], "customer_id": [10, 11, 12, 13, 11],
                          "due_on": ["2026-06-29", "2026-06-30", "2026-06-30", "2026-06-30", "2026-07-02"],
                          "kind": ["birthday", "maturity", "churn_risk", "complaint_sla", "churn_risk"]})
    customers = pd.DataFrame({"customer_id": [10, 11, 12, 13], "name": ["a", "b", "c", "d"],
                              "aum_cny": [50.0, 10_000.0, 2_000_000.0, None]})
    return tasks, customers


def test_open_tasks_are_worked_soonest_due_first_then_the_customer_with_the_most_aum():
    tasks, customers = _worklist_input()
    listed = care.worklist(tasks, customers, today=dt.date(2026, 6, 30))
    # the 29th first; on the 30th: 2M, then 10K, then the customer without a figure; then the 2nd of July
    assert list(listed.task_id) == [1, 3, 2, 4, 5]
    assert list(listed.name) == ["a", "c", "b", "d", "b"]


def test_a_task_due_before_today_is_overdue_and_one_due_today_is_not():
    tasks, customers = _worklist_input()
    listed = care.worklist(tasks, customers, today=dt.date(2026, 6, 30)).set_index("task_id")
    assert listed.overdue_days.to_dict() == {1: 1, 3: None, 2: None, 4: None, 5: None}
    later = care.worklist(tasks, customers, today=dt.date(2026, 7, 3)).set_index("task_id")
    assert later.overdue_days.to_dict() == {1: 4, 3: 3, 2: 3, 4: 3, 5: 1}


def test_the_worklist_reads_each_customer_s_aum_from_the_store(care_backend):
    found = care.customers_of(_slice(care_backend, HEAD_SH01), (1, 4, 6))
    assert dict(zip(found.customer_id, found.aum_cny)) == {1: 7000.0, 4: 20000.0}  # 6 is BJ01's
    assert set(found.name) == {"张伟", "赵强"}


def test_a_person_assigns_a_task_of_the_kind_they_pick_and_only_a_known_kind(care_backend, tmp_path):
    state = StateStore(tmp_path / "state.sqlite")
    task_id = _assign(state, care_backend, HEAD_SH01, 4, kind="complaint_sla", reason="call about the fee")
    [task] = care.tasks(state, HEAD_SH01).to_dict("records")
    assert (task["task_id"], task["kind"]) == (task_id, "complaint_sla")
    with pytest.raises(care.TaskError, match="unknown task kind 'gift'; kinds are churn_risk, birthday"):
        _assign(state, care_backend, HEAD_SH01, 4, kind="gift")


def test_the_rules_close_their_tasks_whose_date_has_passed_as_expired(care_backend, tmp_path):
    """A birthday or a maturity that has passed cannot be acted on: the next run closes its task as expired, with
    the rules as who closed it, audited like any close; other tasks, and tasks a person assigned, stay open."""
    state = StateStore(tmp_path / "state.sqlite")
    sl = _slice(care_backend)
    care.generate(state, care.due(sl, AS_OF), on=AS_OF, actor="cli")
    by_hand = _assign(state, care_backend, HEAD_SH01, 4, kind="birthday", reason="cake")  # due on AS_OF
    later = dt.date(2024, 8, 8)  # birthday:6 (31 Jul) and birthday:4 (7 Aug) have passed; maturity 30 Aug has not
    run = care.generate(state, care.due(sl, later), on=later, actor="cli")
    assert run.expired == {"churn_risk": 0, "birthday": 2, "maturity": 0, "complaint_sla": 0}
    done = care.tasks(state, ADMIN, status="done")
    assert set(done.rule_key) == {"birthday:4:2024", "birthday:6:2024"}
    assert set(done.outcome) == {care.EXPIRED} and set(done.done_by) == {care.RULES_ACTOR}
    still_open = care.tasks(state, ADMIN)
    assert by_hand in set(still_open.task_id)
    assert {"maturity:41:2024-08-30", "complaint_sla:2"} <= set(still_open.rule_key)
    closes = state.audit_events(event="care_task_done").detail_json.map(json.loads)
    assert sorted(c["task_id"] for c in closes) == sorted(done.task_id)
    assert {c["outcome"] for c in closes} == {"expired"}
    assert json.loads(state.audit_events(event="care_tasks_generated").detail_json.iloc[0])["expired"]["birthday"] == 2
    again = care.generate(state, care.due(sl, later), on=later, actor="cli")
    assert sum(again.expired.values()) == 0 and len(care.tasks(state, ADMIN, status="done")) == 2


def test_expired_tasks_are_counted_as_misses_beside_the_open_and_overdue(care_backend, tmp_path):
    state = StateStore(tmp_path / "state.sqlite")
    sl = _slice(care_backend)
    care.generate(state, care.due(sl, AS_OF), on=AS_OF, actor="cli")
    care.generate(state, care.due(sl, dt.date(2024, 8, 8)), on=dt.date(2024, 8, 8), actor="cli")
    counts = care.counts(state, ADMIN, today=dt.date(2024, 8, 8))
    open_tasks = care.tasks(state, ADMIN)
    assert counts == {"open": len(open_tasks), "overdue": int((open_tasks.due_on < "2024-08-08").sum()),
                      "missed": 2}
    assert counts["overdue"] > 0
    assert care.counts(state, HEAD_SH01, today=dt.date(2024, 8, 8))["missed"] == 1  # birthday:4 is SH01's
