"""Who may see what: the only way store tables reach analytics.

A `Scope` says which branches a person may see and whether they may see
customer PII. `ScopedStore(backend, scope).table(name)` hands out a table
already narrowed to those branches and with PII masked; analytics functions
take a ScopedStore and never see the backend. Every table of the store is
named in exactly one of the lists below, and a test walks the store to make
sure no new table slips past unlisted.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

import ibis
import ibis.expr.types as ir
import pandas as pd

# Tables with their own branch_code column.
BRANCH_SCOPED = ("branches", "relationship_managers", "customers", "customer_month", "customer_current")
# Tables that belong to a customer: narrowed to the customers in scope.
CUSTOMER_SCOPED = ("accounts", "monthly_balances", "interactions", "funnel_events", "surveys", "complaints",
                   "churn_scores", "product_scores", "customer_segments")
# The same for everyone; they hold no customer data.
GLOBAL = ("campaigns", "schema_version", "found_segments")

PII_COLUMNS = {"customers": ("name", "phone", "id_number")}
PII_MODES = ("shown", "masked", "pseudonym")
DEMO_PSEUDONYM_KEY = "bankcrm-demo-pseudonyms"


def pseudonym_key() -> str:
    """The secret that makes pseudonyms stable across sessions but not guessable: $BANKCRM_PSEUDONYM_KEY."""
    return os.environ.get("BANKCRM_PSEUDONYM_KEY", DEMO_PSEUDONYM_KEY)


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

    @classmethod
    def all_branches(cls, user: str = "system", role: str = "executive", *, pii: str = "masked") -> Scope:
        return cls(user, role, None, pii)

    @classmethod
    def for_branches(cls, branch_codes, user: str = "system", role: str = "branch_head", *, pii: str = "shown") -> Scope:
        return cls(user, role, frozenset(branch_codes), pii)


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
            t = t.union(ibis.memtable(self._added[name][list(t.columns)]).cast(t.schema()))
        return t

    def table(self, name: str) -> ir.Table:
        if name in BRANCH_SCOPED:
            t = self._source(name)
            if self.scope.branch_codes is not None:
                t = t.filter(t.branch_code.isin(sorted(self.scope.branch_codes)))
        elif name in CUSTOMER_SCOPED:
            t = self._source(name)
            if self.scope.branch_codes is not None:
                t = t.semi_join(self.table("customers").select("customer_id"), "customer_id")
        elif name in GLOBAL:
            t = self._source(name)
        else:
            raise OutOfScope(f"table {name!r} is not served to analytics")
        if self.scope.pii != "shown" and name in PII_COLUMNS:
            t = t.mutate(**{c: mask(t, c, self.scope.pii) for c in PII_COLUMNS[name]})
        return t


PSEUDONYM = r"C-[0-9A-F]{12}"  # what an analyst sees in place of a name (a regular expression)


def mask(t: ir.Table, column: str, mode: str) -> ir.StringValue:
    """Keep what identifies nobody: a surname's first character, a phone's last 4 digits.

    In "pseudonym" mode a name becomes a code that is the same for the same
    customer every time (12 hex digits of a keyed SHA-256 of the customer id),
    so an analyst can follow a customer across pages and sessions without
    learning who it is.
    """
    value = t[column]
    if column == "name":
        if mode == "pseudonym":
            # SHA-256, not the engine's hash(): the same code on DuckDB and on Spark, and across their versions
            digest = (ibis.literal(pseudonym_key() + ":") + t.customer_id.cast("string")).hexdigest("sha256")
            return ibis.literal("C-") + digest.substr(0, 12).upper()
        return value.substr(0, 1) + "**"
    if column == "phone":
        return ibis.literal("*******") + value.right(4)
    return value.substr(0, 6) + "********" + value.right(4)
