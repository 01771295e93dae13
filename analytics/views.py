"""The views' default renders: the analytics calls behind one render of each page at its default choices.

The benchmark times them, the cache warms them after an import (ui.cache.warm), and a test holds them to the
calls the pages make.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from analytics import churn, funnel, kpis, portfolio, satisfaction, tiers
from analytics.filters import ALL, Filters
from analytics.ml.papers import SCORE_BINS

# The views' calls that read rows of customers (customer_month, the raw tables, the scores) rather than the marts
# (analytics.measures), and why no mart serves them: the benchmark report names them.
RAW_READS: dict[str, str] = {
    "portfolio.league": "value at risk: each customer's latest churn probability times their AUM at the as-of "
                        "month (the scores change with every scoring run, the marts with every import)",
    "portfolio.branches": "value at risk, as in the league",
    "tiers.migration": "follows each customer from one chosen month to another",
    "satisfaction.by": "by tier: each answer of the period by the customer's tier at the as-of month",
    "satisfaction.promoters_vs_detractors": "each customer's latest answer in the period, with their figures "
                                            "of that month and complaints of the 90 days before it",
    "portfolio.at_risk": "a list of customers",
    "churn.score_distribution": "the latest scoring run's probabilities",
}


def calls(months: tuple[dt.date, ...], filters: Filters) -> dict[str, list[tuple[Callable, object, tuple]]]:
    """The analytics calls behind one render of each view at `filters` (a period within `months`), as
    (function, filters, args), in the pages' order with their default choices; a test holds this list
    to the calls the pages make."""
    to_month = filters.end
    earlier = [m for m in months if m < to_month] or [to_month]
    from_month = earlier[::-1][min(11, len(earlier) - 1)]  # the Tiers page's default: a year before
    return {
        "overview": [*((kpi.fn, filters.but(start=None), ()) for kpi in kpis.KPIS.values()),
                     (portfolio.league, filters, ())],
        "tiers": [(tiers.summary, filters, ()), (tiers.by_branch, filters, ()),
                  (tiers.migration, filters, (from_month, to_month)), (tiers.products, filters, ()),
                  (tiers.lifecycle, filters, ()), (tiers.tag_prevalence, filters, ())],
        "funnel": [(funnel.stages, filters, ()), (funnel.by, filters, ("campaign",)), (funnel.stage_times, filters, ()),
                   (funnel.drop_outs, filters, ()), (funnel.cohorts, filters, ())],
        "satisfaction": [(satisfaction.nps_by_month, filters, ()), (satisfaction.csat_by_month, filters, ()),
                         (satisfaction.by, filters, ("tier",)), (satisfaction.complaints_by_category, filters, ()),
                         (satisfaction.backlog_by_month, filters, ()), (satisfaction.sla_by_month, filters, ()),
                         (satisfaction.promoters_vs_detractors, filters, ())],
        "churn": [(churn.rate_by, filters, ("tier",)), (churn.relationship_managers, filters, ()),
                  (portfolio.at_risk, filters, (None,))],
        "portfolio": [(portfolio.branches, filters, ())],
        "model": [(churn.score_distribution, ALL, (SCORE_BINS,))],  # the model page reads the whole scope
    }
