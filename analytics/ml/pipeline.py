"""The churn modelling pipeline: one scikit-learn Pipeline for the store's model and for any customer table.

Gradient boosting (scikit-learn's HistGradientBoostingClassifier, which
takes missing values and categories natively) with probabilities
calibrated by Platt scaling on internal cross-validation. `ensemble=False`
keeps one booster fitted on all the training rows, so calibration reshapes
the probabilities without costing ranking quality, as long as Platt's
slope is positive. The calibration folds are drawn as the outer validation
draws its folds: shuffled and stratified for a customer table, consecutive
blocks of time for the store's own history (its rows are in month order).
On drifting data, a booster fitted on some blocks of time can rank another
block backwards and Platt learns a negative slope, which turns the final
model upside down: `calibration_check` finds that, and a model it fails is
not used.

Every model fits and scores on one OpenMP thread (set once, for the whole
process, when this module is imported): the booster's threads, one per
core, spin against whatever else runs there (the app's sessions, a second
process) and slowed training several times over on 2 busy cores, while
one thread costs about a tenth on an idle machine.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.calibration import CalibratedClassifierCV
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.inspection import permutation_importance
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import KFold, StratifiedKFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OrdinalEncoder
from threadpoolctl import threadpool_limits

threadpool_limits(limits=1, user_api="openmp")  # after scikit-learn loaded its OpenMP runtime

MAX_CATEGORIES = 250  # the booster bins categories; rarer ones share one code
CALIBRATION_FOLDS = 2  # shuffled and stratified, for a customer table
TIME_BLOCKS = 3        # for the store's history: each calibration fit then still sees two thirds of the months
MAX_AUC_LOSS = 0.005  # calibration may cost this much ROC-AUC against the booster's own scores (ties), no more


@dataclass(frozen=True)
class Features:
    numeric: tuple[str, ...]
    categorical: tuple[str, ...]

    @property
    def names(self) -> tuple[str, ...]:
        return self.numeric + self.categorical


def build(features: Features, random_state: int = 0, *, by_time: bool = False) -> Pipeline:
    """A fresh, unfitted pipeline over a frame holding `features` (numbers as floats, categories as text).
    `by_time`: the rows are in time order and the calibration folds are consecutive blocks of them."""
    encode = ColumnTransformer(
        [("numeric", "passthrough", list(features.numeric)),
         ("categorical", OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=np.nan,
                                        encoded_missing_value=np.nan, max_categories=MAX_CATEGORIES,
                                        dtype=np.float64), list(features.categorical))],
        verbose_feature_names_out=False,
    )
    booster = HistGradientBoostingClassifier(
        early_stopping=True,  # on 10% of the rows; scikit-learn's "auto" turns it on above 10,000 rows only
        random_state=random_state,
        categorical_features=[False] * len(features.numeric) + [True] * len(features.categorical),
    )
    folds = (KFold(TIME_BLOCKS) if by_time
             else StratifiedKFold(CALIBRATION_FOLDS, shuffle=True, random_state=random_state))
    model = CalibratedClassifierCV(booster, method="sigmoid", cv=folds, ensemble=False)
    return Pipeline([("encode", encode), ("model", model)])


def importance(model: Pipeline, X: pd.DataFrame, y: np.ndarray, repeats: int, rows: int) -> np.ndarray:
    """Permutation importance, one per column of `X`: the fall in ROC-AUC when the column's values are shuffled
    (on at most `rows` rows), averaged over `repeats` shuffles. The columns are encoded once, not per shuffle."""
    result = permutation_importance(model[-1], model[:-1].transform(X), y, scoring="roc_auc", n_repeats=repeats,
                                    random_state=0, max_samples=min(rows, len(X)))
    return result.importances_mean


def calibration_slope(model: Pipeline) -> float:
    """Platt's slope on the booster's score: above 0 when a higher score gives a higher probability."""
    return -float(model[-1].calibrated_classifiers_[0].calibrators[0].a_)  # p = 1 / (1 + exp(a * score + b))


def raw_scores(model: Pipeline, X: pd.DataFrame) -> np.ndarray:
    """The booster's own scores (log-odds) before calibration."""
    return model[-1].calibrated_classifiers_[0].estimator.decision_function(model[:-1].transform(X))


def calibration_check(model: Pipeline, X: pd.DataFrame, y: np.ndarray) -> dict:
    """Whether calibration kept the booster's order on held-out rows `X`, `y`: Platt's slope, the ROC-AUC of
    the raw and the calibrated scores, and `problem`, a sentence when the model must not be used (else None)."""
    slope = calibration_slope(model)
    raw = float(roc_auc_score(y, raw_scores(model, X)))
    calibrated = float(roc_auc_score(y, model.predict_proba(X)[:, 1]))
    problem = None
    if slope <= 0:
        problem = (f"calibration reversed the booster's order (Platt slope {slope:.3g}): the data drift between "
                   "the calibration folds")
    elif calibrated < raw - MAX_AUC_LOSS:
        problem = (f"calibrated scores rank worse than the booster's own on held-out rows "
                   f"(ROC-AUC {calibrated:.4f} against {raw:.4f})")
    return {"slope": round(slope, 4), "roc_auc_raw": round(raw, 4), "roc_auc": round(calibrated, 4),
            "problem": problem}


def as_model_input(frame: pd.DataFrame, features: Features) -> pd.DataFrame:
    """The columns the pipeline reads, with the types it expects."""
    out = pd.DataFrame(index=frame.index)
    for name in features.numeric:
        out[name] = pd.to_numeric(frame[name], errors="coerce").astype("float64")
    for name in features.categorical:
        out[name] = frame[name].astype("object").where(frame[name].notna(), None)
    return out
