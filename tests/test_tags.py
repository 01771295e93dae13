"""Behaviour tags on a hand-built store of six customers, every figure worked out by hand.

Twelve month-ends, January to December 2024; holiday months are January, February, May and October.
- 1 (SH01): 21 digital logins a month; 40% of AUM (100,000) in wealth products, 25,000 in a fund and
  15,000 in insurance; a salary of 10,000 every month; a current account, a fund and insurance.
  -> digital-first, wealth-minded, salary account.
- 2 (SH01): deposits of 100,000, 60,000 of them in term deposits; a credit card; spends 300 in holiday
  months and 100 in the others (3x); inflows of 0 and 20,000 in turn (varying 100%).
  -> rate-sensitive, credit user, holiday-active.
- 3 (BJ01): only a current account; each figure just under its threshold: 59 logins in 3 months
  (19.67 a month), 29% invested, term deposits 49% of deposits, a salary of 5,000 with one month not
  exported (unknown), holiday spending 1.5x.
  -> product-light only.
- 4 (BJ01): AUM 40,000 until September, 100,000 from October: 3-month average 40,000 in September
  (Mass) and 100,000 in December (Affluent). -> tier upgraded, product-light.
- 5 (BJ01): AUM 600,000 until September, 100,000 from October: Wealth -> Affluent.
  -> tier downgraded, product-light.
- 6 (BJ01): like customer 1, but every account closed in June: churned, so no tags.
"""

from __future__ import annotations

import pandas as pd
import pytest

from analytics import marts, portfolio, store, tags, tiers
from analytics.filters import Filters, Slice
from analytics.rules import DEFAULT_RULES, RuleSet
from analytics.scope import Scope, ScopedStore
from analytics.whatif import Study

MONTHS = [(pd.Timestamp(2024, m, 1) + pd.offsets.MonthEnd(0)).date() for m in range(1, 13)]
HOLIDAY = {1, 2, 5, 10}
EXPECTED = {
    1: {"digital_first", "wealth_minded", "salary_account"},
    2: {"rate_sensitive", "credit_user", "holiday_active"},
    3: {"product_light"},
    4: {"tier_upgraded", "product_light"},
    5: {"tier_downgraded", "product_light"},
}


def _balance(customer, month, *, deposits, investments=0.0, insurance=0.0, term=None, logins=0, spend=100.0,
             inflow=None):
    return (customer, month, deposits, investments, insurance, 0.0, 4, spend, logins, month, term, inflow)


def build(path):
    with store.rewrite(path, fresh=True) as con:
        con.execute("""INSERT INTO branches VALUES
            ('SH01', '上海陆家嘴支行', 'Shanghai Lujiazui', '上海', '华东', NULL),
            ('BJ01', '北京金融街支行', 'Beijing Financial Street', '北京', '华北', NULL)""")
        con.execute("INSERT INTO relationship_managers VALUES ('SH01-RM01', 'SH01', '王经理', NULL),"
                    " ('BJ01-RM01', 'BJ01', '李经理', NULL)")
        for customer, branch in ((1, "SH01"), (2, "SH01"), (3, "BJ01"), (4, "BJ01"), (5, "BJ01"), (6, "BJ01")):
            con.execute("INSERT INTO customers VALUES (?, ?, ?, ?, 'F', '1985-03-03', NULL, NULL, NULL, '2020-01-01',"
                        " NULL, 'active')", [customer, branch, f"{branch}-RM01", f"客户{customer}"])
        con.execute("""INSERT INTO accounts VALUES
            (11, 1, 'current', '2020-01-01', NULL, NULL), (12, 1, 'wealth_fund', '2020-01-01', NULL, NULL),
            (13, 1, 'insurance', '2020-01-01', NULL, NULL),
            (21, 2, 'current', '2020-01-01', NULL, NULL), (22, 2, 'credit_card', '2020-01-01', NULL, NULL),
            (31, 3, 'current', '2020-01-01', NULL, NULL), (41, 4, 'current', '2020-01-01', NULL, NULL),
            (51, 5, 'current', '2020-01-01', NULL, NULL),
            (61, 6, 'current', '2020-01-01', '2024-06-10', NULL), (62, 6, 'wealth_fund', '2020-01-01', '2024-06-10', NULL)""")
        rows = []
        for i, month in enumerate(MONTHS):
            holiday = month.month in HOLIDAY
            rows.append(_balance(1, month, deposits=60_000, investments=25_000, insurance=15_000, logins=21,
                                 inflow=10_000))
            rows.append(_balance(2, month, deposits=100_000, term=60_000, spend=300 if holiday else 100,
                                 inflow=20_000 if i % 2 else 0))
            rows.append(_balance(3, month, deposits=71_000, investments=29_000, term=71_000 * 0.49,
                                 logins=20 if i >= 10 else 19, spend=150 if holiday else 100,
                                 inflow=None if i == 9 else 5_000))
            rows.append(_balance(4, month, deposits=40_000 if i < 9 else 100_000))
            rows.append(_balance(5, month, deposits=600_000 if i < 9 else 100_000))
            if i < 6:
                rows.append(_balance(6, month, deposits=60_000, investments=40_000, logins=21, inflow=10_000))
        con.executemany("INSERT INTO monthly_balances VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
        marts.rebuild(con)
    return path


@pytest.fixture(scope="module")
def tagged_store(tmp_path_factory):
    return build(tmp_path_factory.mktemp("tags") / "tags.duckdb")


@pytest.fixture(scope="module")
def tables(connect, tagged_store):
    return ScopedStore(connect(tagged_store), Scope.all_branches(pii="shown"))


def carried(tables, rules=DEFAULT_RULES, filters=Filters()) -> dict[int, set[str]]:
    frame = tags.tagged(Slice(tables, filters, rules)).execute()
    return {int(row.customer_id): {tag for tag in tags.TAGS if row[tag]} for _, row in frame.iterrows()}


def test_each_tag_on_its_hand_built_customer(tables):
    assert carried(tables) == EXPECTED  # customer 6 churned: no row, no tags


def test_the_figures_behind_the_tags(tables):
    frame = tags.tagged(Slice(tables)).execute().set_index("customer_id")
    assert frame.loc[1, "digital_logins_per_month"] == 21
    assert frame.loc[3, "digital_logins_per_month"] == pytest.approx(59 / 3)
    assert frame.loc[1, "wealth_share"] == pytest.approx(0.4)
    assert frame.loc[2, "term_deposit_share"] == pytest.approx(0.6)
    assert frame.loc[2, "credit_products"] == 1 and frame.loc[1, "credit_products"] == 0
    assert frame.loc[1, "inflow_median_6m_cny"] == 10_000 and frame.loc[1, "inflow_variation_6m"] == 0
    assert frame.loc[2, "inflow_variation_6m"] == pytest.approx(1.0)  # 0 and 20,000 in turn: sd 10,000, mean 10,000
    assert pd.isna(frame.loc[3, "inflow_median_6m_cny"])                # October's inflow unknown
    assert frame.loc[2, "holiday_spend_ratio_12m"] == pytest.approx(3.0)
    assert frame.loc[3, "holiday_spend_ratio_12m"] == pytest.approx(1.5)
    assert frame.loc[4, "aum_3m_avg_3m_ago_cny"] == 40_000 and frame.loc[4, "aum_3m_avg_cny"] == 100_000


def test_thresholds_come_from_the_rule_set(tables):
    looser = RuleSet(tag_digital_logins_per_month=19.5, tag_investment_share=0.29, tag_term_deposit_share=0.49,
                     tag_holiday_spend_ratio=1.5)
    assert carried(tables, looser)[3] == {"digital_first", "wealth_minded", "rate_sensitive", "holiday_active",
                                          "product_light"}
    # Affluent from 30,000: customer 4 was Affluent already; customer 5 still falls from Wealth
    lower = RuleSet(tier_cutoffs_cny=(30_000, 500_000, 6_000_000))
    assert "tier_upgraded" not in carried(tables, lower)[4]
    assert "tier_downgraded" in carried(tables, lower)[5]
    strict_salary = RuleSet(tag_salary_min_inflow_cny=10_001)
    assert "salary_account" not in carried(tables, strict_salary)[1]


def test_the_tag_filter_keeps_customers_carrying_every_tag_chosen(tables):
    def kept(*chosen):
        return set(Slice(tables, Filters(tags=chosen)).customers().execute().customer_id)
    assert kept("product_light") == {3, 4, 5}
    assert kept("product_light", "tier_upgraded") == {4}
    assert kept("wealth_minded", "rate_sensitive") == set()
    assert tiers.summary(Slice(tables, Filters(tags=("product_light",)))).customers.sum() == 3


def test_a_branch_head_sees_only_their_branch_tags(connect, tagged_store):
    beijing = ScopedStore(connect(tagged_store), Scope.for_branches({"BJ01"}))
    assert set(carried(beijing)) == {3, 4, 5}
    assert tags.of_customer(Slice(beijing), 1).empty


def test_prevalence_per_tier(tables):
    frame = tiers.tag_prevalence(Slice(tables))
    assert set(frame.tier) == {"Affluent"}  # every current customer averages 100,000 over the last 3 months
    affluent = frame.set_index("tag")
    assert (affluent.customers == 5).all()
    assert affluent.tagged.to_dict() == {"digital_first": 1, "wealth_minded": 1, "rate_sensitive": 1,
                                         "credit_user": 1, "salary_account": 1, "holiday_active": 1,
                                         "product_light": 3, "tier_upgraded": 1, "tier_downgraded": 1}
    assert affluent.loc["product_light", "share"] == pytest.approx(0.6)
    assert list(affluent.index) == list(tags.TAGS)
    later = RuleSet(tier_cutoffs_cny=(150_000, 500_000, 6_000_000))  # everyone Mass, and nobody moved tier
    moved = tiers.tag_prevalence(Slice(tables, rules=later)).set_index("tag")
    assert set(moved.tier) == {"Mass"} and moved.loc["tier_upgraded", "tagged"] == 0


def test_the_360_lists_tags_with_their_figures(tables):
    view = portfolio.customer_360(Slice(tables), 1)
    assert list(view.tags.tag) == ["digital_first", "wealth_minded", "salary_account"]
    words = [tags.describe(row) for _, row in view.tags.iterrows()]
    assert words == ["21 digital logins a month (tag from 20)", "40% of AUM in funds and insurance (tag from 30%)",
                     "a monthly inflow of CNY 10.00K, varying 0% over 6 months (tag from CNY 3.00K)"]
    moved = portfolio.customer_360(Slice(tables), 5).tags
    assert tags.describe(moved[moved.tag == "tier_downgraded"].iloc[0], "zh") == "3 个月前为财富，现为富裕"
    assert portfolio.customer_360(Slice(tables), 6).tags.empty  # churned


def test_what_if_counts_each_tag_under_both_rule_sets(tables):
    looser = RuleSet(tag_digital_logins_per_month=19.5, tag_holiday_spend_ratio=1.5)
    effect = Study(Slice(tables)).compare(DEFAULT_RULES, looser)
    counts = effect.tags.set_index("tag")
    for rules, side in ((DEFAULT_RULES, "customers_before"), (looser, "customers_after")):
        expected = {tag: sum(tag in held for held in carried(tables, rules).values()) for tag in tags.TAGS}
        assert counts[side].to_dict() == expected
    assert counts.loc["digital_first", "customers_change"] == 1
    assert counts.loc["holiday_active", "customers_change"] == 1
    assert RuleSet.from_json(looser.to_json()) == looser  # tag thresholds are saved with the rule set


def test_bad_tag_thresholds_are_named():
    from analytics.rules import InvalidRules
    with pytest.raises(InvalidRules) as problem:
        RuleSet(tag_investment_share=1.5, tag_digital_logins_per_month=0, tag_holiday_spend_ratio=float("nan"))
    assert set(problem.value.problems) == {"tag_investment_share", "tag_digital_logins_per_month",
                                           "tag_holiday_spend_ratio"}


def test_without_the_optional_columns_a_tag_is_unknown_not_false_data(tables):
    """Customers 4 and 5 come without term deposits or inflows (both optional in monthly_balances): their
    figures are unknown, so neither tag applies, and their other tags still do."""
    frame = tags.tagged(Slice(tables)).execute().set_index("customer_id")
    for customer in (4, 5):
        assert pd.isna(frame.loc[customer, "term_deposit_share"]) and pd.isna(frame.loc[customer, "inflow_median_6m_cny"])
        assert not frame.loc[customer, "rate_sensitive"] and not frame.loc[customer, "salary_account"]
        assert frame.loc[customer, "product_light"]
