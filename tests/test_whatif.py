"""What-if against a hand-computed example (tests/handbuilt.py, as of April 2024).

Customers not churned in April:
- customer 1 (SH01): 3-month average AUM 3,000, AUM 4,000 (1,000 three months before), 3 transactions,
  the last 2 days before month-end, tenure 10 months: Mass, Active.
- customer 3 (BJ01): 3-month average AUM 50, no transaction for 116 days, tenure 27 months: Mass, Dormant.
The proposal: Affluent from 2,000 (customer 1 moves up) and dormant after 120 days (customer 3 is Active).
"""

from __future__ import annotations

import datetime as dt

import pytest

from analytics.filters import Filters, Slice
from analytics.rules import DEFAULT_RULES, RuleSet
from analytics.scope import PSEUDONYM, Scope, ScopedStore
from analytics.whatif import Study

APRIL = dt.date(2024, 4, 30)
PROPOSAL = RuleSet(version=1, tier_cutoffs_cny=(2_000, 10_000, 20_000), dormant_days=120,
                   customers_per_rm=(2_000, 600, 1, 150, 40))


@pytest.fixture(scope="module")
def study(backend) -> Study:
    return Study(Slice(ScopedStore(backend, Scope.all_branches(pii="pseudonym")), Filters(end=APRIL)))


def test_customers_and_aum_per_tier_before_and_after(study):
    tiers = study.compare(DEFAULT_RULES, PROPOSAL).tiers.set_index("tier")
    assert list(tiers.index) == ["Mass", "Affluent", "Wealth", "Private"]
    assert tiers.customers_before.tolist() == [2, 0, 0, 0] and tiers.customers_after.tolist() == [1, 1, 0, 0]
    assert tiers.customers_change.tolist() == [-1, 1, 0, 0]
    assert tiers.aum_before.tolist() == [4_050, 0, 0, 0] and tiers.aum_after.tolist() == [50, 4_000, 0, 0]


def test_migration_matrix_and_totals(study):
    effect = study.compare(DEFAULT_RULES, PROPOSAL)
    assert effect.matrix[["from_tier", "to_tier", "customers", "aum_cny"]].values.tolist() == [
        ["Mass", "Mass", 1, 50], ["Mass", "Affluent", 1, 4_000]]
    assert (effect.customers, effect.moved, effect.aum_moved_cny, effect.stage_moved, effect.changed) == (2, 1, 4_000, 1, 2)


def test_lifecycle_stages_gained_and_lost(study):
    stages = study.compare(DEFAULT_RULES, PROPOSAL).stages.set_index("stage")
    assert stages.loc["Active"].tolist() == [1, 2, 1] and stages.loc["Dormant"].tolist() == [1, 0, -1]
    assert stages.loc[["New", "Churn-warning"]].customers_change.tolist() == [0, 0]


def test_impact_per_branch_and_relationship_managers_needed(study):
    effect = study.compare(DEFAULT_RULES, PROPOSAL)
    branches = effect.branches.set_index("branch_code")
    assert branches.loc["SH01", ["customers", "moved", "upgraded", "downgraded"]].tolist() == [1, 1, 1, 0]
    assert branches.loc["BJ01", ["customers", "moved", "upgraded", "downgraded"]].tolist() == [1, 0, 0, 0]
    assert branches.index[0] == "SH01"  # most moves first
    # one RM each today; the proposal serves Affluent customers one to one: SH01 needs 1 (Affluent),
    # BJ01 1 (one Mass customer, 2,000 per RM)
    assert branches.rms.tolist() == [1, 1]
    assert branches.rms_needed_before.tolist() == [1, 1] and branches.rms_needed_after.tolist() == [1, 1]
    load = effect.rm_load.set_index("tier")
    assert load.loc["Affluent", ["customers_after", "customers_per_rm", "rms_needed_after"]].tolist() == [1, 1, 1]
    assert load.loc["Mass", ["customers_before", "rms_needed_before", "rms_needed_after"]].tolist() == [2, 1, 1]


def test_the_movers_list_names_customers_by_their_masked_name(study):
    movers = study.movers(DEFAULT_RULES, PROPOSAL)
    assert movers[["tier_before", "tier_after", "stage_before", "stage_after"]].values.tolist() == [
        ["Mass", "Affluent", "Active", "Active"], ["Mass", "Mass", "Dormant", "Active"]]  # customers 1 and 3
    assert movers.name.str.fullmatch(PSEUDONYM).all()
    assert movers.customer_id.tolist() == movers.name.tolist()  # an analyst never sees the real id
    assert study.movers(DEFAULT_RULES, DEFAULT_RULES).empty


def test_the_potential_override_shows_its_tier_only_when_on(study):
    on = RuleSet(potential_aum_rise_share=0.5, potential_min_txns=3)
    tiers = study.compare(DEFAULT_RULES, on).tiers
    assert tiers.tier.tolist() == ["Mass", "Potential", "Affluent", "Wealth", "Private"]
    assert tiers.customers_after.tolist()[:2] == [1, 1]


def test_a_study_holds_only_the_scope(backend):
    sh01 = Study(Slice(ScopedStore(backend, Scope.for_branches(["SH01"])), Filters(end=APRIL)))
    effect = sh01.compare(DEFAULT_RULES, PROPOSAL)
    assert effect.customers == 1 and effect.branches.branch_code.tolist() == ["SH01"]
    assert sh01.movers(DEFAULT_RULES, PROPOSAL).name.tolist() == ["张伟"]  # a branch head sees names
