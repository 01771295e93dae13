"""The churn-warnings page's care tasks and the churn model page, under AppTest, per role."""

from __future__ import annotations

import json

import ibis
import pytest

from analytics import care
from analytics.filters import Slice
from analytics.scope import Scope, ScopedStore

from . import apptest
from .rendering import shown_markdown

HEAD_SH01 = Scope.for_branches({"SH01"}, user="head_sh01")
ADMIN = Scope.all_branches(user="admin", role="admin", pii="shown")


@pytest.fixture
def env(app_env, demo_store):
    """The demo store with the rules' care tasks generated into a fresh state store."""
    sl = Slice(ScopedStore(ibis.duckdb.connect(str(demo_store), read_only=True), Scope.all_branches(pii="shown")))
    day = sl.as_of_date()
    care.generate(app_env, care.due(sl, day), on=day, actor="cli")
    return app_env


def _button(at, label):
    return next(b for b in at.button if b.label == label)


def test_a_branch_head_sees_only_their_branch_s_tasks_and_closes_one_with_its_outcome(env):
    own = care.tasks(env, HEAD_SH01)
    assert len(own) and len(care.tasks(env, ADMIN)) > len(own)  # other branches have tasks too
    at = apptest.sign_in(apptest.app(), "head_sh01")
    apptest.open_page(at, "churn")
    assert not at.exception
    shown = next(d.value for d in at.dataframe if "Task" in d.value.columns and "Outcome" not in d.value.columns)
    assert sorted(shown["Task"]) == sorted(own.task_id)
    assert shown["Customer"].notna().all()  # named, from the branch head's scope
    task_id = int(at.selectbox(key="care_task").value)
    next(s for s in at.selectbox if s.label == "Outcome").set_value("product_added")
    next(t for t in at.text_input if t.label == "What happened (optional)").input("opened a fund")
    _button(at, "Done").click().run()
    assert not at.exception
    assert any(f"Task {task_id} is done: took a product." in s.value for s in at.success)
    [done] = care.tasks(env, HEAD_SH01, status="done").to_dict("records")
    assert (done["task_id"], done["outcome"], done["outcome_note"], done["done_by"]) == (
        task_id, "product_added", "opened a fund", "head_sh01")
    [event] = env.audit_events(event="care_task_done").detail_json.map(json.loads)
    assert event == {"task_id": task_id, "outcome": "product_added"}
    history = next(d.value for d in at.dataframe if "Outcome" in d.value.columns)
    assert list(history["Task"]) == [task_id] and list(history["Outcome"]) == ["Took a product"]
    assert task_id not in list(at.selectbox(key="care_task").options)


def test_a_rule_s_task_says_what_to_do_with_its_figure(env):
    at = apptest.sign_in(apptest.app(), "head_sh01")
    apptest.open_page(at, "churn")
    shown = next(d.value for d in at.dataframe if "Task" in d.value.columns)
    reasons = " | ".join(shown["Reason"])
    assert "birthday on " in reasons and "term deposit " in reasons and "churn probability " in reasons
    assert "the rules last ran for" in " ".join(c.value for c in at.caption)


def test_the_rm_filter_narrows_the_open_tasks(env):
    at = apptest.sign_in(apptest.app(), "head_sh01")
    apptest.open_page(at, "churn")
    rm = at.selectbox(key="churn_rm").options[1]
    at.selectbox(key="churn_rm").set_value(rm).run()
    shown = next(d.value for d in at.dataframe if "Task" in d.value.columns)
    assert sorted(shown["Task"]) == sorted(care.tasks(env, HEAD_SH01, rm_id=rm).task_id)
    assert set(shown["RM id"]) == {rm}


def test_the_model_page_shows_the_validation_figures_and_today_s_scores(env, demo_store):
    from analytics.ml import papers

    paper = json.loads(sorted(papers.models_dir(demo_store).glob("churn-*.json"))[-1].read_text())
    for username in ("analyst", "admin"):
        at = apptest.sign_in(apptest.app(), username)
        apptest.open_page(at, "model")
        assert not at.exception and not at.error, username
        metrics = {shown_markdown(m.label): m.value for m in at.metric}
        assert metrics["ROC-AUC"] == f"{paper['validation']['roc_auc']:.3f}"
        assert metrics["Brier score"] == f"{paper['validation']['brier']:.4f}"
        assert metrics["Top 10% catches"] == f"{paper['validation']['caught_top10']:.1%}"
        assert len(at.get("plotly_chart")) == 4  # calibration, churners caught, importance, score distribution
        text = " ".join(c.value for c in at.caption)
        assert "Population stability index" in text
        assert paper["training_window"][0] in " ".join(shown_markdown(m.value) for m in at.markdown)


@pytest.mark.parametrize("username", ["exec", "head_sh01"])
def test_the_model_page_is_refused_to_executives_and_branch_heads(env, username):
    at = apptest.sign_in(apptest.app(), username)
    apptest.open_page(at, "model")
    assert any("may not open “Churn model”" in e.value for e in at.error)
    assert not at.metric


@pytest.mark.parametrize("username, page", [("analyst", "model"), ("head_sh01", "churn")])
def test_the_model_page_and_the_care_tasks_read_in_chinese(env, username, page):
    from analytics import i18n

    from .test_pages import ENGLISH_ONLY, page_text

    at = apptest.sign_in(apptest.app(), username)
    at.sidebar.radio[0].set_value("zh").run()
    at = apptest.open_page(at, page)
    assert not at.exception and at.title[0].value == i18n.t(f"page.{page}", "zh")
    me = at.session_state["bankcrm_user"]
    text = "\n".join(line for line in page_text(at).splitlines() if me not in line and "(demo)" not in line)
    assert not [w for w in ENGLISH_ONLY if w in text]
    if page == "churn":
        assert "生日" in " ".join(next(d.value for d in at.dataframe if "任务" in d.value.columns)["原因"])


def _warnings(at):
    return next(d.value for d in at.dataframe if "Reasons" in d.value.columns)


def test_the_churn_warnings_list_is_every_customer_of_the_branch_in_the_churn_warning_stage(env, demo_store):
    """#24 item 1: not the largest values at risk, but every customer in the Churn-warning stage, each with reasons;
    the count on the page is the list's; sorted by value at risk, or by probability on request."""
    from analytics import churn, portfolio
    from analytics.rules import DEFAULT_RULES

    sl = Slice(ScopedStore(ibis.duckdb.connect(str(demo_store), read_only=True), HEAD_SH01), rules=DEFAULT_RULES)
    expected = portfolio.at_risk(sl)
    at = apptest.sign_in(apptest.app(), "head_sh01")
    apptest.open_page(at, "churn")
    assert not at.exception
    shown = _warnings(at)
    assert list(shown["Customer id"].astype(int)) == list(expected.customer_id)
    assert shown["Reasons"].str.len().gt(0).all()
    assert any(f"{len(expected)} customers in the Churn-warning stage" in c.value for c in at.caption)
    at.segmented_control(key="churn_sort").set_value("probability").run()
    by_probability = churn.ordered(expected, "probability")
    assert list(_warnings(at)["Customer id"].astype(int)) == list(by_probability.customer_id)


def test_a_care_task_is_not_closed_until_its_outcome_is_chosen(env):
    """#24 item 3: the outcome starts empty; Done without one says so and leaves the task open."""
    at = apptest.sign_in(apptest.app(), "head_sh01")
    apptest.open_page(at, "churn")
    outcome = next(s for s in at.selectbox if s.label == "Outcome")
    assert outcome.value is None
    _button(at, "Done").click().run()
    assert not at.exception
    assert any("Choose the outcome first" in e.value for e in at.error)
    assert care.tasks(env, HEAD_SH01, status="done").empty


def test_the_care_task_lists_lead_with_the_customer_and_when_it_is_due(env):
    at = apptest.sign_in(apptest.app(), "head_sh01")
    apptest.open_page(at, "churn")
    assert not at.exception
    tasks = next(d.value for d in at.dataframe if "Task" in d.value.columns and "Outcome" not in d.value.columns)
    assert list(tasks.columns[:2]) == ["Customer", "Due"]
    task_id = int(at.selectbox(key="care_task").value)
    next(s for s in at.selectbox if s.label == "Outcome").set_value("retained")
    _button(at, "Done").click().run()
    history = next(d.value for d in at.dataframe if "Outcome" in d.value.columns)
    assert list(history["Task"]) == [task_id] and list(history.columns[:2]) == ["Customer", "Outcome"]
