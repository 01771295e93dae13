"""Training the churn model on the store's own history, validated by time.

Month-ends with three months of history before them and three months of
outcome after them are eligible. The model is validated on the last
eligible month-ends after training on the earlier ones (never the other way
round), then refitted on all of them; it is saved as a skops file (which
loads without running pickled code) beside a JSON paper: version, training
and validation windows, features, metrics, the publishing checks and
library versions. A model is not published (`Refused`, its paper saved
alone) when its held-out ROC-AUC is below MIN_AUC or its calibration
reversed or blurred the booster's order (pipeline.calibration_check), on
the validation fit or in the refitted model.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from importlib import metadata as package_metadata
from pathlib import Path

import numpy as np
import pandas as pd
import skops.io as sio
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score
from sklearn.pipeline import Pipeline

from analytics import files
from analytics.ml import features as F
from analytics.ml import pipeline
from analytics.ml.papers import MIN_AUC, SCORE_BINS
from analytics.scope import ScopedStore

VALIDATION_MONTHS = 3
MAX_ROWS_PER_MONTH = 12_000
RANDOM_STATE = 0


class TrainingError(ValueError):
    pass


class Refused(TrainingError):
    """A model was fitted and validated but must not be used; `paper` says what it did and why not."""

    def __init__(self, reason: str, paper: dict):
        super().__init__(f"Not published: {reason}.")
        self.reason, self.paper = reason, paper


def validated(earlier: tuple[pd.DataFrame, np.ndarray], later: tuple[pd.DataFrame, np.ndarray],
              features: pipeline.Features, min_auc: float) -> tuple[Pipeline, dict, str | None]:
    """Fit on the earlier months (calibrated on blocks of them in time order), report on the later ones; and
    why the model must not be published, or None."""
    model = pipeline.build(features, RANDOM_STATE, by_time=True).fit(*earlier)
    report = scores_report(later[1], model.predict_proba(later[0])[:, 1])
    report["calibration_check"] = pipeline.calibration_check(model, *later)
    problem = report["calibration_check"]["problem"]
    if report["calibration_check"]["roc_auc_raw"] < min_auc:  # the booster's own ranking: a calibration cannot mend it
        problem = (f"its ROC-AUC on the held-out later months is {report['calibration_check']['roc_auc_raw']}, "
                   f"below the {min_auc} a published model needs: it tells the customers apart little better "
                   "than chance")
    return model, report, problem


def refitted(X: pd.DataFrame, y: np.ndarray, features: pipeline.Features) -> tuple[Pipeline, str | None]:
    """The model refitted on every month, and why it must not be published (its calibration reversed), or None."""
    final = pipeline.build(features, RANDOM_STATE, by_time=True).fit(X, y)
    slope = pipeline.calibration_slope(final)
    return final, (None if slope > 0 else f"calibrating the model refitted on every month reversed the booster's "
                                          f"order (Platt slope {slope:.3g}): the data drift between the months")


def month_ends(tables: ScopedStore) -> list[dt.date]:
    months = tables.table("customer_month").select("month").distinct().order_by("month").execute()["month"]
    return [pd.Timestamp(m).date() for m in months]


Progress = Callable[[str, int, int], None]
TrainingFrame = Callable[[ScopedStore, dt.date], pd.DataFrame]


def eligible_months(tables: ScopedStore) -> list[dt.date]:
    """The month-ends with three months of history before them and a full horizon of outcome after them."""
    months = month_ends(tables)
    eligible = months[3:-F.HORIZON_MONTHS] if len(months) > 3 + F.HORIZON_MONTHS else []
    if len(eligible) <= VALIDATION_MONTHS:
        raise TrainingError(f"the store has {len(months)} month-ends; training needs at least "
                            f"{3 + F.HORIZON_MONTHS + VALIDATION_MONTHS + 1}")
    return eligible


def history(tables: ScopedStore, eligible: list[dt.date], training_frame: TrainingFrame, progress: Progress,
            rows_per_month: int = MAX_ROWS_PER_MONTH) -> pd.DataFrame:
    """The training frames of every eligible month, each a reproducible sample of at most `rows_per_month`
    rows (which keeps training time flat at any size), with a `month` column."""
    frames = []
    for i, month in enumerate(eligible):
        progress(f"features as of {month}", i, len(eligible) + 2)
        frame = training_frame(tables, month)
        if len(frame) > rows_per_month:
            frame = frame.sample(rows_per_month, random_state=RANDOM_STATE)
        frames.append(frame.assign(month=month))
    return pd.concat(frames, ignore_index=True)


def typical(X: pd.DataFrame, features: pipeline.Features) -> dict:
    """The median of every number and the commonest value of every category: what attributions compare with."""
    out = {name: float(X[name].median()) for name in features.numeric}
    return out | {name: X[name].mode().iloc[0] for name in features.categorical}


def paper_head(eligible: list[dt.date], features: pipeline.Features) -> dict:
    """What every model's paper starts with: its version (the time it was trained), windows, horizon and features."""
    now = dt.datetime.now(dt.UTC)
    return {"version": now.strftime("%Y%m%d-%H%M%S"), "trained_at": now.isoformat(timespec="seconds"),
            "training_window": [str(eligible[0]), str(eligible[-1])],
            "validation_window": [str(eligible[-VALIDATION_MONTHS]), str(eligible[-1])],
            "horizon_months": F.HORIZON_MONTHS,
            "features": {"numeric": list(features.numeric), "categorical": list(features.categorical)}}


def libraries() -> dict[str, str]:
    return {name: package_metadata.version(name) for name in ("scikit-learn", "numpy", "pandas", "skops")}


IMPORTANCE_ROWS = 50_000  # permutation importance on (at most) this many rows of the validation months


def score_distribution(p: np.ndarray) -> list[float]:
    """The share of probabilities in each of SCORE_BINS' bins (the last bin includes 1)."""
    counts, _ = np.histogram(np.clip(p, 0, 1), bins=SCORE_BINS)
    return [round(float(c), 6) for c in counts / max(1, len(p))]


def scores_report(y: np.ndarray, p: np.ndarray) -> dict:
    """ROC-AUC, PR-AUC, Brier score, lift and the share of churners caught in the top 10% and 20% of the
    list, the gains curve (share of churners caught by each twentieth of the list), and a 10-bin calibration table."""
    order = np.argsort(-p, kind="stable")

    def caught(share: float) -> float:
        top = order[: max(1, int(np.ceil(share * len(y))))]
        return float(y[top].sum() / y.sum())

    def lift(share: float) -> float:
        top = order[: max(1, int(np.ceil(share * len(y))))]
        return float(y[top].mean() / y.mean())

    bins = pd.qcut(pd.Series(p).rank(method="first"), 10, labels=False)
    calibration = (pd.DataFrame({"bin": bins, "predicted": p, "observed": y})
                   .groupby("bin").mean().round(4).to_dict("records"))
    return {"rows": int(len(y)), "positives": int(y.sum()), "base_rate": round(float(y.mean()), 4),
            "roc_auc": round(float(roc_auc_score(y, p)), 4), "pr_auc": round(float(average_precision_score(y, p)), 4),
            "brier": round(float(brier_score_loss(y, p)), 4), "lift_top10": round(lift(0.1), 3),
            "lift_top20": round(lift(0.2), 3), "caught_top10": round(caught(0.1), 4),
            "caught_top20": round(caught(0.2), 4),
            "gains": [{"share_of_list": k / 20, "share_of_churners": round(caught(k / 20), 4)} for k in range(1, 21)],
            "calibration": calibration}


def importance(model: Pipeline, X: pd.DataFrame, y: np.ndarray) -> dict[str, float]:
    """Permutation importance: how much the ROC-AUC drops when one feature's values are shuffled, on the
    validation months (a sample of them), largest first."""
    drops = dict(zip(X.columns, pipeline.importance(model, X, y, repeats=5, rows=IMPORTANCE_ROWS)))
    return {name: round(float(drop), 5) for name, drop in sorted(drops.items(), key=lambda kv: -kv[1])}


def train(tables: ScopedStore, progress: Progress = lambda step, done, total: None,
          min_auc: float = MIN_AUC) -> tuple[Pipeline, dict]:
    eligible = eligible_months(tables)
    data = history(tables, eligible, F.training_frame, progress)
    validation_start = eligible[-VALIDATION_MONTHS]
    earlier, later = data[data.month < validation_start], data[data.month >= validation_start]
    X = pipeline.as_model_input(data, F.FEATURES)
    y = data["churned"].to_numpy(dtype=int)
    paper = paper_head(eligible, F.FEATURES) | {
        "rows": {"training": len(earlier), "validation": len(later), "final": len(data)},
        "min_auc": min_auc, "libraries": libraries()}

    progress("training on the earlier months, validating on the later", len(eligible), len(eligible) + 2)
    try:
        model, validation, problem = validated((X.loc[earlier.index], y[earlier.index]),
                                               (X.loc[later.index], y[later.index]), F.FEATURES, min_auc)
    except ValueError as problem:  # e.g. a feature with no value at all in a block of a small store's months
        raise TrainingError(f"the model could not be fitted: {problem}") from None
    paper["validation"] = validation
    if problem:
        raise Refused(problem, paper | {"refused": problem})
    validation["importance"] = importance(model, X.loc[later.index], y[later.index])

    progress("refitting on every eligible month", len(eligible) + 1, len(eligible) + 2)
    final, problem = refitted(X, y, F.FEATURES)
    paper["calibration_slope"] = round(pipeline.calibration_slope(final), 4)
    if problem:
        raise Refused(problem, paper | {"refused": problem})
    # the final model's scores on the last month it learnt from: what today's scores are compared with
    last = data.month == eligible[-1]
    paper |= {
        # the typical customer who stayed: what attributions compare each customer with
        "reference": typical(X[y == 0], F.FEATURES),
        "score_distribution": {"month": str(eligible[-1]), "bins": list(SCORE_BINS),
                               "shares": score_distribution(final.predict_proba(X[last])[:, 1])}}
    progress("done", len(eligible) + 2, len(eligible) + 2)
    return final, paper


# --- model files ---------------------------------------------------------------------

def save(model: Pipeline | dict[str, Pipeline] | None, paper: dict, directory: Path, kind: str = "churn") -> Path:
    """Save a model (or one per product) and its paper as `<kind>-<version>.skops` and `.json`; a refused
    model (None) as its paper alone, which says why it was not published."""
    files.make_dir(directory)
    path = directory / f"{kind}-{paper['version']}.skops"
    if model is not None:
        sio.dump(model, files.private_file(path))
    files.write_private(path.with_suffix(".json"), json.dumps(paper, indent=2) + "\n")
    return path


TRUSTED_PREFIXES = ("sklearn.", "numpy.", "scipy.", "builtins.", "collections.", "functools.partial")


def load(path: Path) -> tuple[Pipeline | dict[str, Pipeline], dict]:
    """Load a saved model, trusting only scikit-learn, NumPy and SciPy types; refuse anything else."""
    untrusted = sio.get_untrusted_types(file=path)
    foreign = [t for t in untrusted if not t.startswith(TRUSTED_PREFIXES)]
    if foreign:
        raise TrainingError(f"{path} holds types this program does not trust: {', '.join(foreign)}")
    return sio.load(path, trusted=untrusted), json.loads(path.with_suffix(".json").read_text("utf-8"))
