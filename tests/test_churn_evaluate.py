"""`bankcrm churn evaluate` on the real reference table and on tables shaped like other banks' exports."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from analytics.ml import evaluate, pipeline
from bankcrm import bench, cli

runner = CliRunner()


def test_churn_modelling_reaches_the_known_figure_without_leaking(churn_modelling_csv):
    result = runner.invoke(cli.app, ["churn", "evaluate", str(churn_modelling_csv), "--target", "Exited",
                                     "--positive", "1", "--id", "CustomerId", "--drop", "RowNumber", "--drop", "Surname"])
    assert result.exit_code == 0, result.output
    [line] = result.stdout.strip().splitlines()  # one JSON object, nothing else on stdout
    figures = json.loads(line)
    assert set(figures) == {"rows", "positives", "roc_auc", "pr_auc", "brier", "lift_top10", "roc_auc_raw",
                            "top_features", "calibration_slopes", "warnings"}  # no date column: no time order
    assert (figures["rows"], figures["positives"]) == (10_000, 2_037)
    # the data README's default gradient boosting on the same folds: 0.862
    assert 0.862 - 0.01 <= figures["roc_auc"] <= 0.88, "above 0.88 on this table means the label leaks in"
    assert figures["warnings"] == [] and min(figures["calibration_slopes"]) > 0
    assert figures["pr_auc"] > 0.2037 and 0 < figures["brier"] < 0.16 and figures["lift_top10"] > 2.5
    assert {"Age", "NumOfProducts"} <= set(figures["top_features"])


def other_bank_table(rows: int = 1500, seed: int = 1) -> pd.DataFrame:
    """A telco/bank-style export: string ids, yes/no flags, decimal commas, blanks, dates, a rare label."""
    rng = np.random.default_rng(seed)
    tenure = rng.integers(0, 72, rows)
    monthly = rng.uniform(20, 120, rows)
    contract = rng.choice(["Month-to-month", "One year", "Two year"], rows, p=[0.5, 0.3, 0.2])
    paperless = rng.choice(["Yes", "No"], rows)
    opened = pd.Timestamp("2024-12-31") - pd.to_timedelta(tenure * 30, unit="D")
    logit = -1.2 - 0.05 * tenure + 0.015 * monthly + 1.6 * (contract == "Month-to-month") + 0.3 * (paperless == "Yes")
    churn = rng.random(rows) < 1 / (1 + np.exp(-logit))
    total = [("" if t == 0 else f"{m * t:,.2f}".replace(",", " ").replace(".", ",")) for m, t in zip(monthly, tenure)]
    return pd.DataFrame({
        "customerID": [f"{i:04d}-{rng.integers(1000, 9999)}" for i in range(rows)],
        "Contract": contract,
        "PaperlessBilling": paperless,
        "tenure": tenure,
        "MonthlyCharges": [f"{m:.2f}".replace(".", ",") for m in monthly],
        "TotalCharges": total,
        "OpenedOn": opened.strftime("%d/%m/%Y"),
        "Region": "North",
        "Churn": np.where(churn, "Yes", "No"),
    })


def test_an_other_banks_export_with_its_own_conventions(tmp_path):
    path = tmp_path / "telco.csv"
    other_bank_table().to_csv(path, sep=";", index=False)
    prepared = evaluate.prepare(evaluate.read_table(path), "Churn", "yes")
    assert set(prepared.features.numeric) == {"PaperlessBilling", "tenure", "MonthlyCharges", "TotalCharges", "OpenedOn"}
    assert prepared.features.categorical == ("Contract",)
    assert prepared.ignored["customerID"] == "identifier or free text" and prepared.ignored["Region"] == "constant"
    assert prepared.X["MonthlyCharges"].between(20, 120).all()
    assert prepared.X["TotalCharges"].isna().sum() == (prepared.X["tenure"] == 0).sum()
    result = runner.invoke(cli.app, ["churn", "evaluate", str(path), "--target", "Churn", "--positive", "Yes",
                                     "--id", "customerID"])
    assert result.exit_code == 0, result.output
    figures = json.loads(result.stdout)
    assert figures["rows"] == 1500 and 0.70 < figures["roc_auc"] < 0.95
    assert figures["top_features"][0] in {"tenure", "Contract", "OpenedOn"}


def test_numeric_ids_and_row_counters_are_not_features(tmp_path):
    frame = other_bank_table(300).assign(RowNo=range(1, 301), CustNumber=np.arange(300) * 7 + 100_000)
    prepared = evaluate.prepare(frame.drop(columns="customerID"), "Churn", "Yes")
    assert prepared.ignored["RowNo"] == prepared.ignored["CustNumber"] == "identifier"


@pytest.mark.parametrize("args, message", [
    (("Left", "1"), "no column 'Left'"),
    (("Churn", "maybe"), "no row has Churn = 'maybe'; its values are"),
])
def test_mistakes_are_named(tmp_path, args, message):
    path = tmp_path / "t.csv"
    other_bank_table(200).to_csv(path, index=False)
    result = runner.invoke(cli.app, ["churn", "evaluate", str(path), "--target", args[0], "--positive", args[1]])
    assert result.exit_code == 1 and message in result.output


def test_a_date_ordered_table_with_strong_drift_keeps_its_ranking(tmp_path):
    """Calibrated on unshuffled folds (blocks of time), this table's ranking turned upside down: ROC-AUC 0.18
    with nothing said. Now the calibration folds are shuffled and stratified, calibration keeps the booster's
    order, and a time-ordered validation shows how the model holds up on the later customers."""
    path = tmp_path / "drifting.csv"
    bench.drifting_table(10_000).to_csv(path, index=False)
    result = runner.invoke(cli.app, ["churn", "evaluate", str(path), "--target", "y", "--positive", "yes"])
    assert result.exit_code == 0, result.output
    figures = json.loads(result.stdout)
    assert figures["roc_auc"] > 0.7 and figures["lift_top10"] > 2
    assert figures["roc_auc"] >= figures["roc_auc_raw"] - pipeline.MAX_AUC_LOSS
    assert min(figures["calibration_slopes"]) > 0 and figures["warnings"] == []
    later = figures["time_ordered"]
    assert later["column"] == "contacted_on" and later["training_rows"] == 8_000 and later["rows"] == 2_000
    assert later["trained_until"] <= later["tested_from"] and later["roc_auc"] > 0.6
    assert later["calibration_check"]["problem"] is None


def test_a_reversed_calibration_is_a_warning_and_a_failed_exit(tmp_path, monkeypatch):
    """The old calibration (cv=3: stratified folds in row order) on the drifting table: each reversed fold
    is named, the figure below chance too, on standard error and in the JSON, and the exit code is 2."""
    from sklearn.model_selection import StratifiedKFold

    path = tmp_path / "drifting.csv"
    bench.drifting_table(3_000).to_csv(path, index=False)
    build = pipeline.build
    monkeypatch.setattr(pipeline, "build", lambda features, random_state=0, by_time=False:
                        build(features, random_state).set_params(model__cv=StratifiedKFold(3)))
    result = runner.invoke(cli.app, ["churn", "evaluate", str(path), "--target", "y", "--positive", "yes"])
    assert result.exit_code == 2
    figures = json.loads(result.stdout)
    assert figures["roc_auc"] < 0.5 < figures["roc_auc_raw"]
    assert any("calibration reversed the booster's order" in w for w in figures["warnings"])
    assert f"ROC-AUC {figures['roc_auc']} is below chance (0.5): something is reversed or leaking" in figures["warnings"]
    assert all(f"warning: {w}" in result.stderr for w in figures["warnings"])


def test_a_table_with_nothing_to_learn_says_so(tmp_path):
    """A label that is noise: cross-validated, the ranking comes out below chance, which is said and fails."""
    rng = np.random.default_rng(3)
    path = tmp_path / "noise.csv"
    pd.DataFrame({"a": rng.normal(size=400).round(2), "b": rng.choice(["x", "y"], 400),
                  "left": rng.choice(["0", "1"], 400)}).to_csv(path, index=False)
    result = runner.invoke(cli.app, ["churn", "evaluate", str(path), "--target", "left", "--positive", "1"])
    figures = json.loads(result.stdout)
    assert figures["roc_auc"] < 0.5, "the seed must give a figure below chance for this test to mean anything"
    assert result.exit_code == 2 and "is below chance (0.5)" in result.stderr


@pytest.mark.parametrize("written, read", [
    (["4.857", "4.86", "1.3", "93.994", "12.125"], [4.857, 4.86, 1.3, 93.994, 12.125]),  # most with 3 decimals
    (["1.234.567,89", "12,5", "3.000"], [1_234_567.89, 12.5, 3_000]),    # decimal comma, points group thousands
    (["1,234.5", "12", "3,000,000"], [1_234.5, 12, 3_000_000]),          # decimal point, commas group thousands
    (["¥1,200", "¥35", "-¥8"], [1_200, 35, -8]),
    (["12%", "5.5%", "100%"], [0.12, 0.055, 1.0]),
    (["1.234", "2.345", "0.5"], [1.234, 2.345, 0.5]),                   # reads both ways: decimals
    (["1 234,5", "12,25", "7"], [1_234.5, 12.25, 7]),                    # a space groups thousands
    (["-0.125", "1e-3", "+4"], [-0.125, 0.001, 4]),
])
def test_numbers_are_read_as_written(written, read):
    frame = pd.DataFrame({"amount": written * 4, "left": (["1", "0"] * len(written) * 2)[: 4 * len(written)]})
    prepared = evaluate.prepare(frame, "left", "1")
    assert prepared.features.numeric == ("amount",)
    assert prepared.X["amount"].tolist() == pytest.approx(read * 4)


def test_a_column_that_reads_both_ways_follows_thousands(tmp_path):
    frame = pd.DataFrame({"amount": ["1.234", "2.345", "12.000"] * 4, "left": ["1", "0"] * 6})
    assert evaluate.prepare(frame, "left", "1").X["amount"].tolist()[:3] == [1.234, 2.345, 12.0]
    assert evaluate.prepare(frame, "left", "1", thousands=".").X["amount"].tolist()[:3] == [1_234, 2_345, 12_000]


def test_a_mixed_column_is_never_read_two_ways():
    """Values that do not fit the column's reading are unknown, not read the other way round."""
    frame = pd.DataFrame({"amount": ["1.234,5"] + ["4.86", "1.3", "93.994", "2.5"] * 10, "left": ["1", "0"] * 20 + ["1"]})
    amounts = evaluate.prepare(frame, "left", "1").X["amount"]
    assert np.isnan(amounts.iloc[0]) and amounts.iloc[1:5].tolist() == [4.86, 1.3, 93.994, 2.5]


def test_the_time_column_is_the_newest_date_unless_named(tmp_path):
    path = tmp_path / "dates.csv"
    table = bench.drifting_table(1_500).assign(
        born_on=lambda f: (pd.Timestamp("1980-01-01") + pd.to_timedelta(np.arange(len(f)) % 9000, unit="D")
                           ).strftime("%Y-%m-%d"))
    table.to_csv(path, index=False)
    newest = evaluate.evaluate_file(path, "y", "yes")
    assert newest["time_ordered"]["column"] == "contacted_on"
    named = runner.invoke(cli.app, ["churn", "evaluate", str(path), "--target", "y", "--positive", "yes",
                                    "--time", "born_on"])
    assert json.loads(named.stdout)["time_ordered"]["column"] == "born_on"
    wrong = runner.invoke(cli.app, ["churn", "evaluate", str(path), "--target", "y", "--positive", "yes",
                                    "--time", "job"])
    assert wrong.exit_code == 1 and "--time job: not a date column; the date columns are contacted_on, born_on" in wrong.output
