"""The rule set: how customers are put into tiers and lifecycle stages.

One typed, validated value read by every page. The defaults are those of
shared/DESIGN.md; the segment studio (analytics.rulebook) stores edited
versions, and the approved one replaces the defaults everywhere. The whole
value, version included, is part of every cache key.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, fields

import ibis
import ibis.expr.types as ir
import pandas as pd

from analytics.i18n import t

TIERS = ("Mass", "Affluent", "Wealth", "Private")
HIGH_TIERS = TIERS[2:]  # "high tier": Wealth and Private
POTENTIAL = "Potential"  # the optional override's tier, between Mass and Affluent
ALL_TIERS = (TIERS[0], POTENTIAL, *TIERS[1:])
STAGES = ("New", "Active", "Dormant", "Churn-warning", "Churned")


class InvalidRules(ValueError):
    """A rule set that cannot be used; `problems` maps each bad field to why (a key of analytics.i18n)."""

    def __init__(self, problems: dict[str, str]):
        self.problems = problems
        super().__init__("; ".join(f"{name}: {t(why)}" for name, why in problems.items()))


def _whole(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


@dataclass(frozen=True)
class RuleSet:
    version: int = 0                       # 0: the built-in defaults; saved versions count from 1
    # Mass < first <= Affluent < second <= Wealth < third <= Private, on the 3-month average AUM
    tier_cutoffs_cny: tuple[float, float, float] = (50_000, 500_000, 6_000_000)
    # Override: a Mass customer whose AUM rose by more than this share over 3 months and who made at
    # least `potential_min_txns` transactions in the month is "Potential" (0: no override).
    potential_aum_rise_share: float = 0.0
    potential_min_txns: int = 20
    active_min_txns: int = 0               # transactions in the month below this: Dormant (0: any)
    dormant_days: int = 90                 # no customer-initiated transaction for this long: Dormant
    new_tenure_months: int = 6             # tenure below this counts as New
    warning_aum_drop_share: float = 0.30   # AUM down by more than this over 3 months: Churn-warning
    warning_probability: float = 0.30      # churn probability at or over this: Churn-warning
    cross_sell_products: int = 2           # products held that count as cross-sold
    # The service model: customers one relationship manager serves, per tier of ALL_TIERS.
    customers_per_rm: tuple[int, int, int, int, int] = (2_000, 600, 600, 150, 40)
    # Behaviour tags (analytics.tags): the figure each tag reads must reach its threshold.
    tag_digital_logins_per_month: float = 20.0  # digital-first: logins per month, 3-month average
    tag_investment_share: float = 0.30          # wealth-minded: funds' and insurance's share of AUM
    tag_term_deposit_share: float = 0.50        # rate-sensitive: term deposits' share of deposits
    tag_salary_min_inflow_cny: float = 3_000.0  # salary account: the monthly inflow's 6-month median, at least
    tag_salary_max_variation: float = 0.15      # ... varying by at most this share (standard deviation / mean)
    tag_holiday_spend_ratio: float = 1.6        # holiday-active: spending in holiday months against the others
    # Contact hygiene (analytics.campaigns): a campaign list leaves out customers with an open complaint and
    # those contacted, or listed by another campaign, within this many days (0: no quiet period).
    contact_quiet_days: int = 30

    def __post_init__(self):
        for name in ("tier_cutoffs_cny", "customers_per_rm"):  # lists from JSON, tuples in the cache key
            if isinstance(getattr(self, name), list):
                object.__setattr__(self, name, tuple(getattr(self, name)))
        if problems := self.problems():
            raise InvalidRules(problems)

    def problems(self) -> dict[str, str]:
        found = {}
        if not _whole(self.version) or self.version < 0:
            found["version"] = "rules.problem.whole"
        cutoffs = self.tier_cutoffs_cny
        if not isinstance(cutoffs, tuple) or len(cutoffs) != 3 or not all(_number(c) and c > 0 for c in cutoffs):
            found["tier_cutoffs_cny"] = "rules.problem.cutoffs"
        elif not cutoffs[0] < cutoffs[1] < cutoffs[2]:
            found["tier_cutoffs_cny"] = "rules.problem.cutoffs_rise"
        ratio = self.customers_per_rm
        if not isinstance(ratio, tuple) or len(ratio) != len(ALL_TIERS) or not all(_whole(r) and r > 0 for r in ratio):
            found["customers_per_rm"] = "rules.problem.per_rm"
        for name in ("dormant_days", "new_tenure_months", "cross_sell_products", "potential_min_txns"):
            if not _whole(value := getattr(self, name)) or value <= 0:
                found[name] = "rules.problem.positive_whole"
        for name in ("active_min_txns", "contact_quiet_days"):
            if not _whole(value := getattr(self, name)) or value < 0:
                found[name] = "rules.problem.whole"
        for name in ("warning_aum_drop_share", "warning_probability"):
            if not _number(value := getattr(self, name)) or not 0 < value < 1:
                found[name] = "rules.problem.share"
        for name in ("tag_investment_share", "tag_term_deposit_share", "tag_salary_max_variation"):
            if not _number(value := getattr(self, name)) or not 0 < value < 1:
                found[name] = "rules.problem.share"
        for name in ("tag_digital_logins_per_month", "tag_salary_min_inflow_cny", "tag_holiday_spend_ratio"):
            if not _number(value := getattr(self, name)) or value <= 0:
                found[name] = "rules.problem.positive"
        if not _number(self.potential_aum_rise_share) or not 0 <= self.potential_aum_rise_share < 1:
            found["potential_aum_rise_share"] = "rules.problem.rise_share"
        return found

    @property
    def tiers(self) -> tuple[str, ...]:
        """The tiers this rule set puts customers in, lowest first."""
        return ALL_TIERS if self.potential_aum_rise_share else TIERS

    def customers_per_rm_of(self, tier_name: str) -> int:
        return self.customers_per_rm[ALL_TIERS.index(tier_name)]

    def to_json(self) -> str:
        """The rules without the version (the store numbers versions)."""
        body = asdict(self)
        del body["version"]
        return json.dumps(body, sort_keys=True)

    @classmethod
    def from_json(cls, text: str, version: int = 0) -> RuleSet:
        """The reverse of `to_json`; an unknown field or a bad value raises InvalidRules naming it."""
        try:
            body = json.loads(text)
        except json.JSONDecodeError:
            raise InvalidRules({"rules_json": "rules.problem.json"}) from None
        if not isinstance(body, dict):
            raise InvalidRules({"rules_json": "rules.problem.object"})
        known = {f.name for f in fields(cls)} - {"version"}
        if unknown := sorted(set(body) - known):
            raise InvalidRules({name: "rules.problem.unknown" for name in unknown})
        return cls(version=version, **body)

    def changes(self, other: RuleSet) -> dict[str, tuple]:
        """Fields that differ from `other` (version aside): name -> (this value, other's value)."""
        return {f.name: (getattr(self, f.name), getattr(other, f.name))
                for f in fields(self) if f.name != "version" and getattr(self, f.name) != getattr(other, f.name)}


DEFAULT_RULES = RuleSet()

# How each rule's values read, in analytics.format's units as tables show them (ui.tables): money, a share as a
# percentage, a whole number (days, months, transactions, products, customers), a figure with a decimal.
UNITS: dict[str, str] = {
    "tier_cutoffs_cny": "cny", "potential_aum_rise_share": "pct1", "potential_min_txns": "count",
    "active_min_txns": "count", "dormant_days": "count", "new_tenure_months": "count",
    "warning_aum_drop_share": "pct1", "warning_probability": "pct1", "cross_sell_products": "count",
    "customers_per_rm": "count", "tag_digital_logins_per_month": "score", "tag_investment_share": "pct1",
    "tag_term_deposit_share": "pct1", "tag_salary_min_inflow_cny": "cny", "tag_salary_max_variation": "pct1",
    "tag_holiday_spend_ratio": "score", "contact_quiet_days": "count",
}
# The values of a rule that holds several, each by its label ("rule.<name>" in analytics.i18n) and the tier it
# names (None: none): the cut-offs by the tier they open, the service ratio per tier.
PARTS: dict[str, tuple[tuple[str, str | None], ...]] = {
    "tier_cutoffs_cny": (("cutoff_affluent", None), ("cutoff_wealth", None), ("cutoff_private", None)),
    "customers_per_rm": tuple(("customers_per_rm_of", name) for name in ALL_TIERS),
}


def differences(a: RuleSet, b: RuleSet) -> pd.DataFrame:
    """Every value that differs from rule set `a` to `b`, one row each in the rules' order: rule (its label is
    "rule.<rule>" in analytics.i18n, naming `tier` where it holds one), tier, unit (UNITS), a, b. A rule of
    several values (PARTS: the three cut-offs, customers per RM of each tier) gives a row per value that differs."""
    rows = []
    for name, (new, old) in b.changes(a).items():
        parts, olds, news = (PARTS[name], old, new) if name in PARTS else (((name, None),), (old,), (new,))
        rows += [(rule, tier_name, UNITS[name], was, now)
                 for (rule, tier_name), was, now in zip(parts, olds, news, strict=True) if was != now]
    return pd.DataFrame(rows, columns=["rule", "tier", "unit", "a", "b"], dtype=object)


def tiers_of(*rule_sets: RuleSet) -> tuple[str, ...]:
    """The tiers any of `rule_sets` puts customers in, lowest first: a comparison of two shows the tiers of both."""
    return tuple(name for name in ALL_TIERS if any(name in rules.tiers for rules in rule_sets))


def tier(t: ir.Table, rules: RuleSet = DEFAULT_RULES) -> ir.StringValue:
    """The tier of each row of a customer_month-like table (aum_3m_avg_cny, aum_cny, aum_3m_ago_cny,
    txn_count): by the 3-month average AUM, then the Potential override."""
    low, middle, high = rules.tier_cutoffs_cny
    aum = t.aum_3m_avg_cny.fill_null(0)
    cases = [(aum < low, TIERS[0])]
    if rules.potential_aum_rise_share:
        rising = (t.aum_3m_ago_cny > 0) & (t.aum_cny > t.aum_3m_ago_cny * (1 + rules.potential_aum_rise_share))
        cases.insert(0, ((aum < low) & rising & (t.txn_count >= rules.potential_min_txns), POTENTIAL))
    return ibis.cases(*cases, (aum < middle, TIERS[1]), (aum < high, TIERS[2]), else_=TIERS[3])


def tier_rank(aum_3m_avg_cny: ir.NumericValue, rules: RuleSet = DEFAULT_RULES) -> ir.IntegerValue:
    """The index in TIERS of the tier a 3-month average AUM falls in by the cut-offs alone (no override)."""
    aum = aum_3m_avg_cny.fill_null(0)
    return sum(((aum >= cutoff).cast("int8") for cutoff in rules.tier_cutoffs_cny), ibis.literal(0, "int8"))


def aum_fell(cm: ir.Table, rules: RuleSet = DEFAULT_RULES) -> ir.BooleanValue:
    """The Churn-warning stage's AUM rule: AUM down by more than the set share over 3 months."""
    return (cm.aum_3m_ago_cny > 0) & (cm.aum_cny < cm.aum_3m_ago_cny * (1 - rules.warning_aum_drop_share))


def likely_to_leave(probability: ir.FloatingValue, rules: RuleSet = DEFAULT_RULES) -> ir.BooleanValue:
    """The Churn-warning stage's model rule: a churn probability at or over the threshold."""
    return probability.fill_null(0) >= rules.warning_probability


def stage(customer_month: ir.Table, rules: RuleSet = DEFAULT_RULES,
          probability: ir.FloatingValue | None = None) -> ir.StringValue:
    """The lifecycle stage of each customer_month row; the first that applies wins:
    Churned; Churn-warning (`aum_fell`, or `likely_to_leave` where a churn `probability` is given);
    Dormant (no customer-initiated transaction for `dormant_days`, or fewer than `active_min_txns` in
    the month); New (tenure under `new_tenure_months`); otherwise Active."""
    cm = customer_month
    warning = aum_fell(cm, rules)
    if probability is not None:
        warning |= likely_to_leave(probability, rules)
    dormant = cm.days_since_last_txn >= rules.dormant_days
    if rules.active_min_txns:
        dormant |= cm.txn_count < rules.active_min_txns
    return ibis.cases(
        (cm.is_churned, STAGES[4]),
        (warning, STAGES[3]),
        (dormant, STAGES[2]),
        (cm.tenure_months < rules.new_tenure_months, STAGES[0]),
        else_=STAGES[1],
    )
