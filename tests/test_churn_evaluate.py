"""`bankcrm churn evaluate` on the real reference table and on tables shaped like other banks' exports."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from analytics import cli
from analytics.ml import evaluate

runner = CliRunner()


def test_churn_modelling_reaches_the_known_figure_without_leaking(churn_modelling_csv):
    result = runner.invoke(cli.app, ["churn", "evaluate", str(churn_modelling_csv), "--target", "Exited",
                                     "--positive", "1", "--id", "CustomerId", "--drop", "RowNumber", "--drop", "Surname"])
    assert result.exit_code == 0, result.output
    [line] = result.stdout.strip().splitlines()  # one JSON object, nothing else on stdout
    figures = json.loads(line)
    assert set(figures) == {"rows", "positives", "roc_auc", "pr_auc", "brier", "lift_top10", "top_features"}
    assert (figures["rows"], figures["positives"]) == (10_000, 2_037)
    assert 0.85 <= figures["roc_auc"] <= 0.88, "above 0.88 on this table means the label leaks in"
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
