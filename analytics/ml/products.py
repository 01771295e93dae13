"""Next-best product: for every product a customer does not hold, the chance they open it within 3 months.

One model per product, learnt from the store's own history with the churn
model's pieces and rules: the same point-in-time features (plus what the
customer holds and their monthly inflow at the month-end), the same
eligible month-ends, validated on the latest of them after training on the
earlier ones, then refitted on all; the same calibrated pipeline, report
and attributions. A customer is in a product's rows at a month-end when
they are active and do not hold it; the label is an account of that
product opened in the HORIZON_MONTHS after it.
"""

from __future__ import annotations

import datetime as dt

import ibis.expr.types as ir
import numpy as np
import pandas as pd
from ibis import _
from sklearn.pipeline import Pipeline

from analytics.ml import features as F
from analytics.ml import pipeline, score, train
from analytics.nextbest import TOP
from analytics.schema import PRODUCTS as ALL_PRODUCTS
from analytics.scope import ScopedStore

KIND = "products"  # saved as products-<version>.skops: a dict of product -> pipeline
PRODUCTS = tuple(p for p in ALL_PRODUCTS if p != "current")  # everyone has a current account
FEATURES = pipeline.Features(
    numeric=F.FEATURES.numeric + ("inflow_3m_avg_cny",) + tuple(f"holds_{p}" for p in PRODUCTS),
    categorical=(),
)
ROWS_PER_MONTH = 20_000  # openings are rarer than churn: a larger sample of each month than churn's
MIN_OPENINGS = 30        # a product opened fewer times than this in the training or validation months is not modelled
# Openings are rare (a few in a hundred), so a reason is a feature that raises the probability by a tenth
# of itself (at least 0.05 points), where churn's reasons take a fixed 0.2 points.
REASON_SHARE, MIN_REASON = 0.1, 0.0005


def _month_end_after(month: dt.date, months: int) -> dt.date:
    return (pd.Timestamp(month) + pd.offsets.MonthEnd(months)).date()


def holdings(tables: ScopedStore, month: dt.date) -> ir.Table:
    """customer_id and holds_<product> (1 or 0) for every customer with an account open at the month-end."""
    accounts = tables.table("accounts")
    open_then = accounts.filter((accounts.opened_on <= month)
                                & (accounts.closed_on.isnull() | (accounts.closed_on > month)))
    return open_then.group_by("customer_id").agg(
        **{f"holds_{p}": (open_then["product"] == p).cast("int64").max() for p in PRODUCTS})


def features(tables: ScopedStore, month: dt.date) -> ir.Table:
    """The churn features at the month-end, what the customer holds then and their average monthly inflow
    over the 3 months up to it (unknown when the store has no inflows)."""
    balances = tables.table("monthly_balances")
    inflow = (balances.filter((balances.month > _month_end_after(month, -3)) & (balances.month <= month))
              .group_by("customer_id").agg(inflow_3m_avg_cny=_.inflow_cny.mean()))
    joined = (F.features(tables, month).left_join(holdings(tables, month), "customer_id")
              .left_join(inflow, "customer_id"))
    return joined.select(
        "customer_id", *F.FEATURES.names, "inflow_3m_avg_cny",
        **{f"holds_{p}": joined[f"holds_{p}"].fill_null(0) for p in PRODUCTS})


def labels(tables: ScopedStore, month: dt.date) -> ir.Table:
    """customer_id and opened_<product> (1 or 0): an account of it opened in the HORIZON_MONTHS after `month`."""
    accounts = tables.table("accounts")
    later = accounts.filter((accounts.opened_on > month)
                            & (accounts.opened_on <= _month_end_after(month, F.HORIZON_MONTHS)))
    return later.group_by("customer_id").agg(
        **{f"opened_{p}": (later["product"] == p).cast("int64").max() for p in PRODUCTS})


def training_frame(tables: ScopedStore, month: dt.date) -> pd.DataFrame:
    """Features of every customer active at `month`, and which products they opened after it."""
    known = features(tables, month)
    joined = known.left_join(labels(tables, month), "customer_id")
    frame = joined.select(*known.columns,
                          **{f"opened_{p}": joined[f"opened_{p}"].fill_null(0) for p in PRODUCTS})
    return frame.order_by("customer_id").execute()


def train_all(tables: ScopedStore, progress: train.Progress = lambda step, done, total: None,
              min_auc: float = train.MIN_AUC) -> tuple[dict[str, Pipeline], dict]:
    """One model per product; the paper says per product how it did on the held-out later months, or why
    it was not modelled or not published (train.validated, train.refitted: a refusal is per product)."""
    eligible = train.eligible_months(tables)
    data = train.history(tables, eligible, training_frame, progress, ROWS_PER_MONTH)
    validation_start = eligible[-train.VALIDATION_MONTHS]
    X_all = pipeline.as_model_input(data, FEATURES)
    models, report = {}, {}
    for product in PRODUCTS:
        progress(f"{product}: training, validating on the later months, refitting", len(eligible), len(eligible) + 2)
        rows = data[f"holds_{product}"] == 0
        X, y = X_all[rows], data.loc[rows, f"opened_{product}"].to_numpy(dtype=int)
        later = (data.loc[rows, "month"] >= validation_start).to_numpy()
        openings = {"training": int(y[~later].sum()), "validation": int(y[later].sum())}
        if min(openings.values()) < MIN_OPENINGS:
            report[product] = {"openings": openings, "skipped": f"fewer than {MIN_OPENINGS} openings to learn from"}
            continue
        report[product] = {"openings": openings, "rows": {"training": int((~later).sum()), "validation": int(later.sum())}}
        try:
            _, report[product]["validation"], problem = train.validated((X[~later], y[~later]), (X[later], y[later]),
                                                                        FEATURES, min_auc)
            final, problem = (None, problem) if problem else train.refitted(X, y, FEATURES)
        except ValueError as problem:  # e.g. a feature with no value at all in a fold of a small store
            report[product] = {"openings": openings, "skipped": f"could not be fitted: {problem}"}
            continue
        if problem:
            report[product]["refused"] = problem
            continue
        models[product] = final
        # the typical customer who did not open it: what attributions compare with
        report[product]["reference"] = train.typical(X[y == 0], FEATURES)
    paper = train.paper_head(eligible, FEATURES) | {"products": report, "min_auc": min_auc,
                                                     "libraries": train.libraries()}
    if not models and any("refused" in r for r in report.values()):
        reasons = "; ".join(f"{p}: {r['refused']}" for p, r in report.items() if "refused" in r)
        raise train.Refused(f"no product model passed its checks ({reasons})", paper | {"refused": reasons})
    if not models:
        raise train.TrainingError(f"no product was opened {MIN_OPENINGS} times in both the training and the "
                                  "validation months: nothing to learn from")
    progress("done", len(eligible) + 2, len(eligible) + 2)
    return models, paper


def score_all(tables: ScopedStore, models: dict[str, Pipeline], paper: dict, month: dt.date) -> pd.DataFrame:
    """product_scores rows: every active customer at `month` and every modelled product they do not hold,
    ranked per customer; the top TOP with the model's reasons."""
    frame = features(tables, month).order_by("customer_id").execute()
    X = pipeline.as_model_input(frame, FEATURES)
    products = [p for p in PRODUCTS if p in models]
    probability = np.full((len(X), len(products)), np.nan)
    for j, product in enumerate(products):
        free = (X[f"holds_{product}"] == 0).to_numpy()
        if free.any():
            probability[free, j] = models[product].predict_proba(X[free])[:, 1]
    ranked = np.argsort(np.where(np.isnan(probability), np.inf, -probability), axis=1, kind="stable")
    rank = np.empty_like(ranked)
    rank[np.arange(len(X))[:, None], ranked] = np.arange(1, len(products) + 1)
    reasons = np.full((len(X), len(products)), None, dtype=object)
    for j, product in enumerate(products):
        top = (rank[:, j] <= TOP) & ~np.isnan(probability[:, j])
        if top.any():
            contributions = score.attributions(models[product], X[top], paper["products"][product]["reference"])
            reasons[top, j] = score.reasons(X[top], contributions.to_numpy(),
                                            np.maximum(MIN_REASON, REASON_SHARE * probability[top, j]))
    held = ~np.isnan(probability)
    rows, cols = np.nonzero(held)
    return pd.DataFrame({
        "customer_id": frame["customer_id"].to_numpy()[rows], "as_of": month, "model_version": paper["version"],
        "product": np.array(products, dtype=object)[cols], "probability": probability[rows, cols].round(5),
        "rank": rank[rows, cols].astype("int32"), "reasons_json": reasons[rows, cols]})
