"""Next-best product as the pages read it: the newest scoring run's products per customer, in scope.

The models and the scoring live in analytics.ml.products; this module only reads product_scores, so the
pages that show them need no scikit-learn.
"""

from __future__ import annotations

import ibis.expr.types as ir

from analytics.filters import Slice

TOP = 2  # products per customer shown, each with the model's reasons


def latest(sl: Slice) -> ir.Table:
    """The newest scoring run in scope: customer_id, product, probability, rank, reasons_json, as_of,
    model_version; one row per customer and product they do not hold."""
    scores = sl.table("product_scores")
    newest = scores.filter(scores.as_of == scores.as_of.max())
    return newest.filter(newest.model_version == newest.model_version.max())


def top(sl: Slice) -> ir.Table:
    """Each customer's TOP likeliest products of the newest run (rank 1 and 2)."""
    scores = latest(sl)
    return scores.filter(scores["rank"] <= TOP)


def side_by_side(sl: Slice) -> ir.Table:
    """One row per customer: customer_id, product_1, probability_1, reasons_1, product_2, probability_2,
    reasons_2 (the second missing when only one product is left to offer)."""
    ranked = top(sl)
    first, second = ranked.filter(ranked["rank"] == 1), ranked.filter(ranked["rank"] == 2)
    return first.left_join(second, "customer_id").select(
        "customer_id", product_1=first["product"], probability_1=first.probability, reasons_1=first.reasons_json,
        product_2=second["product"], probability_2=second.probability, reasons_2=second.reasons_json)
