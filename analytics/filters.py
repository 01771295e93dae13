"""The global filters every view shares, and the tables they narrow.

`Filters` is what a person picked in the sidebar (and what a copied link
carries in its query parameters). `Slice(tables, filters, rules)` applies
them on top of a scope: it hands out tables narrowed the same way for every
page, so two pages never disagree about who "Wealth customers of Shanghai"
are.

What each filter means:
- period (`start`..`end`, month-ends): the months a view shows; `end` is
  also the "as of" month for the filters below. Analytics read the period
  from `slice.filters` themselves, because a comparison (last month, a year
  ago) must see months outside it.
- regions, branches: the customer's branch.
- tiers: the customer's tier at the as-of month, by the active rule set.
- products: customers holding an open account of one of the products at the
  as-of month.
- channels: events that came through one of the channels (interactions,
  surveys, complaints, and funnel leads by their campaign's channel).
- tags: customers carrying every one of the behaviour tags (analytics.tags),
  as of their latest month-end, by the active rule set.
An empty choice means "all" (and for tags, "whatever tags").
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace

import ibis
import ibis.expr.types as ir
import pandas as pd

from analytics.rules import ALL_TIERS, DEFAULT_RULES, RuleSet, tier
from analytics.schema import CHANNELS, PRODUCTS
from analytics.scope import AGGREGATED, BRANCH_SCOPED, CUSTOMER_SCOPED, ScopedStore
from analytics.tags import TAGS, flags, profiles

CHOICES = ("regions", "branches", "tiers", "products", "channels", "tags")
KNOWN = {"tiers": ALL_TIERS, "products": PRODUCTS, "channels": CHANNELS, "tags": TAGS}


def sort_choices(spec, names) -> None:
    """Sort and deduplicate the tuple fields `names` of a frozen dataclass, so equal choices are equal cache keys."""
    for name in names:
        object.__setattr__(spec, name, tuple(sorted(set(getattr(spec, name)))))


def refuse_unknown(spec, known: dict, error: type[ValueError]) -> None:
    """Raise `error` naming the first field of `known` (field -> what it may hold) with a value it may not."""
    for name, allowed in known.items():
        if unknown := [v for v in getattr(spec, name) if v not in allowed]:
            raise error(f"{name}: unknown {', '.join(map(repr, unknown))}; known: {', '.join(allowed)}")


class BadFilter(ValueError):
    pass


@dataclass(frozen=True)
class Filters:
    start: dt.date | None = None   # first month-end shown (None: from the first month)
    end: dt.date | None = None     # last month-end shown and the as-of month (None: the latest)
    regions: tuple[str, ...] = ()
    branches: tuple[str, ...] = ()
    tiers: tuple[str, ...] = ()
    products: tuple[str, ...] = ()
    channels: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()

    def __post_init__(self):
        for name in ("start", "end"):  # any day names its month: series are keyed by month-end
            if (day := getattr(self, name)) is not None:
                object.__setattr__(self, name, (pd.Timestamp(day) + pd.offsets.MonthEnd(0)).date())
        sort_choices(self, CHOICES)
        refuse_unknown(self, KNOWN, BadFilter)
        if self.start and self.end and self.start > self.end:
            raise BadFilter(f"period: start {self.start} is after end {self.end}")

    @property
    def narrows_customers(self) -> bool:
        return bool(self.regions or self.branches or self.tiers or self.products or self.tags)

    def to_query(self) -> dict[str, str]:
        """Query parameters for a link that opens the same view; defaults are left out."""
        query = {name: ",".join(getattr(self, name)) for name in CHOICES if getattr(self, name)}
        query.update({name: getattr(self, name).isoformat() for name in ("start", "end") if getattr(self, name)})
        return query

    @classmethod
    def from_query(cls, query: dict[str, str]) -> Filters:
        """The reverse of `to_query`; a bad value raises BadFilter naming the parameter."""
        values = {}
        for name in ("start", "end"):
            if text := query.get(name):
                try:
                    values[name] = dt.date.fromisoformat(text)
                except ValueError:
                    raise BadFilter(f"{name}: {text!r} is not a date (YYYY-MM-DD)") from None
        for name in CHOICES:
            if text := query.get(name):
                values[name] = tuple(v for v in text.split(",") if v)
        return cls(**values)

    def but(self, **changes) -> Filters:
        return replace(self, **changes)


ALL = Filters()


class Slice:
    """The tables of one scope, narrowed by the filters, read with one rule set."""

    def __init__(self, tables: ScopedStore, filters: Filters = ALL, rules: RuleSet = DEFAULT_RULES):
        self.scoped = tables
        self.scope = tables.scope
        self.filters = filters
        self.rules = rules

    def as_of(self) -> ir.DateScalar:
        """The as-of month-end: the period's end, or the latest month-end in scope."""
        if self.filters.end:
            return ibis.literal(self.filters.end, type="date")
        return self._latest()

    def _latest(self) -> ir.DateScalar:
        """The latest month-end of customer_month in scope, read from branch_month (its rows counted there)."""
        months = self.scoped.table("branch_month")
        return months.filter(months.rows > 0).month.max()

    def as_of_date(self) -> dt.date | None:
        """`as_of()` as a value. Never execute the literal `as_of()` itself: a literal has no store, so
        Ibis would run it on its default backend, one DuckDB connection shared by every thread."""
        if self.filters.end:
            return self.filters.end
        latest = self._latest().execute()
        return None if pd.isna(latest) else pd.Timestamp(latest).date()

    def in_period(self, when: ir.TimestampValue | ir.DateValue) -> ir.BooleanValue:
        """Whether a date or timestamp falls in the period's months (true for every time when unset)."""
        keep = ibis.literal(True)
        if self.filters.start:
            keep &= when >= ibis.literal(self.filters.start.replace(day=1), type="date").cast(when.type())
        if self.filters.end:
            keep &= when < ibis.literal(self.filters.end + dt.timedelta(days=1), type="date").cast(when.type())
        return keep

    def customers(self) -> ir.Table | None:
        """customer_id of the customers the filters keep; None when they keep every customer in scope."""
        f = self.filters
        if not f.narrows_customers:
            return None
        kept = self.scoped.table("customers").select("customer_id", "branch_code")
        if f.regions:
            in_region = self.scoped.table("branches").filter(lambda b: b.region.isin(f.regions))
            kept = kept.semi_join(in_region.select("branch_code"), "branch_code")
        if f.branches:
            kept = kept.filter(kept.branch_code.isin(f.branches))
        kept = kept.select("customer_id")
        if f.tiers:
            cm = self.scoped.table("customer_month")
            at = cm.filter(cm.month == self.as_of())
            at = at.filter(tier(at, self.rules).isin(f.tiers))
            kept = kept.semi_join(at.select("customer_id"), "customer_id")
        if f.products:
            a = self.scoped.table("accounts")
            as_of = self.as_of()
            held = a.filter(a["product"].isin(f.products) & (a.opened_on <= as_of)
                            & (a.closed_on.isnull() | (a.closed_on > as_of)))
            kept = kept.semi_join(held.select("customer_id"), "customer_id")
        if f.tags:
            profile = profiles(self.scoped.table("customer_current"))
            carries = flags(profile, self.rules)
            kept = kept.semi_join(profile.filter(*(carries[tag] for tag in f.tags)).select("customer_id"), "customer_id")
        return kept

    def table(self, name: str) -> ir.Table:
        return self.narrow(name, self.scoped.table(name))

    def narrow(self, name: str, t: ir.Table) -> ir.Table:
        """`t`, rows of the scoped table `name`, narrowed by the filters."""
        f = self.filters
        if name in AGGREGATED and (f.tiers or f.products or f.tags):
            raise ValueError(f"{name} holds no customer to narrow by tier, product or tag (analytics.measures.parts)")
        if name in ("branches", "relationship_managers", *AGGREGATED):  # narrowed by their branch_code
            if f.regions:
                in_region = self.scoped.table("branches").filter(lambda b: b.region.isin(f.regions))
                t = t.semi_join(in_region.select("branch_code"), "branch_code")
            if f.branches:
                t = t.filter(t.branch_code.isin(f.branches))
        elif name in BRANCH_SCOPED or name in CUSTOMER_SCOPED:
            if (kept := self.customers()) is not None:
                t = t.semi_join(kept, "customer_id")
        if f.channels:
            if name in ("funnel_events", "funnel_leads"):
                campaigns = self.scoped.table("campaigns").filter(lambda c: c.channel.isin(f.channels))
                t = t.semi_join(campaigns.select("campaign_id"), "campaign_id")
            elif "channel" in t.columns:
                t = t.filter(t.channel.isin(f.channels))
        return t


def month_end(when: ir.TimestampValue | ir.DateValue) -> ir.DateValue:
    """The month-end a date or timestamp belongs to: monthly series are keyed by month-end."""
    return when.cast("date").truncate("M") + ibis.interval(months=1) - ibis.interval(days=1)


@dataclass(frozen=True)
class Options:
    """What the sidebar offers: the months with data and the branches in scope."""
    months: tuple[dt.date, ...]
    branches: pd.DataFrame  # branch_code, name, name_en, region
    regions: tuple[str, ...]


def options(tables: ScopedStore) -> Options:
    held = tables.table("branch_month")  # the months of customer_month, counted there
    # a group-by, not distinct(): Ibis 12 on Spark compiles a distinct over a filtered projection to a DISTINCT over
    # every column of the filter (one row per month and row count)
    months = held.filter(held.rows > 0).group_by("month").aggregate().order_by("month").execute()
    branches = tables.table("branches").select("branch_code", "name", "name_en", "region").order_by("branch_code")
    branches = branches.execute()
    return Options(tuple(pd.to_datetime(months["month"]).dt.date), branches, tuple(sorted(branches.region.unique())))


DEFAULT_MONTHS = 13  # this month and the same month a year earlier


def default_period(months: tuple[dt.date, ...]) -> tuple[dt.date, dt.date]:
    """The period every page opens with: the latest month and the same month a year earlier."""
    return months[max(0, len(months) - DEFAULT_MONTHS)], months[-1]


def period(filters: Filters, months: tuple[dt.date, ...]) -> tuple[dt.date, dt.date] | None:
    """The period's first and last month-end among `months`, or None when it holds no month."""
    inside = [m for m in months if (filters.start is None or m >= filters.start)
              and (filters.end is None or m <= filters.end)]
    return (inside[0], inside[-1]) if inside else None

