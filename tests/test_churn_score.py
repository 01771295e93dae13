"""Scores with the model's own reasons and its estimates of what would help."""

from __future__ import annotations

import json
import re

import duckdb
import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from analytics import churn
from analytics.ml import features as F
from analytics.ml import papers, pipeline, products, score, train
from analytics.scope import Scope, ScopedStore
from bankcrm import cli

runner = CliRunner()


@pytest.fixture(scope="module")
def trained(demo_store, connect, churn_trained):
    tables = ScopedStore(connect(demo_store), Scope.all_branches(pii="shown"))
    model, paper = churn_trained
    month = train.month_ends(tables)[-1]
    return tables, model, paper, month, score.score(tables, model, paper, month)


def test_every_current_customer_is_scored(trained):
    tables, _, _, month, scores = trained
    active = F.labels(tables, month).count().execute()
    assert len(scores) == active and scores.customer_id.is_unique
    assert scores.probability.between(0, 1).all()


def with_words(contributions: pd.Series, figures: pd.Series, minimum: float) -> pd.Series:
    """A customer's contributions of at least `minimum`, largest first, but for features whose figure says
    nothing (missing, like the age of no open complaint): the reasons a customer is given, in order."""
    given = contributions[contributions >= minimum].sort_values(ascending=False)
    return given[[score._words(f, None if pd.isna(figures[f]) else figures[f]) is not None for f in given.index]]


def test_reasons_are_the_model_s_own_attributions(trained):
    tables, model, paper, month, scores = trained
    riskiest = scores.nlargest(30, "probability")
    frame = F.features(tables, month).execute().set_index("customer_id").loc[riskiest.customer_id]
    X = pipeline.as_model_input(frame, F.FEATURES)
    contributions = score.attributions(model, X, paper["reference"])
    for (customer, row), reasons_json in zip(contributions.iterrows(), riskiest.reasons_json):
        reasons = json.loads(reasons_json)
        assert 1 <= len(reasons) <= 3, customer  # the riskiest customers always have a reason
        expected = with_words(row, X.loc[customer], score.MIN_CONTRIBUTION).head(3)
        assert [r["feature"] for r in reasons] == list(expected.index)
        assert [r["contribution"] for r in reasons] == [round(float(c), 4) for c in expected]
        # the figure behind each reason is in the words, in both languages
        top = reasons[0]
        assert top["en"] and top["zh"] and top["en"] != top["zh"]
        # at the reference, that feature no longer pushes the probability up as much
        changed = X.loc[[customer]].copy()
        changed[top["feature"]] = paper["reference"][top["feature"]]
        assert model.predict_proba(changed)[0, 1] < model.predict_proba(X.loc[[customer]])[0, 1]


def test_reasons_in_words_carry_the_figure():
    assert score._words("days_since_last_txn", 74.0) == ("no transactions for 74 days", "74 天无交易")
    assert score._words("aum_change_3m_pct", -0.42) == ("AUM down 42% in 3 months", "近 3 个月资产下降 42%")
    assert score._words("products_held", 1.0) == ("holds a single product", "仅持有 1 个产品")
    assert score._words("oldest_open_complaint_days", 21.0) == ("complaint open for 21 days", "投诉已 21 天未解决")


HAN = "[\u4e00-\u9fff]"


@pytest.mark.parametrize("features", [F.FEATURES, products.FEATURES], ids=["churn", "next_best_product"])
def test_every_feature_of_the_models_reads_as_words_in_both_languages(features):
    for name in features.names:
        for value in (0.0, 1.0, 42.0):
            en, zh = score._words(name, value)
            assert name not in en and name not in zh and "_" not in en + zh, (name, en, zh)
            assert not re.search(HAN, en) and re.search(HAN, zh), (name, en, zh)  # each in its own language


def test_a_reason_without_its_figure_is_not_given():
    X = pd.DataFrame({"oldest_open_complaint_days": [np.nan], "last_nps": [np.nan], "products_held": [1.0],
                      "open_complaints": [0.0]})
    contributions = np.array([[0.09, 0.05, 0.03, 0.02]])  # the missing complaint age would come first
    [given] = [json.loads(r) for r in score.reasons(X, contributions)]
    assert [r["feature"] for r in given] == ["last_nps", "products_held", "open_complaints"]
    assert [r["en"] for r in given][:2] == ["never answered an NPS survey", "holds a single product"]
    # a score stored by an earlier release with the figure missing reads without it, in both languages
    stored = json.dumps([{"feature": "oldest_open_complaint_days", "value": None,
                          "en": "oldest open complaint days: unknown", "zh": "oldest_open_complaint_days：unknown"},
                         {"feature": "products_held", "value": 1.0, "en": "holds a single product", "zh": "仅持有 1 个产品"}])
    assert (churn.reasons_text(stored), churn.reasons_text(stored, "zh")) == ("holds a single product", "仅持有 1 个产品")


def test_what_would_help_lowers_the_probability_and_fits_the_customer(trained):
    tables, model, paper, month, scores = trained
    with_actions = scores[scores.actions_json.notna()]
    assert len(with_actions) >= 0.19 * len(scores)
    # they are the customers with the highest value at risk: the top of the warnings list
    frame = F.features(tables, month).execute().set_index("customer_id")
    at_risk = (scores.set_index("customer_id").probability * frame.aum_cny.fillna(0)).nlargest(50).index
    assert scores.set_index("customer_id").loc[at_risk].actions_json.notna().all()
    for row in with_actions.head(200).itertuples():
        for action in json.loads(row.actions_json):
            assert action["estimate"] is True and action["action"] in score.ACTIONS
            assert action["probability_after"] <= row.probability - score.MIN_CONTRIBUTION + 1e-5


def test_score_command_writes_churn_scores(demo_store, trained, tmp_path):
    _, model, paper, month, scores = trained
    store_copy = tmp_path / "s.duckdb"
    store_copy.write_bytes(demo_store.read_bytes())
    saved = train.save(model, paper, tmp_path / "models")
    for _ in range(2):  # scoring twice replaces, never duplicates
        result = runner.invoke(cli.app, ["score", "--store", str(store_copy), "--model", str(saved)])
        assert result.exit_code == 0, result.output
    con = duckdb.connect(str(store_copy), read_only=True)
    [(rows, customers, as_of)] = con.execute(
        "SELECT count(*), count(DISTINCT customer_id), max(as_of) FROM churn_scores WHERE model_version = ?",
        [paper["version"]]).fetchall()
    assert (rows, customers, as_of) == (len(scores), len(scores), month)
    assert np.isclose(con.execute("SELECT avg(probability) FROM churn_scores WHERE model_version = ?",
                                  [paper["version"]]).fetchone()[0], scores.probability.mean())


def test_score_without_a_model_says_what_to_do(demo_store, tmp_path):
    result = runner.invoke(cli.app, ["score", "--store", str(demo_store), "--models", str(tmp_path)])
    assert result.exit_code == 1 and "run `bankcrm train` first" in result.output


def test_today_s_score_distribution_counts_every_scored_customer_in_scope(demo_store, connect):
    from analytics import churn
    from analytics.filters import Slice

    SCORE_BINS = papers.SCORE_BINS
    backend = connect(demo_store)
    everyone = churn.score_distribution(Slice(ScopedStore(backend, Scope.all_branches())), SCORE_BINS)
    probabilities = churn.latest_scores(Slice(ScopedStore(backend, Scope.all_branches()))).probability.execute()
    assert list(everyone.bin) == list(range(len(SCORE_BINS) - 1))
    assert list(everyone.customers) == [int(((probabilities >= lo) & ((probabilities < hi) | (hi == 1))).sum())
                                        for lo, hi in zip(SCORE_BINS, SCORE_BINS[1:])]
    assert everyone.share.sum() == pytest.approx(1)
    one_branch = churn.score_distribution(Slice(ScopedStore(backend, Scope.for_branches({"SH01"}))), SCORE_BINS)
    assert 0 < one_branch.customers.sum() < everyone.customers.sum()


def test_population_stability_is_zero_for_the_same_scores_and_grows_as_they_move():
    from analytics.churn import population_stability

    same = [0.5, 0.3, 0.2]
    assert population_stability(same, same) == 0
    slight, far = population_stability(same, [0.45, 0.33, 0.22]), population_stability(same, [0.1, 0.3, 0.6])
    assert 0 < slight < 0.1 < 0.25 < far
    # by hand: (0.1-0.5) ln(0.1/0.5) + 0 + (0.6-0.2) ln(0.6/0.2)
    assert far == pytest.approx(-0.4 * np.log(0.2) + 0.4 * np.log(3))
