"""Training the churn model on the store's own history, validated by time.

Month-ends with three months of history before them and three months of
outcome after them are eligible. The model is validated on the last
eligible month-ends after training on the earlier ones (never the other way
round), then refitted on all of them; it is saved as a skops file (which
loads without running pickled code) beside a JSON paper: version, training
and validation windows, features, metrics and library versions.
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
from sklearn.inspection import permutation_importance
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score
from sklearn.pipeline import Pipeline

from analytics import files
from analytics.ml import features as F
from analytics.ml import pipeline
from analytics.ml.papers import SCORE_BINS
from analytics.scope import ScopedStore

VALIDATION_MONTHS = 3
MAX_ROWS_PER_MONTH = 12_000
RANDOM_STATE = 0


class TrainingError(ValueError):
    pass


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
    result = permutation_importance(model, X, y, scoring="roc_auc", n_repeats=5, random_state=RANDOM_STATE,
                                    max_samples=min(IMPORTANCE_ROWS, len(X)))
    drops = dict(zip(X.columns, result.importances_mean))
    return {name: round(float(drop), 5) for name, drop in sorted(drops.items(), key=lambda kv: -kv[1])}


def train(tables: ScopedStore, progress: Progress = lambda step, done, total: None) -> tuple[Pipeline, dict]:
    eligible = eligible_months(tables)
    data = history(tables, eligible, F.training_frame, progress)
    validation_start = eligible[-VALIDATION_MONTHS]
    earlier, later = data[data.month < validation_start], data[data.month >= validation_start]
    X = pipeline.as_model_input(data, F.FEATURES)
    y = data["churned"].to_numpy(dtype=int)

    progress("training on the earlier months, validating on the later", len(eligible), len(eligible) + 2)
    model = pipeline.build(F.FEATURES, RANDOM_STATE).fit(X.loc[earlier.index], y[earlier.index])
    validation = scores_report(y[later.index], model.predict_proba(X.loc[later.index])[:, 1])
    validation["importance"] = importance(model, X.loc[later.index], y[later.index])

    progress("refitting on every eligible month", len(eligible) + 1, len(eligible) + 2)
    final = pipeline.build(F.FEATURES, RANDOM_STATE).fit(X, y)
    reference = typical(X[y == 0], F.FEATURES)
    # the final model's scores on the last month it learnt from: what today's scores are compared with
    last = data.month == eligible[-1]
    distribution = {"month": str(eligible[-1]), "bins": list(SCORE_BINS),
                    "shares": score_distribution(final.predict_proba(X[last])[:, 1])}
    paper = paper_head(eligible, F.FEATURES) | {
        "rows": {"training": int(len(earlier)), "validation": int(len(later)), "final": int(len(data))},
        # the typical customer who stayed: what attributions compare each customer with
        "reference": reference,
        "validation": validation,
        "score_distribution": distribution,
        "libraries": libraries(),
    }
    progress("done", len(eligible) + 2, len(eligible) + 2)
    return final, paper


# --- model files ---------------------------------------------------------------------

def save(model: Pipeline | dict[str, Pipeline], paper: dict, directory: Path, kind: str = "churn") -> Path:
    """Save a model (or one per product) and its paper as `<kind>-<version>.skops` and `.json`."""
    files.make_dir(directory)
    path = directory / f"{kind}-{paper['version']}.skops"
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
