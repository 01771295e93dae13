"""Each measure defined once: the additive parts every row adds, and the figures made of their sums.

A figure the dashboard shows (customers, AUM, a churn rate, NPS, CSAT, complaint SLA compliance) is a ratio or
a sum of parts that add up over customers, months and branches: customers not churned, customers churned in the
month, NPS answers, promoters, detractors... The marts (analytics.marts) hold those parts summed at the grain the
global filters need: month x branch x relationship manager, and for the events their channel and kind.

`parts(sl, MART)` hands a view the parts of one mart, narrowed by the slice's scope and filters: read from the
mart when every filter the slice holds is one of the mart's columns (the period, regions, branches, channels),
and made from the raw rows with the same definitions when a filter narrows customers in a way the mart does not
hold (tiers, products held, tags: they depend on the as-of month and the rule set). The figures are the same sums
either way, so a test can hold the marts equal to the raw tables.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir
from ibis import _

from analytics import schema
from analytics.filters import Slice, month_end
from analytics.rules import RuleSet, stage, tier
from analytics.scope import ScopedStore
from analytics.tags import TAGS, flags, profiles

Z_95 = 1.96

# --- the NPS cut and CSAT's "satisfied": the one place they are written ----------------------------------------
PROMOTER_MIN, PASSIVE_MIN = 9, 7   # NPS 9-10: promoters; 7-8: passives; 0-6: detractors
SATISFIED_MIN = 4                  # CSAT 4 or 5 (of 5)


def nps_group(nps: ir.IntegerValue) -> ir.StringValue:
    """An NPS answer's group: promoters, passives or detractors."""
    return ibis.cases((nps >= PROMOTER_MIN, "promoters"), (nps >= PASSIVE_MIN, "passives"), else_="detractors")


def survey_counts(s: ir.Table) -> dict[str, ir.IntegerValue]:
    """What one survey answer adds: answers of each kind and their groups (0 or 1 each)."""
    return {
        "nps_answers": s.nps.notnull().cast("int64"),
        "promoters": (s.nps >= PROMOTER_MIN).fill_null(False).cast("int64"),
        "passives": ((s.nps >= PASSIVE_MIN) & (s.nps < PROMOTER_MIN)).fill_null(False).cast("int64"),
        "detractors": (s.nps < PASSIVE_MIN).fill_null(False).cast("int64"),
        "csat_answers": s.csat.notnull().cast("int64"),
        "satisfied": (s.csat >= SATISFIED_MIN).fill_null(False).cast("int64"),
    }


def nps(answers: ir.IntegerValue, promoters: ir.IntegerValue, detractors: ir.IntegerValue) -> dict[str, ir.FloatingValue]:
    """NPS = % promoters - % detractors, -100..100, and its normal-approximation 95% band, clipped to -100..100;
    no band under 2 answers."""
    n = answers.cast("float64").nullif(0)
    pro, det = promoters / n, detractors / n
    value = 100 * (pro - det)
    se = 100 * ((pro + det - (pro - det) ** 2) / n).sqrt()
    enough = answers >= 2
    return {
        "value": value,
        "low": ibis.cases((enough, (value - Z_95 * se).clip(lower=-100)), else_=ibis.null("float64")),
        "high": ibis.cases((enough, (value + Z_95 * se).clip(upper=100)), else_=ibis.null("float64")),
    }


def csat(answers: ir.IntegerValue, satisfied: ir.IntegerValue) -> dict[str, ir.FloatingValue]:
    """CSAT = satisfied / answers, 0..1, and its 95% Wilson score interval (inside 0..1 even at 0 or 100%)."""
    n = answers.cast("float64").nullif(0)
    p = satisfied / n
    z2 = Z_95**2
    shrink = 1 + z2 / n
    centre = (p + z2 / (2 * n)) / shrink
    half = Z_95 * (p * (1 - p) / n + z2 / (4 * n * n)).sqrt() / shrink
    # clipped only against rounding: at 0% or 100% the bound is 0 or 1 up to a last bit
    return {"value": p, "low": (centre - half).clip(lower=0), "high": (centre + half).clip(upper=1)}


def within_sla(c: ir.Table) -> ir.BooleanValue:
    """A complaint resolved within its SLA days."""
    return c.resolved_at.notnull() & (c.resolved_at <= c.opened_at + c.sla_days.as_interval("D"))


def rate(numerator: ir.NumericValue, denominator: ir.NumericValue) -> ir.FloatingValue:
    """numerator / denominator, none where the denominator is 0."""
    return (numerator / denominator.nullif(0)).cast("float64")


def churn_rate_12m(churned_12m: ir.NumericValue, at_start_12m: ir.NumericValue) -> ir.FloatingValue:
    """Customers churned in the 12 months to a month-end / customers at the start of those 12 months."""
    return rate(churned_12m, at_start_12m)


# --- the marts' rows, made from raw rows ---------------------------------------------------------------------
# Each builder takes the raw tables (of a store, or of a slice) and gives the mart's rows: its dimensions and the
# parts summed at them. marts.rebuild writes them over the whole store; `parts` makes them over a slice's rows
# when the mart cannot serve the slice's filters.

BRANCH_MONTH_PARTS = ("rows", "customers", "aum_cny", "churned", "opened")


CENTS = dt.Decimal(38, 2)


def _branch_month(tables: Callable[[str], ir.Table]) -> ir.Table:
    cm = tables("customer_month")
    active = ~cm.is_churned
    held = cm.group_by("month", "branch_code", "rm_id").agg(
        rows=_.count(),
        customers=active.sum().cast("int64"),
        # summed as cents: a sum of doubles depends on the order DuckDB's threads add them in, and the same data
        # must give the same mart (store.content_checksum)
        aum_cny=cm.aum_cny.cast(CENTS).sum(where=active).cast("float64").fill_null(0),
        churned=cm.churned_in_month.sum().cast("int64"),
        opened=ibis.literal(0, "int64"),
    )
    # Customers who opened their relationship in a month of the data (earlier openings are no month's news).
    c = tables("customers")
    first, last = cm.month.min(), cm.month.max()
    c = c.mutate(month=month_end(c.opened_on))
    opened = c.filter((c.month >= first) & (c.month <= last)).group_by("month", "branch_code", "rm_id").agg(
        rows=ibis.literal(0, "int64"), customers=ibis.literal(0, "int64"), aum_cny=ibis.literal(0, "float64"),
        churned=ibis.literal(0, "int64"), opened=_.count())
    both = held.union(opened.cast(held.schema()))
    return both.group_by("month", "branch_code", "rm_id").agg(
        **{name: both[name].sum() for name in BRANCH_MONTH_PARTS})


def _survey_month(tables: Callable[[str], ir.Table]) -> ir.Table:
    s = tables("surveys")
    who = tables("customers").select("customer_id", "branch_code")
    s = s.join(who, "customer_id")
    counts = survey_counts(s)
    return s.group_by(month=month_end(s.answered_at), branch_code=s.branch_code, channel=s.channel,
                      touchpoint=s.touchpoint).agg(**{name: part.sum() for name, part in counts.items()})


def _complaint_month(tables: Callable[[str], ir.Table]) -> ir.Table:
    c = tables("complaints")
    who = tables("customers").select("customer_id", "branch_code")
    c = c.join(who, "customer_id")
    return c.group_by(opened_month=month_end(c.opened_at), resolved_month=month_end(c.resolved_at),
                      branch_code=c.branch_code, channel=c.channel, category=c.category).agg(
        complaints=_.count(), within_sla=within_sla(c).sum())


# The customers not churned at each month-end by their tier and lifecycle stage under a rule set, with what the
# Tiers page and the churn rate by tier add up: AUM, products held, the cross-sold, the tags they carry (as of
# their latest month-end, like analytics.tags.tagged: `profiled` counts those with a current profile) and, of the
# month after, whether they are still in the data and whether they churned in it.
TIER_MONTH_PARTS = ("customers", "aum_cny", "products_held", "cross_sold", "next_rows", "churned_next", "profiled",
                    *TAGS)


def _tier_month(tables: Callable[[str], ir.Table], rules: RuleSet) -> ir.Table:
    cm = tables("customer_month")
    at = cm.filter(~cm.is_churned)
    at = at.mutate(tier=tier(at, rules), stage=stage(at, rules))
    after = cm.select(next_customer=cm.customer_id, next_idx=cm.month_idx - 1, churned_next=cm.churned_in_month)
    at = at.left_join(after, (at.customer_id == after.next_customer) & (at.month_idx == after.next_idx))
    profile = profiles(tables("customer_current"))
    carries = profile.select(profile_of=profile.customer_id, **flags(profile, rules))
    at = at.left_join(carries, at.customer_id == carries.profile_of)
    return at.group_by("month", "branch_code", "rm_id", "tier", "stage").agg(
        customers=_.count(),
        aum_cny=at.aum_cny.cast(CENTS).sum().cast("float64").fill_null(0),
        products_held=at.products_held.sum().cast("int64"),
        cross_sold=(at.products_held >= rules.cross_sell_products).sum().cast("int64"),
        next_rows=at.next_customer.count(),
        churned_next=at.churned_next.sum().cast("int64").fill_null(0),
        profiled=at.profile_of.count(),
        **{tag: at[tag].sum().cast("int64").fill_null(0) for tag in TAGS},
    )


@dataclass(frozen=True)
class Mart:
    name: str
    # the raw tables by name (and the rule set, for a mart of tiers and stages) -> the mart's rows
    build: Callable[..., ir.Table]
    by_rules: bool = False  # built with the rule set in force, which MART_RULES keeps

    def rows(self, tables: Callable[[str], ir.Table], rules: RuleSet) -> ir.Table:
        return self.build(tables, rules) if self.by_rules else self.build(tables)


BRANCH_MONTH = Mart(schema.BRANCH_MONTH, _branch_month)
SURVEY_MONTH = Mart(schema.SURVEY_MONTH, _survey_month)        # its channel column serves the channels filter
COMPLAINT_MONTH = Mart(schema.COMPLAINT_MONTH, _complaint_month)
TIER_MONTH = Mart(schema.TIER_MONTH, _tier_month, by_rules=True)
MARTS = (BRANCH_MONTH, SURVEY_MONTH, COMPLAINT_MONTH, TIER_MONTH)


def served(sl: Slice) -> bool:
    """Whether the marts can serve the slice: they narrow customers by region and branch only."""
    f = sl.filters
    return not (f.tiers or f.products or f.tags)


def built_with(tables: ScopedStore) -> str | None:
    """The rule set (RuleSet.to_json) the store's marts of tiers and stages were built with; None before any."""
    kept = tables.table(schema.MART_RULES).rules_json.execute()
    return kept.iloc[0] if len(kept) else None


def parts(sl: Slice, mart: Mart, *, from_raw: bool = False) -> ir.Table:
    """The rows of `mart` for the slice (every month; a view picks its months): from the mart itself where it
    serves the slice's filters (and, for a mart of tiers and stages, was built with the slice's rule set), else
    made from the slice's raw rows (`from_raw` forces that: the test that holds the two equal)."""
    if from_raw or not served(sl) or (mart.by_rules and built_with(sl.scoped) != sl.rules.to_json()):
        return mart.rows(sl.table, sl.rules)
    return sl.table(mart.name)  # the channels filter too, where the mart has the column
