"""Customer tiers on the 3-month average AUM.

The default cut-offs of shared/DESIGN.md; the versioned, editable rule set
(segment studio) will pass its own.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

TIERS = ("Mass", "Affluent", "Wealth", "Private")
DEFAULT_CUTOFFS_CNY = (50_000, 500_000, 6_000_000)  # Mass < 50k <= Affluent < 500k <= Wealth < 6M <= Private


def tier(aum_3m_avg_cny: ir.NumericValue, cutoffs: tuple[float, float, float] = DEFAULT_CUTOFFS_CNY) -> ir.StringValue:
    """The tier of a 3-month average AUM."""
    return ibis.cases(
        (aum_3m_avg_cny < cutoffs[0], TIERS[0]),
        (aum_3m_avg_cny < cutoffs[1], TIERS[1]),
        (aum_3m_avg_cny < cutoffs[2], TIERS[2]),
        else_=TIERS[3],
    )
