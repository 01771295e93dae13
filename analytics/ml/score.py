"""Scoring current customers, with the model's own reasons and estimates of what would help.

Reasons are attributions by the model itself: for each feature, how much
lower the customer's probability would be if that one figure were the
typical staying customer's (the training paper's `reference`). The three
features that raise the probability most are the reasons, each put in
words, in English and Chinese, with the customer's own figure.

What would help: changes within a relationship manager's reach (a second
product, the open complaint resolved, the customer back on digital
channels, a first transaction again), each scored by the model on the
changed customer; the one or two that lower the probability most are kept,
labelled as estimates.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Callable

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline

from analytics import format as fmt
from analytics.churn import MISSING_WORDS, age_reason
from analytics.i18n import term
from analytics.ml import features as F
from analytics.ml import pipeline
from analytics.schema import PRODUCTS
from analytics.scope import ScopedStore, age_band

TOP_REASONS = 3
MIN_CONTRIBUTION = 0.002  # a feature that moves the probability by less than 0.2 points is no reason
ACTIONS_FOR_TOP_SHARE = 0.2  # "what would help" for the fifth of customers with the highest value at risk


# feature -> (English, Chinese) words for the customer's figure
WORDS: dict[str, Callable[[float], tuple[str, str]]] = {
    "days_since_last_txn": lambda v: ((f"no transactions for {v:.0f} days", f"{v:.0f} 天无交易") if v >= 2
                                      else ("transacted in the last day", "最近一天内有交易")),
    "aum_change_3m_pct": lambda v: ((f"AUM down {-v:.0%} in 3 months", f"近 3 个月资产下降 {-v:.0%}") if v < 0
                                    else (f"AUM up {v:.0%} in 3 months", f"近 3 个月资产上升 {v:.0%}")),
    "products_held": lambda v: (("holds a single product", "仅持有 1 个产品") if v <= 1
                                else (f"holds {v:.0f} products", f"持有 {v:.0f} 个产品")),
    "open_complaints": lambda v: (f"{v:.0f} open complaint{'s' if v != 1 else ''}", f"{v:.0f} 件投诉未解决"),
    "oldest_open_complaint_days": lambda v: (f"complaint open for {v:.0f} days", f"投诉已 {v:.0f} 天未解决"),
    "complaints_90d": lambda v: (f"{v:.0f} complaint{'' if v == 1 else 's'} in 90 days", f"近 90 天投诉 {v:.0f} 次"),
    "txn_count_month": lambda v: (f"{v:.0f} transaction{'' if v == 1 else 's'} last month", f"上月交易 {v:.0f} 笔"),
    "txn_count_3m": lambda v: (f"{v:.0f} transaction{'' if v == 1 else 's'} in 3 months", f"近 3 个月交易 {v:.0f} 笔"),
    "digital_logins_3m": lambda v: (f"{v:.0f} digital login{'' if v == 1 else 's'} in 3 months", f"近 3 个月线上登录 {v:.0f} 次"),
    "last_nps": lambda v: (f"last NPS answer {v:.0f}", f"最近一次 NPS {v:.0f} 分"),
    "tenure_months": lambda v: (f"customer for {v:.0f} months", f"开户 {v:.0f} 个月"),
    "age_years": age_reason,
    "aum_cny": lambda v: (f"AUM {fmt.money(v)}", f"资产 {fmt.money(v, 'zh')}"),
    "aum_3m_avg_cny": lambda v: (f"3-month average AUM {fmt.money(v)}", f"3 个月平均资产 {fmt.money(v, 'zh')}"),
    "investment_share": lambda v: (f"{v:.0%} of AUM in investments", f"投资占资产 {v:.0%}"),
    "inflow_3m_avg_cny": lambda v: (f"{fmt.money(v)} a month coming in", f"月均入账 {fmt.money(v, 'zh')}"),
}
for _product in PRODUCTS:  # the next-best-product models also read what the customer holds
    WORDS[f"holds_{_product}"] = lambda v, p=_product: (
        (f"holds {term('product', p, in_sentence=True)}", f"持有{term('product', p, 'zh')}") if v >= 1
        else (f"no {term('product', p, in_sentence=True)}", f"未持有{term('product', p, 'zh')}"))


# Features whose figure a reason keeps only as its band.
BANDED: dict[str, Callable[[float], int]] = {"age_years": age_band}


def _words(feature: str, value) -> tuple[str, str] | None:
    """The customer's figure of `feature` in words (English, Chinese); None for a missing figure that says
    nothing a person could act on (no open complaint has no age): that is no reason to show."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return MISSING_WORDS.get(feature)
    return WORDS[feature](float(value))


def attributions(model: Pipeline, X: pd.DataFrame, reference: dict) -> pd.DataFrame:
    """Per customer and feature: probability now minus probability with that feature at the reference."""
    base = model.predict_proba(X)[:, 1]
    out = {}
    for name in X.columns:
        changed = X.copy()
        changed[name] = reference[name]
        out[name] = base - model.predict_proba(changed)[:, 1]
    return pd.DataFrame(out, index=X.index)


def reasons(X: pd.DataFrame, contributions: np.ndarray, minimum: float | np.ndarray = MIN_CONTRIBUTION) -> list[str]:
    """Per row of X, a JSON list of the TOP_REASONS features that raise its probability most (at least
    `minimum` each: one figure, or one per row), with the customer's figure in words."""
    values = X.to_numpy(dtype=object)
    columns = list(X.columns)
    least = np.broadcast_to(minimum, len(X))
    out = []
    for row, order in zip(range(len(X)), np.argsort(-contributions, axis=1)):
        picked = []
        for j in order:
            if contributions[row, j] < least[row] or len(picked) == TOP_REASONS:
                break
            value = values[row, j]
            value = None if value is None or (isinstance(value, float) and math.isnan(value)) else value
            if columns[j] in BANDED and value is not None:  # an exact age (to the day) would give the birth date
                value = BANDED[columns[j]](value)
            words = _words(columns[j], value)
            if words is None:
                continue
            en, zh = words
            picked.append({"feature": columns[j], "value": value, "contribution": round(float(contributions[row, j]), 4),
                           "en": en, "zh": zh})
        out.append(json.dumps(picked, ensure_ascii=False, default=str))
    return out


# action -> (English, Chinese, applies to the customer?, the change)
Change = Callable[[pd.DataFrame, dict], pd.DataFrame]
ACTIONS: dict[str, tuple[str, str, Callable[[pd.DataFrame, dict], pd.Series], Change]] = {
    "second_product": ("add a second product", "增加第二个产品",
                       lambda X, ref: X.products_held <= 1,
                       lambda X, ref: X.assign(products_held=X.products_held.clip(lower=2))),
    "resolve_complaint": ("resolve the open complaint", "解决未结投诉",
                          lambda X, ref: X.open_complaints > 0,
                          lambda X, ref: X.assign(open_complaints=0.0, oldest_open_complaint_days=np.nan)),
    "back_to_digital": ("bring the customer back to digital use", "引导客户恢复线上使用",
                        lambda X, ref: X.digital_logins_3m < ref["digital_logins_3m"],
                        lambda X, ref: X.assign(digital_logins_3m=X.digital_logins_3m.clip(lower=ref["digital_logins_3m"]))),
    "reactivate": ("get a transaction going again", "促成一笔新交易",
                   lambda X, ref: X.days_since_last_txn > 30,
                   lambda X, ref: X.assign(days_since_last_txn=X.days_since_last_txn.clip(upper=15),
                                           txn_count_month=X.txn_count_month.clip(lower=1),
                                           txn_count_3m=X.txn_count_3m.clip(lower=1))),
}
def what_would_help(model: Pipeline, X: pd.DataFrame, reference: dict, top: int = 2) -> list[list[dict]]:
    """For each row of X: up to `top` actions that lower the model's probability most, with the estimate."""
    base = model.predict_proba(X)[:, 1]
    after = {}
    for key, (_, _, applies, change) in ACTIONS.items():
        mask = applies(X, reference).to_numpy()
        p = np.full(len(X), np.nan)
        if mask.any():
            p[mask] = model.predict_proba(change(X[mask], reference))[:, 1]
        after[key] = p
    results = []
    for i in range(len(X)):
        # like a reason, a change that moves the probability by less than MIN_CONTRIBUTION is no help
        options = sorted(((after[k][i], k) for k in ACTIONS
                          if not np.isnan(after[k][i]) and after[k][i] <= base[i] - MIN_CONTRIBUTION))
        results.append([{"action": k, "en": ACTIONS[k][0], "zh": ACTIONS[k][1], "probability_after": round(float(p), 5),
                         "estimate": True} for p, k in options[:top]])
    return results


def score(tables: ScopedStore, model: Pipeline, paper: dict, month: dt.date) -> pd.DataFrame:
    """churn_scores rows for every customer active at `month`."""
    frame = F.features(tables, month).order_by("customer_id").execute()
    X = pipeline.as_model_input(frame, F.FEATURES)
    reference = paper["reference"]
    probability = model.predict_proba(X)[:, 1]
    why = reasons(X, attributions(model, X, reference).to_numpy())
    actions = [None] * len(X)
    if len(X):
        value_at_risk = probability * X["aum_cny"].fillna(0).to_numpy()
        riskiest = np.argsort(-value_at_risk, kind="stable")[: max(1, int(np.ceil(ACTIONS_FOR_TOP_SHARE * len(X))))]
        for i, help_ in zip(riskiest, what_would_help(model, X.iloc[riskiest], reference)):
            actions[i] = json.dumps(help_, ensure_ascii=False)
    return pd.DataFrame({"customer_id": frame["customer_id"], "as_of": month, "model_version": paper["version"],
                         "probability": probability.round(5), "reasons_json": why, "actions_json": actions})


# Per score table: delete a run's rows, then insert the new ones (spelt out: no SQL is put together from names)
REPLACE = {
    "churn_scores": ("DELETE FROM churn_scores WHERE as_of = ? AND model_version = ?",
                     "INSERT INTO churn_scores BY NAME SELECT * FROM _new_scores"),
    "product_scores": ("DELETE FROM product_scores WHERE as_of = ? AND model_version = ?",
                       "INSERT INTO product_scores BY NAME SELECT * FROM _new_scores"),
}


def write(con, scores: pd.DataFrame, table: str = "churn_scores") -> int:
    """Replace the scores of this month and model version in `table` of the facts store (inside `store.rewrite`)."""
    import ibis

    delete, insert = REPLACE[table]
    backend = ibis.duckdb.from_connection(con)
    backend.create_table("_new_scores", ibis.memtable(scores), temp=True)
    [(as_of, version)] = scores[["as_of", "model_version"]].drop_duplicates().itertuples(index=False)
    con.execute(delete, [as_of, version])
    con.execute(insert)
    con.execute("DROP TABLE _new_scores")  # the next write on this connection makes its own
    return len(scores)
