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
from sklearn.model_selection import StratifiedKFold

from analytics.ml import pipeline, train

FOLDS = 5
TIME_TRAIN_SHARE = 0.8      # the time-ordered validation trains on the earlier 80% of the rows
IMPORTANCE_ROWS = 5_000     # permutation importance on at most this many rows of each held-out fold
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
    dates: dict[str, pd.Series]  # date column -> its dates (a feature as days before the newest date)


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


# A number as written with a decimal point (1,234.5) or a decimal comma (1.234,5): its digits grouped in
# threes by the other mark, or not grouped at all; a sign, an exponent.
_POINT = re.compile(r"[-+]?(\d{1,3}(,\d{3})+|\d*)(\.\d+)?([eE][-+]?\d+)?")
_COMMA = re.compile(r"[-+]?(\d{1,3}(\.\d{3})+|\d*)(,\d+)?([eE][-+]?\d+)?")
THOUSANDS = {",": _POINT, ".": _COMMA}  # a thousands separator -> how its numbers are written


def _as_number(column: pd.Series, thousands: str | None = None) -> pd.Series | None:
    """The column as numbers when (nearly) all its values are numbers, else None.

    The decimal mark is read once for the whole column: a point, unless the values are only readable with a
    decimal comma (1.234,5 or 4,5 beside 1.234.567) or `thousands` is "."; a column that reads both ways
    (every value like 1.234) is read with a decimal point. Values that do not fit the column's reading are
    unknown, never read the other way. "12%" is 0.12; currency signs, spaces and apostrophes are dropped.
    """
    values = column.dropna()
    if values.empty:
        return None
    if thousands != "." and pd.to_numeric(values, errors="coerce").notna().all():
        return pd.to_numeric(column, errors="coerce")  # plain numbers: the decimal point reading fits them all
    distinct = pd.Series(values.unique())  # the reading is worked out once per distinct value
    lowered = distinct.str.lower()
    if lowered.isin(_TRUE | _FALSE).all():
        return column.str.lower().map(lambda v: 1.0 if v in _TRUE else 0.0 if v in _FALSE else np.nan)
    cleaned = distinct.str.replace(r"[\s'_]", "", regex=True).str.replace(r"^([-+]?)[¥$€£]", r"\1", regex=True)
    percent = cleaned.str.endswith("%")
    cleaned = cleaned.str.removesuffix("%")
    digits = cleaned.str.contains(r"\d")
    if thousands is None:
        fits = {mark: cleaned[digits].str.fullmatch(pattern).mean() for mark, pattern in THOUSANDS.items()}
        thousands = "." if fits["."] > fits[","] else ","
    written = cleaned.where(cleaned.str.fullmatch(THOUSANDS[thousands]) & digits)
    plain = written.str.replace(thousands, "", regex=False)
    read = pd.to_numeric(plain.str.replace(",", ".", regex=False) if thousands == "." else plain, errors="coerce")
    numbers = column.map(dict(zip(distinct, read.where(~percent, read / 100))))
    return numbers if numbers[column.notna()].notna().mean() >= NUMERIC_SHARE else None


def _as_date(column: pd.Series) -> pd.Series | None:
    values = column.dropna()
    if values.empty or not values.str.contains(r"\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}", regex=True).all():
        return None
    dates = pd.to_datetime(column, errors="coerce", format="mixed")
    return dates if dates[column.notna()].notna().mean() >= NUMERIC_SHARE else None


def prepare(frame: pd.DataFrame, target: str, positive: str, id_column: str | None = None,
            drop: tuple[str, ...] = (), thousands: str | None = None) -> Prepared:
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
    dates: dict[str, pd.Series] = {}
    numeric, categorical = [], []
    for name in frame.columns:
        if name in ignored:
            continue
        column = frame[name]
        distinct = column.nunique(dropna=True)
        if distinct <= 1:
            ignored[name] = "constant"
            continue
        as_number = _as_number(column, thousands)
        if as_number is not None:
            if distinct == len(frame) and (_looks_like_a_counter(as_number) or _names_an_identifier(name)):
                ignored[name] = "identifier"
                continue
            columns[name], numeric = as_number, [*numeric, name]
            continue
        as_date = _as_date(column)
        if as_date is not None:
            dates[name] = as_date.reset_index(drop=True)
            columns[name] = (as_date.max() - as_date).dt.days.astype("float64")  # days before the newest date
            numeric = [*numeric, name]
        elif distinct > MAX_CATEGORY_SHARE * len(frame):
            ignored[name] = "identifier or free text"
        else:
            columns[name], categorical = column, [*categorical, name]
    if not columns:
        raise EvaluationError("no usable feature columns are left")
    features = pipeline.Features(tuple(numeric), tuple(categorical))
    X = pipeline.as_model_input(pd.DataFrame(columns, index=frame.index), features)
    return Prepared(X.reset_index(drop=True), y.astype(int), features, ignored, dates)


def _names_an_identifier(name: str) -> bool:
    """CustomerId, cust_no, AccountNumber, 客户编号: the last word names an identifier."""
    words = [w.lower() for w in re.findall(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+", name)]
    return (bool(words) and words[-1] in _ID_WORDS) or name.endswith(("编号", "号"))


def _looks_like_a_counter(values: pd.Series) -> bool:
    ordered = values.sort_values().to_numpy()
    return bool(np.all(np.diff(ordered) == 1))


def _scores(y: np.ndarray, p: np.ndarray) -> dict:
    report = train.scores_report(y, p)
    return {key: report[key] for key in ("rows", "positives", "roc_auc", "pr_auc", "brier", "lift_top10")}


def evaluate(prepared: Prepared, top: int = 5, time_column: str | None = None) -> dict:
    """Stratified 5-fold cross-validation (shuffled, random_state 0) of the churn pipeline, and a
    time-ordered validation when the table has a date column (`time_column`, or the newest one).

    Every score is out of fold; feature importance is the fall in ROC-AUC
    when a feature is shuffled in the held-out fold (once per fold), averaged over folds.
    `warnings` says what makes the figures untrustworthy: a calibration
    that reversed the booster's order, a ROC-AUC below chance.
    """
    X, y = prepared.X, prepared.y
    scores = np.zeros(len(y))
    importance = np.zeros(X.shape[1])
    checks = []
    folds = StratifiedKFold(n_splits=FOLDS, shuffle=True, random_state=RANDOM_STATE)
    for train_rows, test_rows in folds.split(X, y):
        model = pipeline.build(prepared.features, RANDOM_STATE).fit(X.iloc[train_rows], y[train_rows])
        scores[test_rows] = model.predict_proba(X.iloc[test_rows])[:, 1]
        checks.append(pipeline.calibration_check(model, X.iloc[test_rows], y[test_rows]))
        importance += pipeline.importance(model, X.iloc[test_rows], y[test_rows], repeats=1,
                                          rows=IMPORTANCE_ROWS) / FOLDS
    ranked = sorted(zip(X.columns, importance), key=lambda kv: -kv[1])
    result = _scores(y, scores) | {
        "roc_auc_raw": round(float(np.mean([c["roc_auc_raw"] for c in checks])), 4),  # the booster's, fold mean
        "top_features": [name for name, _ in ranked[:top]],
        "calibration_slopes": [c["slope"] for c in checks]}
    warnings = [f"fold {k}: {c['problem']}" for k, c in enumerate(checks, 1) if c["problem"]]
    if result["roc_auc"] < 0.5:
        warnings.append(f"ROC-AUC {result['roc_auc']} is below chance (0.5): something is reversed or leaking")
    time_column = time_column or (max(prepared.dates, key=lambda c: prepared.dates[c].max())
                                  if prepared.dates else None)
    if time_column:
        result["time_ordered"] = later_customers(prepared, time_column)
        if problem := result["time_ordered"].get("calibration_check", {}).get("problem"):
            warnings.append(f"time-ordered validation: {problem}")
    return result | {"warnings": warnings}


def later_customers(prepared: Prepared, column: str) -> dict:
    """Train on the earlier 80% of the rows by `column`'s dates, test on the later 20%: how the model holds up
    on later customers (rows without a date are left out)."""
    if column not in prepared.dates:
        raise EvaluationError(f"--time {column}: not a date column; the date columns are "
                              f"{', '.join(prepared.dates) or 'none'}")
    dates = prepared.dates[column]
    order = np.flatnonzero(dates.notna())[np.argsort(dates.dropna().to_numpy(), kind="stable")]
    cut = int(TIME_TRAIN_SHARE * len(order))
    earlier, later = order[:cut], order[cut:]
    out = {"column": column, "trained_until": str(dates.iloc[earlier[-1]].date()),
           "tested_from": str(dates.iloc[later[0]].date())}
    y = prepared.y
    if len(set(y[earlier])) < 2 or len(set(y[later])) < 2:
        return out | {"skipped": "the earlier or the later rows hold one class only"}
    model = pipeline.build(prepared.features, RANDOM_STATE).fit(prepared.X.iloc[earlier], y[earlier])
    p = model.predict_proba(prepared.X.iloc[later])[:, 1]
    return out | {"training_rows": len(earlier)} | _scores(y[later], p) | {
        "calibration_check": pipeline.calibration_check(model, prepared.X.iloc[later], y[later])}


def evaluate_file(path: Path, target: str, positive: str, id_column: str | None = None,
                  drop: tuple[str, ...] = (), sep: str | None = None, thousands: str | None = None,
                  time_column: str | None = None) -> dict:
    frame = read_table(path, sep)
    by_lower = {c.lower(): c for c in frame.columns}
    target = target if target in frame.columns else by_lower.get(target.lower(), target)
    if thousands not in (None, ",", "."):
        raise EvaluationError(f"--thousands {thousands!r}: give , or .")
    return evaluate(prepare(frame, target, positive, id_column, tuple(drop), thousands), time_column=time_column)
