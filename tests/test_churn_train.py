"""Training on the store's history: validated by time, saved with its paper, loaded without pickles."""

from __future__ import annotations

import json

import ibis
import numpy as np
import pytest
from typer.testing import CliRunner

from analytics.ml import papers, pipeline, train
from analytics.scope import Scope, ScopedStore
from bankcrm import cli

runner = CliRunner()


def test_validation_is_on_later_months_than_training(churn_trained):
    _, paper = churn_trained
    first, last = paper["training_window"]
    valid_first, valid_last = paper["validation_window"]
    assert first < valid_first <= valid_last == last
    assert paper["rows"]["training"] + paper["rows"]["validation"] == paper["rows"]["final"]


def test_the_model_learns_the_demo_bank_s_churn(churn_trained):
    _, paper = churn_trained
    v = paper["validation"]
    assert v["roc_auc"] > 0.8 and v["pr_auc"] > 2 * v["base_rate"] and v["lift_top10"] > 3
    predicted = [b["predicted"] for b in v["calibration"]]
    observed = [b["observed"] for b in v["calibration"]]
    assert predicted == sorted(predicted) and observed[-1] > observed[0]


def test_saved_model_loads_with_its_paper_and_scores_the_same(churn_trained, tmp_path):
    model, paper = churn_trained
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


def test_the_paper_keeps_what_the_model_page_shows(churn_trained):
    _, paper = churn_trained
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


def _shuffled(frame_of, columns):
    """A training-frame function whose labels (`columns`) are shuffled: nothing is left to learn."""
    rng = np.random.default_rng(0)

    def frame(tables, month):
        out = frame_of(tables, month)
        for column in columns:
            out[column] = rng.permutation(out[column].to_numpy())
        return out
    return frame


def _said(result) -> str:
    return " ".join(result.output.split())  # the console wraps long lines


def test_a_model_no_better_than_chance_is_not_published_and_everything_says_why(app_env, demo_store, tmp_path,
                                                                                  monkeypatch):
    from analytics.ml import features

    from . import apptest
    from .rendering import shown_markdown

    monkeypatch.setattr(features, "training_frame", _shuffled(features.training_frame, ["churned"]))
    models = tmp_path / "m"
    result = runner.invoke(cli.app, ["train", "--store", str(demo_store), "--models", str(models)])
    assert result.exit_code == 1
    assert "Not published: its ROC-AUC on the held-out later months is" in _said(result)
    assert "below the 0.55 a published model needs" in _said(result)
    assert not list(models.glob("*.skops"))
    [paper_file] = models.glob("churn-*.json")
    paper = json.loads(paper_file.read_text())
    assert paper["refused"].startswith("its ROC-AUC") and paper["validation"]["calibration_check"]["roc_auc_raw"] < 0.55
    assert papers.refusal(models) == paper

    scored = runner.invoke(cli.app, ["score", "--store", str(demo_store), "--models", str(models)])
    assert scored.exit_code == 1
    assert f"No churn model is published: training {paper['version']} refused its model: its ROC-AUC" in _said(scored)

    monkeypatch.setenv("BANKCRM_MODELS", str(models))
    at = apptest.open_page(apptest.sign_in(apptest.app(), "analyst"), "model")
    assert not at.exception
    assert any(f"Training {paper['version']} did not publish its model: its ROC-AUC" in shown_markdown(w.value)
               for w in at.warning)


def test_the_published_model_records_its_checks(churn_trained):
    _, paper = churn_trained
    check = paper["validation"]["calibration_check"]
    assert check["problem"] is None and check["slope"] > 0 and paper["calibration_slope"] > 0
    assert check["roc_auc"] >= check["roc_auc_raw"] - pipeline.MAX_AUC_LOSS and paper["min_auc"] == 0.55


def test_product_models_are_refused_one_by_one_with_their_reasons(demo_store, monkeypatch):
    from analytics.ml import products

    monkeypatch.setattr(products, "training_frame", _shuffled(products.training_frame,
                                                              [f"opened_{p}" for p in products.PRODUCTS]))
    tables = ScopedStore(ibis.duckdb.connect(str(demo_store), read_only=True), Scope.all_branches(pii="shown"))
    with pytest.raises(train.Refused) as refused:
        products.train_all(tables, min_auc=0.9)
    reports = refused.value.paper["products"]
    assert all("refused" in r or "skipped" in r for r in reports.values())
    assert any(r.get("refused", "").startswith("its ROC-AUC") for r in reports.values())
