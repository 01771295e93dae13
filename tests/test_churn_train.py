"""Training on the store's history: validated by time, saved with its paper, loaded without pickles."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from analytics import cli
from analytics.ml import papers, train
from analytics.scope import Scope, ScopedStore

runner = CliRunner()


@pytest.fixture(scope="module")
def trained(demo_store, connect):
    tables = ScopedStore(connect(demo_store), Scope.all_branches(pii="shown"))
    return train.train(tables)


def test_validation_is_on_later_months_than_training(trained):
    _, paper = trained
    first, last = paper["training_window"]
    valid_first, valid_last = paper["validation_window"]
    assert first < valid_first <= valid_last == last
    assert paper["rows"]["training"] + paper["rows"]["validation"] == paper["rows"]["final"]


def test_the_model_learns_the_demo_bank_s_churn(trained):
    _, paper = trained
    v = paper["validation"]
    assert v["roc_auc"] > 0.8 and v["pr_auc"] > 2 * v["base_rate"] and v["lift_top10"] > 3
    predicted = [b["predicted"] for b in v["calibration"]]
    observed = [b["observed"] for b in v["calibration"]]
    assert predicted == sorted(predicted) and observed[-1] > observed[0]


def test_saved_model_loads_with_its_paper_and_scores_the_same(trained, tmp_path):
    model, paper = trained
    path = train.save(model, paper, tmp_path)
    loaded, loaded_paper = train.load(path)
    assert loaded_paper == json.loads(json.dumps(paper))
    assert set(loaded_paper["libraries"]) == {"scikit-learn", "numpy", "pandas", "skops"}


def test_a_store_too_short_to_validate_is_refused(tmp_path):
    from analytics import generate

    from .conftest import DEMO_END

    path = tmp_path / "short.duckdb"
    generate.build_store(path, generate.DemoSpec(customers=300, months=8, seed=1, end_month=DEMO_END))
    result = runner.invoke(cli.app, ["train", "--store", str(path), "--models", str(tmp_path / "m")])
    assert result.exit_code == 1 and "training needs at least 10" in result.output


def test_the_paper_keeps_what_the_model_page_shows(trained):
    _, paper = trained
    v = paper["validation"]
    # the share of churners caught is the lift times the share of the list
    assert v["caught_top10"] == pytest.approx(v["lift_top10"] * 0.1, abs=0.01)
    assert v["caught_top20"] == pytest.approx(v["lift_top20"] * 0.2, abs=0.01)
    gains = [g["share_of_churners"] for g in v["gains"]]
    assert len(gains) == 20 and gains == sorted(gains) and gains[-1] == 1.0
    assert gains[1] == v["caught_top10"] and gains[3] == v["caught_top20"]
    assert set(v["importance"]) == set(paper["features"]["numeric"])
    drops = list(v["importance"].values())
    assert drops == sorted(drops, reverse=True) and drops[0] > 0.01  # something carries the model
    shares = paper["score_distribution"]["shares"]
    assert paper["score_distribution"]["bins"] == list(papers.SCORE_BINS) and len(shares) == len(papers.SCORE_BINS) - 1
    assert sum(shares) == pytest.approx(1, abs=1e-5) and paper["score_distribution"]["month"] == paper["training_window"][1]


def test_models_live_beside_the_store_unless_told_otherwise(tmp_path, monkeypatch):
    monkeypatch.delenv("BANKCRM_MODELS", raising=False)
    assert papers.models_dir(tmp_path / "bank.duckdb") == tmp_path / "models"
    monkeypatch.setenv("BANKCRM_MODELS", str(tmp_path / "elsewhere"))
    assert papers.models_dir(tmp_path / "bank.duckdb") == tmp_path / "elsewhere"


def test_models_fit_and_score_on_one_openmp_thread():
    """The booster's OpenMP threads (one per core) spin against the app's sessions and other processes."""
    from threadpoolctl import threadpool_info

    from analytics.ml import pipeline  # noqa: F401  (importing it sets the limit)

    assert {pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "openmp"} == {1}
