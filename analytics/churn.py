"""The churn-warnings list: who is likely to leave, what it would cost, why, and what would help."""

from __future__ import annotations

import json
from dataclasses import dataclass

import ibis
import pandas as pd

from analytics.scope import ScopedStore
from analytics.tiers import tier


@dataclass(frozen=True)
class WarningFilters:
    rm_id: str | None = None
    tier: str | None = None
    limit: int = 500


def warnings(tables: ScopedStore, filters: WarningFilters = WarningFilters()) -> pd.DataFrame:
    """Customers of the latest scoring, ranked by value at risk = churn probability x AUM (CNY).

    Columns: customer_id, name, branch_code, rm_id, tier, aum_cny, probability,
    value_at_risk_cny, reasons_json, actions_json, as_of, model_version.
    """
    scores = tables.table("churn_scores")
    latest = scores.as_of.max()
    newest = scores.filter(scores.as_of == latest)
    newest = newest.filter(newest.model_version == newest.model_version.max())
    current = tables.table("customer_current").filter(lambda t: ~t.is_churned)
    customers = tables.table("customers").select("customer_id", "name")
    joined = newest.join(current, "customer_id").join(customers, "customer_id")
    listed = joined.select(
        "customer_id", "name", "branch_code", "rm_id",
        tier=tier(joined.aum_3m_avg_cny.fill_null(0)),
        aum_cny=joined.aum_cny.fill_null(0),
        probability=joined.probability,
        value_at_risk_cny=(joined.probability * joined.aum_cny.fill_null(0)).round(2),
        reasons_json=joined.reasons_json,
        actions_json=joined.actions_json,
        as_of=joined.as_of,
        model_version=joined.model_version,
    )
    if filters.rm_id:
        listed = listed.filter(listed.rm_id == filters.rm_id)
    if filters.tier:
        listed = listed.filter(listed.tier == filters.tier)
    return listed.order_by([ibis.desc("value_at_risk_cny"), "customer_id"]).limit(filters.limit).execute()


def relationship_managers(tables: ScopedStore) -> list[str]:
    rms = tables.table("relationship_managers")
    return rms.order_by("rm_id").rm_id.execute().tolist()


def reasons_text(payload, lang: str = "en") -> str:
    """The reasons stored with a score, in words: "no transactions for 74 days; holds a single product"."""
    return "; ".join(item[lang] for item in json.loads(payload)) if isinstance(payload, str) else ""


def helps_text(payload, lang: str = "en") -> str:
    """What would help, with the model's estimate after each change."""
    if not isinstance(payload, str):
        return ""
    label = "estimate" if lang == "en" else "估计"
    return "; ".join(f"{a[lang]} → {a['probability_after']:.0%} ({label})" for a in json.loads(payload))
