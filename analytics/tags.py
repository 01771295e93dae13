"""Behaviour tags: what kind of customer someone is, read from what they do.

The figures behind the tags are built with the marts (`customer_current`,
after every generate and import), never from the raw tables per page view.
Each tag compares one figure with a threshold of the versioned rule set, so
tags go through what-if, versions and maker-checker like the tiers; the
comparison is a cheap expression evaluated with the rule set being read.
Tags describe a customer as of their latest month-end; churned customers
have none.

| tag | figure | tagged when |
|---|---|---|
| digital_first | digital logins per month, 3-month average | >= tag_digital_logins_per_month |
| wealth_minded | wealth products' (funds and insurance) share of AUM | >= tag_investment_share |
| rate_sensitive | term deposits' share of deposits | >= tag_term_deposit_share |
| credit_user | open credit cards, loans and mortgages | >= 1 |
| salary_account | median monthly inflow of 6 months, and its variation | >= tag_salary_min_inflow_cny, <= tag_salary_max_variation |
| holiday_active | spending in holiday months against other months, 12 months | >= tag_holiday_spend_ratio |
| product_light | products held | = 1 |
| tier_upgraded / tier_downgraded | tier by 3-month average AUM now and 3 months ago | higher / lower now |
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import ibis.expr.types as ir
import pandas as pd
from ibis import _

from analytics import format as fmt
from analytics.i18n import t, term
from analytics.rules import TIERS, RuleSet, tier_rank

if TYPE_CHECKING:
    from analytics.filters import Slice

TAGS = ("digital_first", "wealth_minded", "rate_sensitive", "credit_user", "salary_account", "holiday_active",
        "product_light", "tier_upgraded", "tier_downgraded")

# tag -> (the figure it reads, the rule holding its threshold, or None when the threshold is fixed)
FIGURE: dict[str, tuple[str, str | None]] = {
    "digital_first": ("digital_logins_per_month", "tag_digital_logins_per_month"),
    "wealth_minded": ("wealth_share", "tag_investment_share"),
    "rate_sensitive": ("term_deposit_share", "tag_term_deposit_share"),
    "credit_user": ("credit_products", None),
    "salary_account": ("inflow_median_6m_cny", "tag_salary_min_inflow_cny"),
    "holiday_active": ("holiday_spend_ratio_12m", "tag_holiday_spend_ratio"),
    "product_light": ("products_held", None),
    "tier_upgraded": ("aum_3m_avg_3m_ago_cny", None),
    "tier_downgraded": ("aum_3m_avg_3m_ago_cny", None),
}
FIGURES = ("digital_logins_per_month", "wealth_share", "term_deposit_share", "credit_products",
           "inflow_median_6m_cny", "inflow_variation_6m", "holiday_spend_ratio_12m", "products_held",
           "aum_3m_avg_cny", "aum_3m_avg_3m_ago_cny")


def figures(cc: ir.Table) -> dict[str, ir.NumericValue]:
    """The figures the tags read, from customer_current."""
    return {
        "digital_logins_per_month": cc.digital_logins_90d / 3,
        "wealth_share": (cc.investments_cny + cc.insurance_cny) / cc.aum_cny.nullif(0),
        "term_deposit_share": cc.term_deposits_cny / cc.deposits_cny.nullif(0),
        "credit_products": cc.credit_products,
        "inflow_median_6m_cny": cc.inflow_median_6m_cny,
        "inflow_variation_6m": cc.inflow_variation_6m,
        "holiday_spend_ratio_12m": cc.holiday_spend_ratio_12m,
        "products_held": cc.products_held,
        "aum_3m_avg_cny": cc.aum_3m_avg_cny,
        "aum_3m_avg_3m_ago_cny": cc.aum_3m_avg_3m_ago_cny,
    }


def flags(t: ir.Table, rules: RuleSet) -> dict[str, ir.BooleanValue]:
    """Per tag, whether a row of a table holding FIGURES carries it under `rules` (never null)."""
    now, before = tier_rank(t.aum_3m_avg_cny, rules), tier_rank(t.aum_3m_avg_3m_ago_cny, rules)
    known_before = t.aum_3m_avg_3m_ago_cny.notnull()
    tagged = {
        "digital_first": t.digital_logins_per_month >= rules.tag_digital_logins_per_month,
        "wealth_minded": t.wealth_share >= rules.tag_investment_share,
        "rate_sensitive": t.term_deposit_share >= rules.tag_term_deposit_share,
        "credit_user": t.credit_products >= 1,
        "salary_account": (t.inflow_median_6m_cny >= rules.tag_salary_min_inflow_cny)
                          & (t.inflow_variation_6m <= rules.tag_salary_max_variation),
        "holiday_active": t.holiday_spend_ratio_12m >= rules.tag_holiday_spend_ratio,
        "product_light": t.products_held == 1,
        "tier_upgraded": known_before & (now > before),
        "tier_downgraded": known_before & (now < before),
    }
    return {name: value.fill_null(False) for name, value in tagged.items()}


def profiles(cc: ir.Table) -> ir.Table:
    """customer_id, branch_code, rm_id and FIGURES of the customers of a customer_current table not churned."""
    cc = cc.filter(~cc.is_churned)
    return cc.select("customer_id", "branch_code", "rm_id", **figures(cc))


def tagged(sl: Slice) -> ir.Table:
    """The slice's customers not churned, with FIGURES and one boolean column per tag."""
    t = profiles(sl.table("customer_current"))
    return t.mutate(**flags(t, sl.rules))


def of_customer(sl: Slice, customer_id: int) -> pd.DataFrame:
    """The tags one customer of the slice carries, in TAGS order, each with the figure behind it: tag,
    figure, threshold (None when fixed), variation (the salary tag's), tier_before and tier_now (the tier
    moves'). Empty for a churned customer."""
    t = tagged(sl).filter(_.customer_id == customer_id)
    t = t.mutate(rank_before=tier_rank(t.aum_3m_avg_3m_ago_cny, sl.rules), rank_now=tier_rank(t.aum_3m_avg_cny, sl.rules))
    found = t.execute()
    if found.empty:
        return pd.DataFrame(columns=COLUMNS)
    row = found.iloc[0]
    tiers = {"tier_before": TIERS[row.rank_before] if pd.notna(row.aum_3m_avg_3m_ago_cny) else None,
             "tier_now": TIERS[row.rank_now]}
    return pd.DataFrame([{"tag": tag, "figure": row[FIGURE[tag][0]],
                          "threshold": getattr(sl.rules, FIGURE[tag][1]) if FIGURE[tag][1] else None,
                          "variation": row.inflow_variation_6m, **tiers}
                         for tag in TAGS if bool(row[tag])], columns=COLUMNS)


COLUMNS = ["tag", "figure", "threshold", "variation", "tier_before", "tier_now"]


def describe(row, lang: str = "en") -> str:
    """The figure behind one row of `of_customer`, in words."""
    tag, value, threshold = row["tag"], row["figure"], row["threshold"]
    shown = {
        "digital_first": lambda: {"value": f"{value:.0f}", "threshold": f"{threshold:.0f}"},
        "wealth_minded": lambda: {"value": fmt.pct(value, lang, 0), "threshold": fmt.pct(threshold, lang, 0)},
        "rate_sensitive": lambda: {"value": fmt.pct(value, lang, 0), "threshold": fmt.pct(threshold, lang, 0)},
        "credit_user": lambda: {"value": fmt.count(value, lang)},
        "salary_account": lambda: {"value": fmt.money(value, lang), "threshold": fmt.money(threshold, lang),
                                   "variation": fmt.pct(row["variation"], lang, 0)},
        "holiday_active": lambda: {"value": f"{value:.1f}", "threshold": f"{threshold:.1f}"},
        "product_light": lambda: {},
        "tier_upgraded": lambda: {"before": term("tier", row["tier_before"], lang), "now": term("tier", row["tier_now"], lang)},
        "tier_downgraded": lambda: {"before": term("tier", row["tier_before"], lang), "now": term("tier", row["tier_now"], lang)},
    }[tag]()
    return t(f"tag.why.{tag}", lang, **shown)
