"""Where saved models (churn, next-best product) and their papers live, and reading a paper without loading the model.

The app's model page reads papers only; it does not need scikit-learn to do so.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from analytics import store

MIN_AUC = 0.55  # a model ranking the held-out months' customers worse than this is not published (--min-auc)

# Bins of churn probability for the score distribution at training time and today.
SCORE_BINS = (0.0, 0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 1.0)


def models_dir(store_path: Path | None = None) -> Path:
    """$BANKCRM_MODELS, or `models/` beside the store: data/bankcrm.duckdb -> data/models."""
    if os.environ.get("BANKCRM_MODELS"):
        return Path(os.environ["BANKCRM_MODELS"])
    return Path(store_path or store.default_path()).parent / "models"


def latest(directory: Path, kind: str = "churn") -> Path | None:
    """The newest saved model file of `kind` in `directory`, or None."""
    models = sorted(directory.glob(f"{kind}-*.skops"))
    return models[-1] if models else None


def refusal(directory: Path, kind: str = "churn") -> dict | None:
    """The paper of the newest training of `kind` when it refused its model (newer than any published model):
    its "refused" says why no model is published. None when the newest training published one."""
    papers = sorted(directory.glob(f"{kind}-*.json"))
    if not papers or papers[-1].with_suffix(".skops").exists():
        return None
    paper = json.loads(papers[-1].read_text("utf-8"))
    return paper if "refused" in paper else None


def read_paper(directory: Path, version: str, kind: str = "churn") -> dict | None:
    """The paper of a saved model version, or None when there is no such model."""
    path = directory / f"{kind}-{version}.json"
    return json.loads(path.read_text("utf-8")) if path.exists() else None
