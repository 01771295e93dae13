"""Training on the store's history: validated by time, saved with its paper, loaded without pickles."""

from __future__ import annotations

import json

import ibis
import pytest
from typer.testing import CliRunner

from analytics import cli
from analytics.ml import train
from analytics.scope import Scope, ScopedStore

runner = CliRunner()


@pytest.fixture(scope="module")
def trained(demo_store):
    tables = ScopedStore(ibis.duckdb.connect(str(demo_store), read_only=True), Scope.all_branches(pii="shown"))
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
