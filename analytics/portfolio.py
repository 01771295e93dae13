"""The portfolio drill-down: branch -> relationship manager -> customer -> the customer 360 view.

Every level is as of the slice's as-of month and counts customers not
churned at it. The 360 view reads one customer through the scope only (not
the filters), so a link to a customer in scope always opens, and one out of
scope never does.
"""

from __future__ import annotations

from dataclasses import dataclass

import ibis
import ibis.expr.types as ir
import pandas as pd
from ibis import _

from analytics import measures, nextbest, tags
from analytics.churn import latest_scores
from analytics.filters import Slice
from analytics.rules import HIGH_TIERS, STAGES, aum_fell, likely_to_leave, stage, tier
from analytics.scope import AGE_BAND_YEARS, OutOfScope


def _as_of_idx(sl: Slice) -> ir.IntegerScalar:
    as_of = sl.as_of()
    return as_of.year() * 12 + as_of.month() - 1


def current(sl: Slice) -> ir.Table:
    """customer_month at the as-of month, customers not churned, with the latest churn probability, tier,
    stage and value at risk."""
    cm = sl.table("customer_month")
    at = cm.filter((cm.month == sl.as_of()) & ~cm.is_churned)
    scores = latest_scores(sl).select("customer_id", "probability")
    at = at.left_join(scores, "customer_id").drop("customer_id_right")
    return at.mutate(tier=tier(at, sl.rules), stage=stage(at, sl.rules, at.probability),
                     value_at_risk_cny=(at.probability * at.aum_cny).fill_null(0))


def _value_at_risk() -> ir.FloatingValue:
    """The value at risk of a group of `current` rows: unknown (not 0) while none of them has a churn score."""
    return _.value_at_risk_cny.sum(where=_.probability.notnull())


def at_risk(sl: Slice, rm_id: str | None = None) -> pd.DataFrame:
    """Every customer in the Churn-warning stage at the as-of month, in scope and filters (of one RM's book
    with `rm_id`), highest value at risk first: the customers the Portfolio counts as at risk and the care
    rules call. `aum_fell` and `likely` say which of the stage's rules put each one there.

    Columns: customer_id, name, branch_code, rm_id, tier, aum_cny, aum_change_3m, probability,
    value_at_risk_cny, aum_fell, likely, reasons_json, actions_json, as_of, model_version."""
    now = current(sl)
    now = now.filter(now.stage == STAGES[3])
    if rm_id:
        now = now.filter(now.rm_id == rm_id)
    names = sl.table("customers").select("customer_id", "name")
    scores = latest_scores(sl).select("customer_id", "reasons_json", "actions_json", "as_of", "model_version")
    joined = now.join(names, "customer_id").left_join(scores, "customer_id")
    listed = joined.select(
        "customer_id", "name", "branch_code", "rm_id", "tier",
        aum_cny=joined.aum_cny.fill_null(0),
        aum_change_3m=(joined.aum_cny / joined.aum_3m_ago_cny.nullif(0) - 1).cast("float64"),
        probability=joined.probability,
        value_at_risk_cny=joined.value_at_risk_cny.round(2),
        aum_fell=aum_fell(joined, sl.rules),
        likely=likely_to_leave(joined.probability, sl.rules),
        reasons_json=joined.reasons_json, actions_json=joined.actions_json,
        as_of=joined.as_of, model_version=joined.model_version)
    return listed.order_by([ibis.desc("value_at_risk_cny"), "customer_id"]).execute()


def _indexed(sl: Slice) -> ir.Table:
    """The slice's branch_month parts with `ago`: months from the as-of month (0 at it, -12 a year before). A
    column first: as_of() may be a reduction of another table, which Ibis makes a subquery in a projection but
    not inside an aggregate's `where`."""
    bm = measures.parts(sl, measures.BRANCH_MONTH)
    return bm.mutate(ago=bm.month.year() * 12 + bm.month.month() - 1 - _as_of_idx(sl))


def _rates_12m(sl: Slice, key: str) -> ir.Table:
    """Per `key` (branch_code or rm_id): customers churned in the 12 months to the as-of month and
    customers at the start of those 12 months (the parts of measures.churn_rate_12m)."""
    bm = _indexed(sl)
    return bm.group_by(key).agg(
        churned_12m=bm.churned.sum(where=(bm.ago > -12) & (bm.ago <= 0)).fill_null(0),
        at_start_12m=bm.customers.sum(where=bm.ago == -12))


def _nps_12m(sl: Slice, key: str) -> ir.Table:
    """Per `key`: the NPS answers of the 12 months to the as-of month, promoters and detractors among them."""
    sm = measures.parts(sl, measures.SURVEY_MONTH)
    as_of = sl.as_of()
    sm = sm.filter((sm.month <= as_of) & (sm.month > as_of - ibis.interval(years=1)))
    return sm.group_by(key).agg(nps_answers=sm.nps_answers.sum(), nps_promoters=sm.promoters.sum(),
                                nps_detractors=sm.detractors.sum())


def _branch_parts(sl: Slice) -> ir.Table:
    """Per branch of the slice, the parts of the league's figures, each adding up over branches: customers, AUM
    and value at risk at the as-of month, AUM a year before, churned and at start (12 months), NPS answers,
    promoters and detractors (12 months). A branch without customers at the as-of month has no `customers`."""
    bm = _indexed(sl)
    held = bm.group_by("branch_code").agg(
        customers=bm.customers.sum(where=(bm.ago == 0) & (bm.rows > 0)),
        aum_cny=bm.aum_cny.sum(where=(bm.ago == 0) & (bm.rows > 0)),
        aum_year_ago_cny=bm.aum_cny.sum(where=(bm.ago == -12) & (bm.rows > 0)))
    held = held.mutate(customers=held.customers.nullif(0))  # no customers at the as-of month: none
    at_risk = current(sl).group_by("branch_code").agg(value_at_risk_cny=_value_at_risk())
    b = sl.table("branches").select("branch_code")
    return (b.left_join(held, "branch_code").drop("branch_code_right")
            .left_join(at_risk, "branch_code").drop("branch_code_right")
            .left_join(_rates_12m(sl, "branch_code"), "branch_code").drop("branch_code_right")
            .left_join(_nps_12m(sl, "branch_code"), "branch_code").drop("branch_code_right"))


def _branch_figures(parts: ir.Table) -> ir.Table:
    """The league's figures made of their parts (`_branch_parts`, of one branch or summed over the bank): the
    12-month churn rate, NPS over the 12 months, and AUM's change over 12 months."""
    return parts.mutate(
        churn_rate_12m=measures.churn_rate_12m(parts.churned_12m, parts.at_start_12m),
        nps_12m=measures.nps(parts.nps_answers, parts.nps_promoters, parts.nps_detractors)["value"],
        aum_change_12m=measures.rate(parts.aum_cny, parts.aum_year_ago_cny) - 1)


LEAGUE_COLUMNS = ["branch_code", "name", "name_en", "region", "customers", "aum_cny", "value_at_risk_cny",
                  "aum_year_ago_cny", "churned_12m", "churn_rate_12m", "nps_answers", "nps_12m", "aum_change_12m"]


def branches(sl: Slice) -> pd.DataFrame:
    """The branches of the slice with customers at the as-of month, largest AUM first and ranked so: customers,
    AUM and its change over 12 months, 12-month churn rate, NPS over the last 12 months, and value at risk."""
    figures = _branch_figures(_branch_parts(sl))
    b = sl.table("branches").select("branch_code", "name", "name_en", "region")
    joined = b.join(figures.filter(figures.customers.notnull()), "branch_code").select(*LEAGUE_COLUMNS)
    frame = joined.order_by([ibis.desc("aum_cny"), "branch_code"]).execute()
    frame.insert(0, "rank", range(1, len(frame) + 1))
    return frame


def league(sl: Slice) -> pd.DataFrame:
    """The Overview's branch league: the rows of `branches`, each with its `rank` among all the bank's branches
    (of `ranked` ranked, by AUM under the same filters but the region and branch ones), then the bank's row
    (branch_code empty; none when too few other branches would be in it): the same figures over every branch. A
    branch head learns their branches' rank and the bank's figures, never another branch's (ScopedStore.standing)."""
    frame = branches(sl)
    peers = sl.filters.but(regions=(), branches=())
    standing = sl.scoped.standing(lambda everyone: _branch_parts(Slice(everyone, peers, sl.rules)), _branch_figures,
                                  "aum_cny")
    frame["rank"] = frame.branch_code.map(standing.ranks)
    bank = pd.DataFrame([{name: standing.bank[name] for name in LEAGUE_COLUMNS if name in standing.bank}]
                        if standing.bank else [])
    return pd.concat([frame, bank], ignore_index=True).assign(ranked=standing.branches)


def relationship_managers(sl: Slice, branch_code: str) -> pd.DataFrame:
    """The relationship managers of one branch: customers, AUM, Wealth-and-above customers,
    12-month churn rate and value at risk of their book, largest AUM first."""
    now = current(sl)
    now = now.filter(now.branch_code == branch_code)
    book = now.group_by("rm_id").agg(
        customers=_.count(), aum_cny=_.aum_cny.sum(),
        high_tier_customers=_.tier.isin(HIGH_TIERS).sum().cast("int64"),
        at_risk_customers=(_.stage == STAGES[3]).sum().cast("int64"),
        value_at_risk_cny=_value_at_risk())
    rms = sl.table("relationship_managers")
    rms = rms.filter(rms.branch_code == branch_code).select("rm_id", "name")
    joined = rms.join(book, "rm_id").left_join(_rates_12m(sl, "rm_id"), "rm_id").drop("rm_id_right")
    joined = joined.mutate(churn_rate_12m=measures.churn_rate_12m(joined.churned_12m, joined.at_start_12m))
    joined = joined.drop("at_start_12m")
    return joined.order_by([ibis.desc("aum_cny"), "rm_id"]).execute()


def customers(sl: Slice, rm_id: str, limit: int = 1000) -> pd.DataFrame:
    """The customers of one relationship manager at the as-of month, highest value at risk first, with
    their two next-best products (nextbest.side_by_side)."""
    now = current(sl)
    now = now.filter(now.rm_id == rm_id)
    names = sl.table("customers").select("customer_id", "name")
    offers = nextbest.side_by_side(sl)
    listed = now.join(names, "customer_id").left_join(offers, "customer_id").select(
        "customer_id", "name", "tier", "stage", "aum_cny", "products_held", "days_since_last_txn",
        "tenure_months", "probability", "value_at_risk_cny", *offers.drop("customer_id").columns)
    return listed.order_by([ibis.desc("value_at_risk_cny"), ibis.desc("aum_cny"), "customer_id"]).limit(limit).execute()


@dataclass(frozen=True)
class Customer360:
    profile: dict            # customers row (masked per role) + branch and RM names, tier, stage, AUM, age_years
                             # (and age_band_years: the width of the band age_years starts, without PII)
    balances: pd.DataFrame   # month, deposits_cny, investments_cny, insurance_cny, loans_cny, aum_cny
    accounts: pd.DataFrame   # account_id, product, opened_on, closed_on, maturity_on
    interactions: pd.DataFrame
    surveys: pd.DataFrame
    complaints: pd.DataFrame
    churn: dict | None       # probability, as_of, model_version, reasons_json, actions_json
    tags: pd.DataFrame       # the behaviour tags the customer carries, with the figure behind each (tags.of_customer)
    next_products: pd.DataFrame  # rank, product, probability, reasons_json: the likeliest products they do not hold


def customer_360(sl: Slice, customer: int | str) -> Customer360:
    """Everything about one customer in scope, named by their id (an analyst: by pseudonym) as a link gives it;
    OutOfScope when the scope does not hold them."""
    customer_id = sl.scoped.scope.customer_key(customer)
    scoped = Slice(sl.scoped, rules=sl.rules)  # the scope, without the filters
    customer = scoped.table("customers")
    found = customer.filter(customer.customer_id == customer_id).execute()
    if found.empty:
        raise OutOfScope(f"customer {customer_id} is not in your scope")
    profile = found.iloc[0].to_dict()
    branch = scoped.table("branches").filter(_.branch_code == profile["branch_code"]).execute()
    rm = scoped.table("relationship_managers").filter(_.rm_id == profile["rm_id"]).execute()
    profile["branch_name"], profile["branch_name_en"] = (branch.name.iloc[0], branch.name_en.iloc[0]) if len(branch) else (None, None)
    profile["rm_name"] = rm.name.iloc[0] if len(rm) else None

    def of(name: str) -> ir.Table:
        t = scoped.table(name)
        return t.filter(t.customer_id == customer_id)

    cm = of("customer_month")
    balances = cm.select("month", "deposits_cny", "investments_cny", "insurance_cny", "loans_cny", "aum_cny",
                         "aum_3m_avg_cny", "products_held", "days_since_last_txn", "tenure_months", "is_churned",
                         tier=tier(cm, sl.rules), stage=stage(cm, sl.rules)).order_by("month").execute()
    if len(balances):
        last = balances.iloc[-1]
        profile.update({k: last[k] for k in ("tier", "stage", "aum_cny", "products_held", "days_since_last_txn")})
        profile["as_of"] = last["month"]
    ages = of("customer_current").select("age_years").execute().age_years  # a 10-year band without PII (scope)
    profile["age_years"] = None if ages.empty or pd.isna(ages.iloc[0]) else int(ages.iloc[0])
    profile["age_band_years"] = None if sl.scoped.scope.pii == "shown" else AGE_BAND_YEARS
    scores = of("churn_scores")
    scores = scores.filter(scores.as_of == scores.as_of.max()).order_by(ibis.desc("model_version")).limit(1).execute()
    return Customer360(
        profile=profile,
        balances=balances,
        accounts=of("accounts").order_by(["opened_on", "account_id"]).execute(),
        interactions=of("interactions").order_by(ibis.desc("occurred_at")).execute(),
        surveys=of("surveys").order_by(ibis.desc("answered_at")).execute(),
        complaints=of("complaints").order_by(ibis.desc("opened_at")).execute(),
        churn=scores.iloc[0].to_dict() if len(scores) else None,
        tags=tags.of_customer(scoped, customer_id),
        next_products=nextbest.top(scoped).filter(_.customer_id == customer_id)
        .select("rank", "product", "probability", "reasons_json").order_by("rank").execute(),
    )
