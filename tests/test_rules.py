"""The rule set: validation field by field, storage as JSON, and what each rule does to tiers and stages."""

from __future__ import annotations

import datetime as dt

import pytest

from analytics import tiers
from analytics.filters import Filters, Slice
from analytics.i18n import TEXT
from analytics.rules import DEFAULT_RULES, PARTS, POTENTIAL, TIERS, UNITS, InvalidRules, RuleSet, differences
from analytics.scope import Scope, ScopedStore

APRIL = dt.date(2024, 4, 30)


@pytest.mark.parametrize(("field", "bad", "why"), [
    ("tier_cutoffs_cny", (500_000, 50_000, 6_000_000), "rules.problem.cutoffs_rise"),
    ("tier_cutoffs_cny", (50_000, 50_000, 6_000_000), "rules.problem.cutoffs_rise"),
    ("tier_cutoffs_cny", (0, 500_000, 6_000_000), "rules.problem.cutoffs"),
    ("tier_cutoffs_cny", (50_000, 500_000), "rules.problem.cutoffs"),
    ("tier_cutoffs_cny", (50_000, float("nan"), 6_000_000), "rules.problem.cutoffs"),
    ("dormant_days", 0, "rules.problem.positive_whole"),
    ("dormant_days", 90.5, "rules.problem.positive_whole"),
    ("dormant_days", True, "rules.problem.positive_whole"),
    ("new_tenure_months", -6, "rules.problem.positive_whole"),
    ("cross_sell_products", "2", "rules.problem.positive_whole"),
    ("potential_min_txns", 0, "rules.problem.positive_whole"),
    ("active_min_txns", -1, "rules.problem.whole"),
    ("warning_aum_drop_share", 1.5, "rules.problem.share"),
    ("warning_aum_drop_share", 0, "rules.problem.share"),
    ("warning_probability", 1.0, "rules.problem.share"),
    ("potential_aum_rise_share", -0.1, "rules.problem.rise_share"),
    ("customers_per_rm", (2_000, 600, 600, 150), "rules.problem.per_rm"),
    ("customers_per_rm", (2_000, 600, 0, 150, 40), "rules.problem.per_rm"),
    ("version", -1, "rules.problem.whole"),
])
def test_each_invalid_field_is_refused_by_name(field, bad, why):
    with pytest.raises(InvalidRules) as refused:
        RuleSet(**{field: bad})
    assert refused.value.problems == {field: why}
    assert field in str(refused.value) and TEXT[why][0] in str(refused.value)


def test_every_problem_of_a_rule_set_is_named_at_once():
    with pytest.raises(InvalidRules) as refused:
        RuleSet(tier_cutoffs_cny=(500, 100, 1000), dormant_days=0, warning_aum_drop_share=1.5)
    assert set(refused.value.problems) == {"tier_cutoffs_cny", "dormant_days", "warning_aum_drop_share"}


def test_every_rule_has_a_label_in_both_languages():
    for field in RuleSet.__dataclass_fields__:
        assert all(TEXT[f"rule.{field}"]), field


def test_rules_round_trip_through_json_and_unknown_fields_are_named():
    rules = RuleSet(tier_cutoffs_cny=(60_000, 600_000, 8_000_000), potential_aum_rise_share=0.2, active_min_txns=3,
                    customers_per_rm=(1_500, 500, 500, 120, 30))
    assert RuleSet.from_json(rules.to_json(), version=4) == RuleSet(**{**rules.__dict__, "version": 4})
    with pytest.raises(InvalidRules) as refused:
        RuleSet.from_json('{"dormant_days": 60, "vip_threshold": 1}')
    assert refused.value.problems == {"vip_threshold": "rules.problem.unknown"}
    with pytest.raises(InvalidRules) as refused:
        RuleSet.from_json('{"dormant_days": "soon"}')
    assert refused.value.problems == {"dormant_days": "rules.problem.positive_whole"}
    with pytest.raises(InvalidRules, match="rules_json"):
        RuleSet.from_json("{not json")


def test_changes_name_only_the_fields_that_differ():
    edited = RuleSet(version=3, dormant_days=60, warning_probability=0.4)
    assert edited.changes(DEFAULT_RULES) == {"dormant_days": (60, 90), "warning_probability": (0.4, 0.3)}


def test_differences_read_one_value_a_row_in_its_unit_the_cut_offs_by_the_tier_they_open():
    wider = RuleSet(version=2, tier_cutoffs_cny=(100_000, 500_000, 10_000_000), dormant_days=60,
                    warning_probability=0.4, customers_per_rm=(2_000, 600, 500, 150, 40), tag_salary_min_inflow_cny=5_000.0,
                    tag_holiday_spend_ratio=2.0)
    assert differences(DEFAULT_RULES, wider).values.tolist() == [
        ["cutoff_affluent", None, "cny", 50_000, 100_000],
        ["cutoff_private", None, "cny", 6_000_000, 10_000_000],
        ["dormant_days", None, "count", 90, 60],
        ["warning_probability", None, "pct1", 0.3, 0.4],
        ["customers_per_rm_of", "Affluent", "count", 600, 500],  # of Mass, Potential, Affluent, Wealth, Private
        ["tag_salary_min_inflow_cny", None, "cny", 3_000.0, 5_000.0],
        ["tag_holiday_spend_ratio", None, "score", 1.6, 2.0],
    ]
    assert differences(wider, wider).empty


def test_every_rule_says_how_its_values_read():
    assert set(UNITS) == set(RuleSet.__dataclass_fields__) - {"version"}
    for name, parts in PARTS.items():
        assert len(parts) == len(getattr(DEFAULT_RULES, name)), name
        assert all(TEXT[f"rule.{rule}"] for rule, _ in parts), name


def april(backend, rules):
    return Slice(ScopedStore(backend, Scope.all_branches()), Filters(end=APRIL), rules)


def test_potential_override_promotes_mass_customers_with_rising_aum_and_activity(backend):
    # April: customer 1 has AUM 4,000 (1,000 three months before, +300%) and 3 transactions;
    # customer 3 has AUM 50, flat, and none; customer 2 has churned.
    off = tiers.summary(april(backend, DEFAULT_RULES))
    assert list(off.tier) == list(TIERS) and off.customers.tolist() == [2, 0, 0, 0]
    on = tiers.summary(april(backend, RuleSet(potential_aum_rise_share=0.5, potential_min_txns=3)))
    assert list(on.tier) == [TIERS[0], POTENTIAL, *TIERS[1:]]
    assert on.customers.tolist() == [1, 1, 0, 0, 0] and on.aum_cny.tolist()[:2] == [50, 4_000]
    too_quiet = tiers.summary(april(backend, RuleSet(potential_aum_rise_share=0.5, potential_min_txns=4)))
    assert too_quiet.customers.tolist() == [2, 0, 0, 0, 0]
    too_slow = tiers.summary(april(backend, RuleSet(potential_aum_rise_share=0.99, potential_min_txns=3)))
    assert too_slow.customers.tolist() == [1, 1, 0, 0, 0]  # +300% is above 99% too


def test_activity_rule_makes_customers_with_too_few_transactions_dormant(backend):
    # April: customer 1 made 3 transactions (the last 2 days before month-end); customer 3 none since 5 January.
    def stages(rules):
        frame = tiers.lifecycle(april(backend, rules))
        return dict(zip(frame.stage, frame.customers))

    assert stages(DEFAULT_RULES) == {"Active": 1, "Dormant": 1}
    assert stages(RuleSet(active_min_txns=3)) == {"Active": 1, "Dormant": 1}
    assert stages(RuleSet(active_min_txns=4)) == {"Dormant": 2}
    assert stages(RuleSet(dormant_days=120)) == {"Active": 2}  # customer 3: 116 days
