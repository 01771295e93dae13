"""Who may see what: the only way store tables reach analytics.

A `Scope` says which branches a person may see and whether they may see
customer PII. `ScopedStore(backend, scope).table(name)` hands out a table
already narrowed to those branches and with PII masked; analytics functions
take a ScopedStore and never see the backend. Every table of the store is
named in exactly one of the lists below, and a test walks the store to make
sure no new table slips past unlisted.

Masking reads the data class of each column (`analytics.schema`): every
identifying field names its mask, and `MASKS` says, once, how each mask
shows the field to a role that may not see customer PII ("masked":
executives) or sees customers only by pseudonym ("pseudonym": analysts).
Together the shown fields give back nothing a mask hides: an ID number
keeps its last 4 characters only (its other digits are the region and the
birth date), the birth date is not shown, an age reads as its 10-year band,
and free text (notes) is not shown. An analyst sees every customer, in
every table, by a pseudonym in place of the customer id, so no figure, link
or download carries the real id.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace

import ibis
import ibis.expr.types as ir
import pandas as pd

from analytics import permissions, schema
from analytics.schema import AGGREGATED

# Tables with their own branch_code column.
BRANCH_SCOPED = ("branches", "relationship_managers", "customers", "customer_month", "customer_current", *AGGREGATED)
# Tables that belong to a customer: narrowed to the customers in scope.
CUSTOMER_SCOPED = ("accounts", "monthly_balances", "interactions", "funnel_events", "funnel_leads", "surveys",
                   "complaints", "churn_scores", "product_scores", "customer_segments")
# The same for everyone; they hold no customer data.
GLOBAL = ("campaigns", "schema_version", "found_segments", schema.MART_RULES)
# Never served: the way from a pseudonym back to the customer.
INTERNAL = ("customer_pseudonyms",)

PII_MODES = ("shown", "masked", "pseudonym")
PSEUDONYMS = "customer_pseudonyms"


class OutOfScope(PermissionError):
    pass


@dataclass(frozen=True)
class Scope:
    user: str
    role: str
    branch_codes: frozenset[str] | None  # None: every branch
    pii: str = "masked"                  # one of PII_MODES

    def __post_init__(self):
        if self.pii not in PII_MODES:
            raise ValueError(f"pii must be one of {PII_MODES}")

    def customer_key(self, text) -> int | str:
        """The customer a link or a pick names, as this scope's tables hold them: the pseudonym for a
        pseudonymised role, else the customer id. Anything else is refused as a customer not in scope."""
        text = str(text).strip()
        if self.pii == "pseudonym":
            if re.fullmatch(PSEUDONYM, text):
                return text
        elif re.fullmatch(r"[0-9]{1,18}", text):
            return int(text)
        raise OutOfScope(f"customer {text[:40]!r} is not in your scope")

    @property
    def access(self) -> Scope:
        """The scope without the person: what every figure depends on (which branches, which role's rights, how
        PII shows), so that people with the same access share figures computed once."""
        return replace(self, user="")

    @classmethod
    def all_branches(cls, user: str = "system", role: str = "executive", *, pii: str = "masked") -> Scope:
        return cls(user, role, None, pii)

    @classmethod
    def for_branches(cls, branch_codes, user: str = "system", role: str = "branch_head", *, pii: str = "shown") -> Scope:
        return cls(user, role, frozenset(branch_codes), pii)


MIN_PEERS = 3  # other branches the bank's figures must hold before a narrower scope sees them (ScopedStore.standing)


@dataclass(frozen=True)
class Standing:
    """Where a scope's branches stand among all the bank's branches: aggregates only (ScopedStore.standing)."""
    bank: dict[str, float]  # each figure over every branch; empty when too few other branches would be in it
    ranks: dict[str, int]   # each of the scope's branches that was ranked -> its rank among all, 1 the first
    branches: int           # how many branches were ranked


class ScopedStore:
    """Tables of one backend, as one scope may see them.

    `added` holds rows the app's state store adds to a facts table (the campaigns and leads of lists saved
    in the app: analytics.campaigns.added_rows); they are scoped like the table's own rows."""

    def __init__(self, backend: ibis.BaseBackend, scope: Scope, added: Mapping[str, pd.DataFrame] | None = None):
        self._backend = backend
        self.scope = scope
        self._added = {name: rows for name, rows in (added or {}).items() if len(rows)}

    def _source(self, name: str) -> ir.Table:
        t = self._backend.table(name)
        if name in self._added:
            # distinct: rows the state store adds are unique by key anyway, and it keeps DuckDB 1.5 from pushing a
            # join's bloom filter into the Arrow scan, which it cannot do yet (duckdb-python#463)
            t = t.union(ibis.memtable(self._added[name][list(t.columns)]).cast(t.schema()).distinct())
        return t

    def table(self, name: str) -> ir.Table:
        if name not in (*BRANCH_SCOPED, *CUSTOMER_SCOPED, *GLOBAL):
            raise OutOfScope(f"table {name!r} is not served to analytics")
        return self._scoped(name, self._source(name))

    def added(self, name: str) -> ir.Table | None:
        """Only the rows the state store adds to the facts table `name`, scoped like the table (None: none)."""
        if name not in self._added:
            return None
        schema = self._backend.table(name).schema()
        return self._scoped(name, ibis.memtable(self._added[name][list(schema.names)]).cast(schema))

    def _scoped(self, name: str, t: ir.Table) -> ir.Table:
        if self.scope.branch_codes is not None:
            if name in BRANCH_SCOPED:
                t = t.filter(t.branch_code.isin(sorted(self.scope.branch_codes)))
            elif name in CUSTOMER_SCOPED:
                t = t.semi_join(self._in_branches(), "customer_id")
        return self._masked(name, t)

    def standing(self, parts: Callable[[ScopedStore], ir.Table], figures: Callable[[ir.Table], ir.Table],
                 rank_by: str) -> Standing:
        """The bank's figures and the rank of each of the scope's branches among all branches, and nothing else:
        the one way anything about branches outside the scope reaches analytics ("branches:compare").

        `parts(store)` gives one row per branch of `store`: branch_code and numbers that add up over branches
        (customers, AUM, answers...); here it reads a store of every branch, which never leaves this method.
        `figures(table)` adds the figures made of those parts (a rate: churned / at start). The bank's figures
        are `figures` of the parts summed over every branch; branches rank by `rank_by` of their figures, largest
        first (ties by code), those without one unranked. The returned ranks are of the scope's branches only.

        The bank's figures less one's own would be the other branches' together: with fewer than MIN_PEERS of
        them ranked, that sum is nearly one branch's figures, so a scope narrower than the bank gets none."""
        permissions.check(self.scope.role, "branches:compare")
        everyone = ScopedStore(self._backend, replace(self.scope, branch_codes=None), self._added)
        per_branch = parts(everyone)
        kinds = per_branch.schema()
        numbers = [name for name in per_branch.columns if name != "branch_code"]
        if words := [name for name in numbers if not kinds[name].is_numeric()]:
            raise ValueError(f"standing adds up numbers only; {', '.join(words)} would leave with the bank's figures")
        bank = figures(per_branch.aggregate(**{name: per_branch[name].sum() for name in numbers})).execute()
        ranked = figures(per_branch)
        ranked = ranked.filter(ranked[rank_by].notnull())
        ranked = ranked.mutate(rank=ibis.row_number().over(order_by=[ibis.desc(rank_by), "branch_code"]) + 1)
        mine = ranked if self.scope.branch_codes is None else ranked.filter(
            ranked.branch_code.isin(sorted(self.scope.branch_codes)))
        ranks = mine.select("branch_code", "rank").execute()
        branches = int(ranked.count().execute())
        few = 0 < branches - len(ranks) < MIN_PEERS
        return Standing(bank={} if few else bank.iloc[0].to_dict(),
                        ranks=dict(zip(ranks.branch_code, ranks["rank"].astype(int))), branches=branches)

    def _in_branches(self) -> ir.Table:
        customers = self._source("customers")
        return customers.filter(customers.branch_code.isin(sorted(self.scope.branch_codes))).select("customer_id")

    def _masked(self, name: str, t: ir.Table) -> ir.Table:
        if self.scope.pii == "shown":
            return t
        shown = {column: MASKS[m][self.scope.pii] for column, m in schema.masks(name).items() if column in t.columns}
        shown = {column: how for column, how in shown.items() if how is not None}
        if not shown:
            return t
        if any(how is _pseudonym for how in shown.values()):
            keys = self._backend.table(PSEUDONYMS)
            t = t.join(keys, "customer_id")  # every customer has one (analytics.marts)
        masked = t.mutate(**{column: how(t, column) for column, how in shown.items()})
        return masked.drop("pseudonym") if "pseudonym" in masked.columns else masked


PSEUDONYM = r"C-[0-9A-F]{16}"  # what an analyst sees in place of a customer id and a name (a regular expression)


def pseudonym(customer_id: ir.IntegerValue, key: str) -> ir.StringValue:
    """A customer's pseudonym: 16 hex digits of a keyed SHA-256 of the customer id, the same for the same
    customer every time (so an analyst can follow a customer across pages and sessions without learning who
    it is) and not guessable without the key. SHA-256, not the engine's hash(): the same code on DuckDB and on
    Spark, and across their versions. Built once per store version with the marts (analytics.marts)."""
    digest = (ibis.literal(key + ":") + customer_id.cast("string")).hexdigest("sha256")
    return ibis.literal("C-") + digest.substr(0, 16).upper()


def _pseudonym(t: ir.Table, column: str) -> ir.StringValue:
    return t.pseudonym


def _surname(t: ir.Table, column: str) -> ir.StringValue:
    return t[column].substr(0, 1) + "**"


def _last4(t: ir.Table, column: str) -> ir.StringValue:
    value = t[column]
    return ibis.literal("*" * 14).substr(0, (value.length() - 4).clip(lower=0)) + value.right(4)


def _hidden(t: ir.Table, column: str) -> ir.Value:
    return ibis.null(t[column].type())


def _age_band(t: ir.Table, column: str) -> ir.IntegerValue:
    return (t[column] // AGE_BAND_YEARS * AGE_BAND_YEARS).cast(t[column].type())


AGE_BAND_YEARS = 10


def age_band(years: float) -> int:
    """The start of the 10-year band an age falls in (34.6 -> 30): how an age reads wherever a role without PII
    might see it (churn reasons read it so for everyone)."""
    return int(years // AGE_BAND_YEARS * AGE_BAND_YEARS)

# How a role without the right to see customer PII is shown each kind of identifying field (schema.Column.mask):
# per PII mode, a function of (table, column), or None to show the field as it is.
MASKS: dict[str, dict[str, object]] = {
    "customer": {"masked": None, "pseudonym": _pseudonym},      # the customer number
    "name": {"masked": _surname, "pseudonym": _pseudonym},      # 张**, or the pseudonym
    "last4": {"masked": _last4, "pseudonym": _last4},           # *******5678
    "hidden": {"masked": _hidden, "pseudonym": _hidden},        # birth date, free text
    "age_band": {"masked": _age_band, "pseudonym": _age_band},  # 30 for 30-39
}
