"""`bankcrm churn evaluate`: the churn pipeline, cross-validated on any customer table.

One row per customer, a label column, and whatever else the bank has. The
columns are read as people write them: numbers with thousands separators,
decimal commas or blanks, yes/no flags, dates, categories. Identifiers,
free text and constant columns are left out; the caller names the label,
its positive value, the id column and anything else to drop.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.inspection import permutation_importance
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score
from sklearn.model_selection import StratifiedKFold

from analytics.ml import pipeline

FOLDS = 5
RANDOM_STATE = 0
NUMERIC_SHARE = 0.95        # a text column is numeric when this share of its values parse as numbers
MAX_CATEGORY_SHARE = 0.5    # more distinct values than this share of rows: an identifier or free text
ENCODINGS = ("utf-8-sig", "gb18030", "latin-1")
_ID_WORDS = {"id", "no", "nr", "num", "number", "key", "code", "uuid"}
_TRUE = {"true", "yes", "y", "t"}
_FALSE = {"false", "no", "n", "f"}


class EvaluationError(ValueError):
    pass


@dataclass(frozen=True)
class Prepared:
    X: pd.DataFrame
    y: np.ndarray
    features: pipeline.Features
    ignored: dict[str, str]  # column -> why it was left out


def read_table(path: Path, sep: str | None = None) -> pd.DataFrame:
    """Every cell as text; the separator guessed from the first lines unless given."""
    raw = Path(path).read_bytes()
    for encoding in ENCODINGS:
        try:
            text = raw.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    if sep is None:
        sample = "\n".join(text.splitlines()[:50])
        try:
            sep = csv.Sniffer().sniff(sample, delimiters=",;\t|").delimiter
        except csv.Error:
            sep = ","
    sep = "\t" if sep in ("\\t", "tab") else sep
    frame = pd.read_csv(io.StringIO(text), sep=sep, dtype=str, keep_default_na=False, skipinitialspace=True)
    frame.columns = [str(c).strip() for c in frame.columns]
    return frame.apply(lambda column: column.str.strip()).replace({"": None})


def _as_number(column: pd.Series) -> pd.Series | None:
    values = column.dropna()
    if values.empty:
        return None
    lowered = values.str.lower()
    if lowered.isin(_TRUE | _FALSE).all():
        return column.str.lower().map(lambda v: 1.0 if v in _TRUE else 0.0 if v in _FALSE else np.nan)
    cleaned = column.str.replace(r"[\s'_]", "", regex=True).str.replace(r"^[¥$€£]|%$", "", regex=True)
    if cleaned.dropna().str.fullmatch(r"-?\d{1,3}(\.\d{3})+(,\d+)?|-?\d+,\d+").mean() > 0.5:
        cleaned = cleaned.str.replace(".", "", regex=False).str.replace(",", ".", regex=False)  # 1.234,5
    else:
        cleaned = cleaned.str.replace(",", "", regex=False)  # 1,234.5
    numbers = pd.to_numeric(cleaned, errors="coerce")
    return numbers if numbers[column.notna()].notna().mean() >= NUMERIC_SHARE else None


def _as_date(column: pd.Series) -> pd.Series | None:
    values = column.dropna()
    if values.empty or not values.str.contains(r"\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}", regex=True).all():
        return None
    dates = pd.to_datetime(column, errors="coerce", format="mixed")
    if dates[column.notna()].notna().mean() < NUMERIC_SHARE:
        return None
    return (dates.max() - dates).dt.days.astype("float64")  # days before the newest date in the file


def prepare(frame: pd.DataFrame, target: str, positive: str, id_column: str | None = None,
            drop: tuple[str, ...] = ()) -> Prepared:
    frame = frame.astype("string").astype(object).where(frame.notna(), None)  # every cell as text, as read
    missing = [c for c in (target, id_column, *drop) if c and c not in frame.columns]
    if missing:
        raise EvaluationError(f"no column {', '.join(map(repr, missing))}; the file has: {', '.join(frame.columns)}")
    labels = frame[target]
    known = labels.notna()
    frame, labels = frame[known], labels[known]
    positive = str(positive).strip()
    y = (labels == positive).to_numpy()
    if not y.any():  # "yes" for "Yes"
        y = (labels.str.lower() == positive.lower()).to_numpy()
    if not y.any() and re.fullmatch(r"-?\d+(\.\d+)?", positive):  # "1" for "1.0"
        y = (pd.to_numeric(labels, errors="coerce") == float(positive)).to_numpy()
    seen = ", ".join(map(repr, labels.value_counts().index[:10]))
    if not y.any():
        raise EvaluationError(f"no row has {target} = {positive!r}; its values are {seen}")
    if y.all():
        raise EvaluationError(f"every row has {target} = {positive!r}: there is nothing to tell apart")
    if min(y.sum(), (~y).sum()) < FOLDS:
        raise EvaluationError(f"fewer than {FOLDS} rows in a class of {target}: too few for {FOLDS}-fold validation")

    ignored = {c: "named" for c in (id_column, *drop) if c}
    ignored[target] = "the label"
    columns: dict[str, pd.Series] = {}
    numeric, categorical = [], []
    for name in frame.columns:
        if name in ignored:
            continue
        column = frame[name]
        distinct = column.nunique(dropna=True)
        if distinct <= 1:
            ignored[name] = "constant"
            continue
        as_number = _as_number(column)
        if as_number is not None:
            if distinct == len(frame) and (_looks_like_a_counter(as_number) or _names_an_identifier(name)):
                ignored[name] = "identifier"
                continue
            columns[name], numeric = as_number, [*numeric, name]
            continue
        as_date = _as_date(column)
        if as_date is not None:
            columns[name], numeric = as_date, [*numeric, name]
        elif distinct > MAX_CATEGORY_SHARE * len(frame):
            ignored[name] = "identifier or free text"
        else:
            columns[name], categorical = column, [*categorical, name]
    if not columns:
        raise EvaluationError("no usable feature columns are left")
    features = pipeline.Features(tuple(numeric), tuple(categorical))
    X = pipeline.as_model_input(pd.DataFrame(columns, index=frame.index), features)
    return Prepared(X.reset_index(drop=True), y.astype(int), features, ignored)


def _names_an_identifier(name: str) -> bool:
    """CustomerId, cust_no, AccountNumber, 客户编号: the last word names an identifier."""
    words = [w.lower() for w in re.findall(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+", name)]
    return (bool(words) and words[-1] in _ID_WORDS) or name.endswith(("编号", "号"))


def _looks_like_a_counter(values: pd.Series) -> bool:
    ordered = values.sort_values().to_numpy()
    return bool(np.all(np.diff(ordered) == 1))


def evaluate(prepared: Prepared, top: int = 5) -> dict:
    """Stratified 5-fold cross-validation (shuffled, random_state 0) of the churn pipeline.

    Every score is out of fold; feature importance is the fall in ROC-AUC
    when a feature is shuffled in the held-out fold, averaged over folds.
    """
    X, y = prepared.X, prepared.y
    scores = np.zeros(len(y))
    importance = np.zeros(X.shape[1])
    folds = StratifiedKFold(n_splits=FOLDS, shuffle=True, random_state=RANDOM_STATE)
    for train, test in folds.split(X, y):
        model = pipeline.build(prepared.features, RANDOM_STATE).fit(X.iloc[train], y[train])
        scores[test] = model.predict_proba(X.iloc[test])[:, 1]
        importance += permutation_importance(model, X.iloc[test], y[test], scoring="roc_auc", n_repeats=2,
                                             random_state=RANDOM_STATE).importances_mean / FOLDS
    top_n = max(1, int(np.ceil(0.1 * len(y))))
    best = np.argsort(-scores, kind="stable")[:top_n]
    ranked = sorted(zip(X.columns, importance), key=lambda kv: -kv[1])
    return {
        "rows": int(len(y)),
        "positives": int(y.sum()),
        "roc_auc": round(float(roc_auc_score(y, scores)), 4),
        "pr_auc": round(float(average_precision_score(y, scores)), 4),
        "brier": round(float(brier_score_loss(y, scores)), 4),
        "lift_top10": round(float(y[best].mean() / y.mean()), 3),
        "top_features": [name for name, _ in ranked[:top]],
    }


def evaluate_file(path: Path, target: str, positive: str, id_column: str | None = None,
                  drop: tuple[str, ...] = (), sep: str | None = None) -> dict:
    frame = read_table(path, sep)
    by_lower = {c.lower(): c for c in frame.columns}
    target = target if target in frame.columns else by_lower.get(target.lower(), target)
    return evaluate(prepare(frame, target, positive, id_column, tuple(drop)))
