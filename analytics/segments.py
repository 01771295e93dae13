"""Segments found in the data, next to the rule-based tiers: k-means on RFM-style features.

Built with the marts (after every generate and import), from customer_current, for every customer not
churned, bank-wide; pages read them through the scope like any table.

- Features: days since the last customer-initiated transaction (recency), transactions per month and
  digital logins per month (3-month averages), AUM, products held. The four skewed ones are taken as
  log(1 + x); then each is standardised (mean 0, standard deviation 1 over all customers).
- k-means (scikit-learn) for every number of segments in K_RANGE, fitted on a sample of FIT_SAMPLE
  customers; the number with the highest silhouette (on a sample of SILHOUETTE_SAMPLE of them) wins.
  Every customer is then assigned to the nearest centre. The same data and seed give the same segments.
- Segments are numbered by size, largest first. Each is named in plain words, in English and Chinese, by
  its most distinctive traits: the features whose centre lies furthest from the bank's average.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import duckdb
import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd
from ibis import _

from analytics.tags import TAGS, figures, tagged
from analytics.tiers import tiered

if TYPE_CHECKING:
    from analytics.filters import Slice

FEATURES = ("days_since_last_txn", "txns_per_month", "aum_cny", "products_held", "digital_logins_per_month")
LOGGED = ("days_since_last_txn", "txns_per_month", "aum_cny", "digital_logins_per_month")
K_RANGE = (3, 8)           # the numbers of segments tried, both included
FIT_SAMPLE = 20_000
SILHOUETTE_SAMPLE = 5_000
SEED = 0
MIN_PER_SEGMENT = 10       # k segments are tried only when the sample holds 10 * k different customers
DISTINCT = 0.25            # a trait names a segment when its centre is this many standard deviations off
TOP_TAGS = 3

# feature -> ((English, Chinese) for a low centre, (English, Chinese) for a high one)
TRAITS: dict[str, tuple[tuple[str, str], tuple[str, str]]] = {
    "days_since_last_txn": (("recently active", "近期活跃"), ("long inactive", "长期未交易")),
    "txns_per_month": (("few transactions", "交易少"), ("frequent transactions", "交易频繁")),
    "aum_cny": (("low balances", "低资产"), ("high balances", "高资产")),
    "products_held": (("few products", "产品少"), ("many products", "多产品")),
    "digital_logins_per_month": (("offline", "线下为主"), ("digital", "常用线上渠道")),
}
TYPICAL = ("Typical customers", "普通客户")

def features(cc: ir.Table) -> ir.Table:
    """customer_id and FEATURES of the customers of a customer_current table not churned (unknown as 0)."""
    cc = cc.filter(~cc.is_churned)
    return cc.select("customer_id", days_since_last_txn=cc.days_since_last_txn.fill_null(0).cast("float64"),
                     txns_per_month=cc.txn_count_90d / 3, aum_cny=cc.aum_cny.fill_null(0),
                     products_held=cc.products_held.fill_null(0).cast("float64"),
                     digital_logins_per_month=figures(cc)["digital_logins_per_month"])


def standardised(frame: pd.DataFrame) -> np.ndarray:
    values = frame[list(FEATURES)].astype("float64").copy()
    for name in LOGGED:
        values[name] = np.log1p(values[name].clip(lower=0))
    spread = values.std(ddof=0).replace(0, 1)
    return ((values - values.mean()) / spread).to_numpy()


def fit(frame: pd.DataFrame, seed: int = SEED) -> tuple[np.ndarray, pd.DataFrame]:
    """Segment numbers (1 = largest) for the rows of `frame` (customer_id and FEATURES), and one row per
    segment: segment, name_en, name_zh, customers, k, seed, silhouette, silhouettes_json, centre_json."""
    from sklearn.cluster import KMeans
    from sklearn.metrics import silhouette_score

    X = standardised(frame)
    rng = np.random.default_rng(seed)
    sample = rng.choice(len(X), size=min(len(X), FIT_SAMPLE), replace=False)
    judged = X[sample[:SILHOUETTE_SAMPLE]]
    scores, models = {}, {}
    distinct = len(np.unique(X[sample].round(6), axis=0))  # customers without balances all look the same
    for k in range(K_RANGE[0], K_RANGE[1] + 1):
        if distinct < MIN_PER_SEGMENT * k:
            break
        model = KMeans(n_clusters=k, n_init=4, random_state=seed).fit(X[sample])
        assigned = model.predict(judged)
        if len(set(assigned)) < 2:
            continue
        scores[k], models[k] = float(silhouette_score(judged, assigned)), model
    if not scores:
        return np.zeros(len(X), dtype=int), pd.DataFrame(columns=SEGMENT_COLUMNS)
    best = max(scores, key=lambda k: (round(scores[k], 6), -k))  # the fewer segments on a tie
    raw = models[best].predict(X)
    sizes = pd.Series(raw).value_counts()
    number = {label: i + 1 for i, label in enumerate(sorted(sizes.index, key=lambda label: (-sizes[label], label)))}
    labels = np.array([number[label] for label in raw])
    rows = []
    for label, segment in sorted(number.items(), key=lambda kv: kv[1]):
        centre = dict(zip(FEATURES, X[raw == label].mean(axis=0).round(4).tolist()))
        rows.append({"segment": segment, "customers": int((raw == label).sum()), "centre_json": json.dumps(centre)})
    segments = pd.DataFrame(rows)
    names = _names([json.loads(c) for c in segments.centre_json])
    return labels, segments.assign(
        name_en=[en for en, _ in names], name_zh=[zh for _, zh in names], k=best, seed=seed,
        silhouette=round(scores[best], 4), silhouettes_json=json.dumps({str(k): round(s, 4) for k, s in scores.items()}),
    )[SEGMENT_COLUMNS]


SEGMENT_COLUMNS = ["segment", "name_en", "name_zh", "customers", "k", "seed", "silhouette", "silhouettes_json",
                   "centre_json"]


def _names(centres: list[dict[str, float]]) -> list[tuple[str, str]]:
    """Plain words for each centre from its two most distinctive traits (a third, then the number, when two
    segments would read the same)."""
    def words(centre: dict, n: int) -> tuple[str, str]:
        ranked = sorted((f for f in FEATURES if abs(centre[f]) >= DISTINCT), key=lambda f: -abs(centre[f]))[:n]
        if not ranked:
            return TYPICAL
        picked = [TRAITS[f][centre[f] > 0] for f in ranked]
        return ", ".join(en for en, _ in picked).capitalize(), "、".join(zh for _, zh in picked)

    names = [words(c, 2) for c in centres]
    shared = {name for name in names if names.count(name) > 1}
    names = [words(c, 3) if name in shared else name for c, name in zip(centres, names)]
    shared = {name for name in names if names.count(name) > 1}
    return [(f"{en} ({i + 1})", f"{zh}（{i + 1}）") if (en, zh) in shared else (en, zh)
            for i, (en, zh) in enumerate(names)]


def build(con: duckdb.DuckDBPyConnection, seed: int = SEED) -> None:
    """(Re)build customer_segments and found_segments from customer_current on `con` (inside the marts)."""
    frame = features(ibis.duckdb.from_connection(con).table("customer_current")).order_by("customer_id").execute()
    labels, segments = fit(frame, seed) if len(frame) else (np.zeros(0, dtype=int), pd.DataFrame(columns=SEGMENT_COLUMNS))
    assigned = pd.DataFrame({"customer_id": frame.customer_id.astype("int64"), "segment": labels.astype("int32")})
    if segments.empty:
        assigned = assigned.iloc[0:0]
    con.register("_assigned", assigned)
    con.register("_segments", segments.astype({"segment": "int32", "customers": "int64", "k": "int32", "seed": "int64",
                                               "silhouette": "float64"}))
    con.execute("CREATE OR REPLACE TABLE customer_segments AS SELECT customer_id, segment FROM _assigned")
    con.execute("CREATE OR REPLACE TABLE found_segments AS SELECT * FROM _segments")
    con.unregister("_assigned")
    con.unregister("_segments")


# --- reading, through the scope ----------------------------------------------------------------------

def model(sl: Slice) -> dict | None:
    """How the segments were found: k, the silhouette of every k tried, the seed, the range, the sample."""
    found = sl.scoped.table("found_segments").execute()
    if found.empty:
        return None
    first = found.iloc[0]
    return {"k": int(first.k), "seed": int(first.seed), "silhouette": float(first.silhouette),
            "silhouettes": {int(k): v for k, v in json.loads(first.silhouettes_json).items()},
            "range": K_RANGE, "fit_sample": FIT_SAMPLE, "features": FEATURES}


def profiles(sl: Slice) -> pd.DataFrame:
    """Per found segment, for the slice's customers: segment, name_en, name_zh, customers, share, aum_cny,
    median_<feature> and bank_<feature> (the median over all the slice's customers) for each feature, and
    top_tags: the most common tags as [(tag, share of the segment)]."""
    t = (features(sl.table("customer_current")).join(sl.table("customer_segments"), "customer_id")
         .join(tagged(sl).select("customer_id", *TAGS), "customer_id"))
    per = t.group_by("segment").agg(customers=_.count(), aum_cny=_.aum_cny.sum(),
                                    **{f"median_{f}": t[f].median() for f in FEATURES},
                                    **{tag: t[tag].sum() for tag in TAGS}).execute()
    if per.empty:
        return per
    bank = t.aggregate(**{f"bank_{f}": t[f].median() for f in FEATURES}).execute().iloc[0]
    names = sl.scoped.table("found_segments").select("segment", "name_en", "name_zh").execute()
    per = names.merge(per, on="segment").sort_values("segment").reset_index(drop=True)
    per["share"] = per.customers / per.customers.sum()
    for f in FEATURES:
        per[f"bank_{f}"] = bank[f"bank_{f}"]
    per["top_tags"] = [sorted(((tag, round(float(row[tag]) / row.customers, 4)) for tag in TAGS if row[tag] > 0),
                              key=lambda kv: -kv[1])[:TOP_TAGS] for _, row in per.iterrows()]
    return per.drop(columns=list(TAGS))


def by_tier(sl: Slice) -> pd.DataFrame:
    """Customers per found segment and rule-based tier at the as-of month: segment, tier, customers."""
    joined = tiered(sl).select("customer_id", "tier").join(sl.table("customer_segments"), "customer_id")
    return joined.group_by("segment", "tier").agg(customers=_.count()).order_by(["segment", "tier"]).execute()
