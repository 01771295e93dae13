"""A first start that does not keep a newcomer waiting (#25 item 8): the app serves a new store at once, its
models are trained and scored by `bankcrm refresh` in a process of its own, and the pages say the scores are on
their way until they land, then show them."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from analytics import i18n, store
from analytics.ml import papers, refresh
from bankcrm import cli

from . import apptest
from .rendering import shown_markdown

runner = CliRunner()


def _unscored(demo_store: Path, directory: Path) -> Path:
    """The demo store as `bankcrm generate` leaves it: no score, no model beside it."""
    path = directory / "new.duckdb"
    shutil.copyfile(demo_store, path)
    with store.rewrite(path) as con:
        con.execute("DELETE FROM churn_scores")
        con.execute("DELETE FROM product_scores")
    return path


def _land(demo_store: Path, path: Path) -> None:
    """What the refresh leaves: the models beside the store and a scored store swapped in."""
    shutil.copytree(papers.models_dir(demo_store), papers.models_dir(path))
    landing = path.with_name(".landing")
    shutil.copyfile(demo_store, landing)
    os.replace(landing, path)


@pytest.fixture
def new_store(app_env, demo_store, tmp_path, monkeypatch) -> Path:
    """A new store, queued as make builds it, read by the app."""
    path = _unscored(demo_store, tmp_path)
    refresh.queue(path)
    monkeypatch.setenv("BANKCRM_STORE", str(path))
    monkeypatch.delenv("BANKCRM_MODELS", raising=False)
    return path


def _notice(at) -> str:
    return " ".join(shown_markdown(i.value) for i in at.info)


def _said(at) -> str:
    return " ".join(shown_markdown(e.value) for kind in ("info", "caption", "warning", "error") for e in at.get(kind))


def _text(key: str, lang: str = "en", **values) -> str:
    return shown_markdown(i18n.t(key, lang, **values))


def test_a_queued_store_s_scores_are_underway_only_while_a_process_works_on_them(tmp_path):
    path = tmp_path / "bankcrm.duckdb"
    refresh.queue(path)
    assert refresh.waiting(path) == refresh.STEPS
    assert refresh.underway(path) == frozenset()  # nobody works on them: the pages say what they said before
    with refresh.working(path) as worker:
        assert refresh.underway(path) == {"churn", "products", "care"}
        with refresh.working(path) as second:
            assert second is None  # one worker per store
        worker.done("train")
        assert refresh.underway(path) == {"churn", "products", "care"}
        worker.done("score")
        assert refresh.underway(path) == {"products", "care"}
        for step in ("products train", "products score", "care generate"):
            worker.done(step)
        assert refresh.waiting(path) == () and not refresh.queue_path(path).exists()
        assert refresh.underway(path) == frozenset()
    refresh.queue(path, ("score",))
    assert refresh.underway(path) == frozenset()  # the worker has gone: a stopped refresh is not "on its way"


def test_the_churn_page_says_the_scores_are_on_their_way_then_shows_them_once_they_land(new_store, demo_store):
    with refresh.working(new_store) as worker:
        at = apptest.open_page(apptest.sign_in(apptest.app(), "head_sh01"), "churn")
        assert not at.exception and not at.error
        notice = _notice(at)
        for key in ("coming.churn", "coming.care", "coming.landing"):
            assert _text(key) in notice, key
        said = _said(at)
        assert _text("churn.unscored") not in said and _text("care.rules_never") not in said
        for step in refresh.STEPS[:2]:
            worker.done(step)
        _land(demo_store, new_store)
    at.run()  # the same session, the next run: the scores landed
    assert not at.exception and not at.error
    assert "on their way" not in _said(at)
    model = sorted(papers.models_dir(demo_store).glob("churn-*.skops"))[-1].stem.removeprefix("churn-")
    assert _text("churn.scored", model=model) in _said(at)
    assert apptest.frame_with(at, "col.probability")["Churn probability"].notna().any()


@pytest.mark.parametrize("page, kinds", [("model", ("churn", "products")), ("campaigns", ("products",)),
                                         ("overview", ("churn",)), ("portfolio", ("churn", "products"))])
def test_each_page_that_shows_scores_says_they_are_on_their_way_not_that_there_is_no_model(new_store, page,
                                                                                            kinds):
    with refresh.working(new_store):
        at = apptest.open_page(apptest.sign_in(apptest.app(), "admin"), page)
        assert not at.exception and not at.error
        for kind in kinds:
            assert _text(f"coming.{kind}") in _notice(at), kind
        said = _said(at)
        assert "No churn model" not in said and "No next-best-product" not in said


def test_a_customer_360_says_its_scores_are_on_their_way_in_chinese(new_store, demo_con):
    [(customer,)] = demo_con.execute("SELECT min(customer_id) FROM customers WHERE branch_code = 'SH01'").fetchall()
    with refresh.working(new_store):
        at = apptest.sign_in(apptest.app(), "head_sh01")
        at.sidebar.radio[0].set_value("zh").run()
        at = apptest.open_page(at, "portfolio")
        at.query_params["customer"] = str(customer)
        at.run()
        assert not at.exception and not at.error
        notice = _notice(at)
        for kind in ("churn", "products", "care"):
            assert _text(f"coming.{kind}", "zh") in notice, kind
        said = _said(at)
        assert _text("c360.no_score", "zh") not in said and _text("c360.no_products", "zh") not in said


def test_a_refresh_whose_process_stopped_leaves_the_pages_saying_what_they_said_before(new_store):
    """Nobody works on the queue (a refresh stopped with Ctrl-C, the app started without make): no promise."""
    at = apptest.open_page(apptest.sign_in(apptest.app(), "admin"), "campaigns")
    assert not at.exception
    assert "on their way" not in _said(at) and _text("campaigns.no_scores") in _said(at)


@pytest.fixture
def trained_store(demo_store, tmp_path, monkeypatch) -> Path:
    """A new store whose models were trained already (the steps left: score, care generate)."""
    for name in ("BANKCRM_STORE", "BANKCRM_STATE", "BANKCRM_MODELS", "BANKCRM_BACKEND"):
        monkeypatch.delenv(name, raising=False)
    path = _unscored(demo_store, tmp_path)
    shutil.copytree(papers.models_dir(demo_store), papers.models_dir(path))
    refresh.queue(path, ("score", "care generate"))
    return path


def test_refresh_does_the_steps_a_store_waits_for_once_and_a_second_run_trains_nothing(trained_store):
    from analytics.state import StateStore, default_path

    done = runner.invoke(cli.app, ["refresh", "--queued", "--store", str(trained_store)])
    assert done.exit_code == 0, done.output
    assert refresh.waiting(trained_store) == ()
    with store.connect(trained_store, read_only=True) as con:
        assert con.execute("SELECT count(*) FROM churn_scores").fetchone()[0] > 0
    identity, models = os.stat(trained_store).st_ino, sorted(papers.models_dir(trained_store).iterdir())
    again = runner.invoke(cli.app, ["refresh", "--queued", "--store", str(trained_store)])  # make run, once more
    assert again.exit_code == 0 and "waits for no model step" in again.output
    assert os.stat(trained_store).st_ino == identity and sorted(papers.models_dir(trained_store).iterdir()) == models
    assert len(StateStore(default_path(trained_store)).audit_events(event="care_tasks_generated")) == 1


def test_one_refresh_at_a_time_works_on_a_store(trained_store):
    with refresh.working(trained_store):
        other = runner.invoke(cli.app, ["refresh", "--queued", "--store", str(trained_store)])
    assert other.exit_code == 0 and "already refreshing" in other.output
    assert refresh.waiting(trained_store) == ("score", "care generate")


def test_a_refresh_stopped_half_way_leaves_the_store_as_it_was_and_the_step_waiting(trained_store):
    """`make run` stopped: the refresh it started stops too, in the middle of a step, and the next run does that
    step again. The test holds the store's writer lock, so the step cannot have finished."""
    before = store.file_checksum(trained_store)
    make = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    try:
        with store.writer_lock(trained_store):
            started = subprocess.run([str(Path(sys.executable).with_name("bankcrm")), "refresh", "--queued",
                                      "--store", str(trained_store), "--while", str(make.pid)],
                                     capture_output=True, text=True, timeout=600)
            assert started.returncode == 0, started.stderr
            assert refresh.underway(trained_store) == {"churn", "care"}  # returned at once, the worker holds on
            make.kill()
            make.wait()
            deadline = time.monotonic() + 300  # a wait for the worker to end, not a measure of how fast it does
            while refresh.underway(trained_store) and time.monotonic() < deadline:
                time.sleep(0.2)
            assert refresh.underway(trained_store) == frozenset()
    finally:
        make.kill()
    assert store.file_checksum(trained_store) == before
    assert refresh.waiting(trained_store) == ("score", "care generate")
    assert not [f for f in trained_store.parent.iterdir() if ".tmp" in f.name]
    log = trained_store.with_name(trained_store.name + ".refresh.log").read_text()
    assert "Stopped during `bankcrm score`" in log
