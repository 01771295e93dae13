"""The rule set: how customers are put into tiers and lifecycle stages.

One typed, validated value read by every page. The defaults are those of
shared/DESIGN.md; the segment studio will store edited versions and pass the
active one in its place (its `version` is part of every cache key).
"""

from __future__ import annotations

from dataclasses import dataclass

import ibis
import ibis.expr.types as ir

TIERS = ("Mass", "Affluent", "Wealth", "Private")
STAGES = ("New", "Active", "Dormant", "Churn-warning", "Churned")


class InvalidRules(ValueError):
    def __init__(self, problems: dict[str, str]):
        self.problems = problems
        super().__init__("; ".join(f"{name}: {why}" for name, why in problems.items()))


@dataclass(frozen=True)
class RuleSet:
    version: int = 0                       # 0: the built-in defaults
    # Mass < first <= Affluent < second <= Wealth < third <= Private, on the 3-month average AUM
    tier_cutoffs_cny: tuple[float, float, float] = (50_000, 500_000, 6_000_000)
    dormant_days: int = 90                 # no customer-initiated transaction for this long
    new_tenure_months: int = 6             # tenure below this counts as New
    warning_aum_drop_share: float = 0.30   # AUM down by more than this over 3 months: Churn-warning
    warning_probability: float = 0.30      # churn probability over this: Churn-warning
    cross_sell_products: int = 2           # products held that count as cross-sold

    def __post_init__(self):
        if problems := self.problems():
            raise InvalidRules(problems)

    def problems(self) -> dict[str, str]:
        found = {}
        cutoffs = self.tier_cutoffs_cny
        if len(cutoffs) != 3 or any(not isinstance(c, int | float) or c <= 0 for c in cutoffs):
            found["tier_cutoffs_cny"] = "three positive amounts in CNY"
        elif not cutoffs[0] < cutoffs[1] < cutoffs[2]:
            found["tier_cutoffs_cny"] = "each cut-off must be above the one before"
        for name in ("dormant_days", "new_tenure_months", "cross_sell_products"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                found[name] = "a positive whole number"
        for name in ("warning_aum_drop_share", "warning_probability"):
            if not 0 < getattr(self, name) < 1:
                found[name] = "a share between 0 and 1"
        return found


DEFAULT_RULES = RuleSet()


def tier(aum_3m_avg_cny: ir.NumericValue, rules: RuleSet = DEFAULT_RULES) -> ir.StringValue:
    """The tier of a 3-month average AUM."""
    low, middle, high = rules.tier_cutoffs_cny
    return ibis.cases(
        (aum_3m_avg_cny < low, TIERS[0]),
        (aum_3m_avg_cny < middle, TIERS[1]),
        (aum_3m_avg_cny < high, TIERS[2]),
        else_=TIERS[3],
    )


def stage(customer_month: ir.Table, rules: RuleSet = DEFAULT_RULES) -> ir.StringValue:
    """The lifecycle stage of each customer_month row; the first that applies wins:
    Churned; Churn-warning (AUM down by more than the set share over 3 months);
    Dormant (no customer-initiated transaction for `dormant_days`); New (tenure
    under `new_tenure_months`); otherwise Active. The model's risk score joins
    Churn-warning where a score exists (see churn.warnings)."""
    cm = customer_month
    falling = (cm.aum_3m_ago_cny > 0) & (cm.aum_cny < cm.aum_3m_ago_cny * (1 - rules.warning_aum_drop_share))
    return ibis.cases(
        (cm.is_churned, STAGES[4]),
        (falling, STAGES[3]),
        (cm.days_since_last_txn >= rules.dormant_days, STAGES[2]),
        (cm.tenure_months < rules.new_tenure_months, STAGES[0]),
        else_=STAGES[1],
    )
