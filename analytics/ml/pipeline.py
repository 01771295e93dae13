"""The churn modelling pipeline: one scikit-learn Pipeline for the store's model and for any customer table.

Gradient boosting (scikit-learn's HistGradientBoostingClassifier, which
takes missing values and categories natively) with probabilities
calibrated by Platt scaling on internal cross-validation. `ensemble=False`
keeps one booster fitted on all the training rows, so calibration reshapes
the probabilities without costing ranking quality.

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
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OrdinalEncoder
from threadpoolctl import threadpool_limits

threadpool_limits(limits=1, user_api="openmp")  # after scikit-learn loaded its OpenMP runtime

MAX_CATEGORIES = 250  # the booster bins categories; rarer ones share one code


@dataclass(frozen=True)
class Features:
    numeric: tuple[str, ...]
    categorical: tuple[str, ...]

    @property
    def names(self) -> tuple[str, ...]:
        return self.numeric + self.categorical


def build(features: Features, random_state: int = 0) -> Pipeline:
    """A fresh, unfitted pipeline over a frame holding `features` (numbers as floats, categories as text)."""
    encode = ColumnTransformer(
        [("numeric", "passthrough", list(features.numeric)),
         ("categorical", OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=np.nan,
                                        encoded_missing_value=np.nan, max_categories=MAX_CATEGORIES,
                                        dtype=np.float64), list(features.categorical))],
        verbose_feature_names_out=False,
    )
    booster = HistGradientBoostingClassifier(
        random_state=random_state,
        categorical_features=[False] * len(features.numeric) + [True] * len(features.categorical),
    )
    model = CalibratedClassifierCV(booster, method="sigmoid", cv=3, ensemble=False)
    return Pipeline([("encode", encode), ("model", model)])


def as_model_input(frame: pd.DataFrame, features: Features) -> pd.DataFrame:
    """The columns the pipeline reads, with the types it expects."""
    out = pd.DataFrame(index=frame.index)
    for name in features.numeric:
        out[name] = pd.to_numeric(frame[name], errors="coerce").astype("float64")
    for name in features.categorical:
        out[name] = frame[name].astype("object").where(frame[name].notna(), None)
    return out
