"""The tables a bank can import, with their keys and the rules every row obeys.

One registry, read by the importer (validation and upsert), by the docs and
by the tests (which check it against the migrated store so the two cannot
drift apart).
"""

from __future__ import annotations

from dataclasses import dataclass

PRODUCTS = ("current", "savings", "term_deposit", "wealth_fund", "credit_card", "loan", "mortgage", "insurance")
FUNNEL_STAGES = ("lead", "contacted", "qualified", "applied", "approved", "activated")
CHANNELS = ("branch", "phone", "app", "wechat", "rm_call", "regulator")
TOUCHPOINTS = ("branch_counter", "call_center", "relationship_manager", "atm", "mobile_app")


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # "int" | "float" | "text" | "date" | "timestamp"
    required: bool = True
    min_value: float | None = None
    max_value: float | None = None
    choices: tuple[str, ...] | None = None
    max_length: int = 200
    pattern: str | None = None  # a regular expression the whole value must match
    pattern_rule: str = ""      # how to say the pattern to a person
    month_end: bool = False     # a date that must be the last day of its month
    pii: bool = False


@dataclass(frozen=True)
class Reference:
    column: str
    table: str


@dataclass(frozen=True)
class Order:
    """`later` must not be before `earlier` when both are given."""
    earlier: str
    later: str


@dataclass(frozen=True)
class TableSpec:
    name: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    references: tuple[Reference, ...] = ()
    orders: tuple[Order, ...] = ()

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)


def _money(name: str, *, required: bool = True) -> Column:
    return Column(name, "float", required=required, min_value=0)


_CODE = r"[A-Za-z0-9][A-Za-z0-9_-]*"
_CODE_RULE = "letters, digits, '-' and '_' only"

IMPORTABLE: dict[str, TableSpec] = {
    spec.name: spec
    for spec in (
        TableSpec(
            "branches",
            (
                Column("branch_code", "text", max_length=20, pattern=_CODE, pattern_rule=_CODE_RULE),
                Column("name", "text"),
                Column("name_en", "text"),
                Column("city", "text", max_length=50),
                Column("region", "text", max_length=50),
                Column("opened_on", "date", required=False),
            ),
            key=("branch_code",),
        ),
        TableSpec(
            "relationship_managers",
            (
                Column("rm_id", "text", max_length=30, pattern=_CODE, pattern_rule=_CODE_RULE),
                Column("branch_code", "text", max_length=20),
                Column("name", "text", max_length=100),
                Column("hired_on", "date", required=False),
            ),
            key=("rm_id",),
            references=(Reference("branch_code", "branches"),),
        ),
        TableSpec(
            "customers",
            (
                Column("customer_id", "int", min_value=1),
                Column("branch_code", "text", max_length=20),
                Column("rm_id", "text", required=False, max_length=30),
                Column("name", "text", max_length=100, pii=True),
                Column("gender", "text", required=False, choices=("M", "F")),
                Column("birth_date", "date", required=False),
                Column("phone", "text", required=False, max_length=20, pattern=r"\+?[0-9][0-9 -]{4,19}",
                       pattern_rule="digits, spaces and '-', optionally after a leading '+'", pii=True),
                Column("id_number", "text", required=False, max_length=18, pattern=r"[0-9]{17}[0-9Xx]",
                       pattern_rule="18 characters: 17 digits and a digit or X", pii=True),
                Column("city", "text", required=False, max_length=50),
                Column("opened_on", "date"),
                Column("closed_on", "date", required=False),
                Column("status", "text", required=False, choices=("active", "closed")),
            ),
            key=("customer_id",),
            references=(Reference("branch_code", "branches"), Reference("rm_id", "relationship_managers")),
            orders=(Order("birth_date", "opened_on"), Order("opened_on", "closed_on")),
        ),
        TableSpec(
            "accounts",
            (
                Column("account_id", "int", min_value=1),
                Column("customer_id", "int"),
                Column("product", "text", choices=PRODUCTS),
                Column("opened_on", "date"),
                Column("closed_on", "date", required=False),
                Column("maturity_on", "date", required=False),
            ),
            key=("account_id",),
            references=(Reference("customer_id", "customers"),),
            orders=(Order("opened_on", "closed_on"),),
        ),
        TableSpec(
            "monthly_balances",
            (
                Column("customer_id", "int"),
                Column("month", "date", month_end=True),
                _money("deposits_cny"),
                _money("investments_cny"),
                _money("insurance_cny"),
                _money("loans_cny"),
                Column("txn_count", "int", min_value=0),
                _money("txn_amount_cny"),
                Column("digital_logins", "int", min_value=0),
                Column("last_txn_on", "date", required=False),
                _money("term_deposits_cny", required=False),  # the part of deposits_cny in term deposits
                _money("inflow_cny", required=False),         # credited to the customer's accounts in the month
            ),
            key=("customer_id", "month"),
            references=(Reference("customer_id", "customers"),),
            orders=(Order("last_txn_on", "month"),),
        ),
        TableSpec(
            "interactions",
            (
                Column("interaction_id", "int", min_value=1),
                Column("customer_id", "int"),
                Column("rm_id", "text", required=False, max_length=30),
                Column("kind", "text", choices=("care_call", "visit", "message", "wechat")),
                Column("channel", "text", choices=CHANNELS),
                Column("occurred_at", "timestamp"),
                Column("note", "text", required=False, max_length=2000),
            ),
            key=("interaction_id",),
            references=(Reference("customer_id", "customers"), Reference("rm_id", "relationship_managers")),
        ),
        TableSpec(
            "campaigns",
            (
                Column("campaign_id", "text", max_length=40, pattern=_CODE, pattern_rule=_CODE_RULE),
                Column("name", "text"),
                Column("product", "text", choices=PRODUCTS),
                Column("channel", "text", choices=CHANNELS),
                Column("starts_on", "date"),
                Column("ends_on", "date"),
            ),
            key=("campaign_id",),
            orders=(Order("starts_on", "ends_on"),),
        ),
        TableSpec(
            "funnel_events",
            (
                Column("lead_id", "int", min_value=1),
                Column("campaign_id", "text", max_length=40),
                Column("customer_id", "int"),
                Column("rm_id", "text", required=False, max_length=30),
                Column("stage", "text", choices=FUNNEL_STAGES),
                Column("occurred_at", "timestamp"),
            ),
            key=("lead_id", "stage"),
            references=(
                Reference("campaign_id", "campaigns"),
                Reference("customer_id", "customers"),
                Reference("rm_id", "relationship_managers"),
            ),
        ),
        TableSpec(
            "surveys",
            (
                Column("survey_id", "int", min_value=1),
                Column("customer_id", "int"),
                Column("answered_at", "timestamp"),
                Column("touchpoint", "text", choices=TOUCHPOINTS),
                Column("channel", "text", choices=CHANNELS),
                Column("nps", "int", required=False, min_value=0, max_value=10),
                Column("csat", "int", required=False, min_value=1, max_value=5),
            ),
            key=("survey_id",),
            references=(Reference("customer_id", "customers"),),
        ),
        TableSpec(
            "complaints",
            (
                Column("complaint_id", "int", min_value=1),
                Column("customer_id", "int"),
                Column("category", "text", choices=("fees", "service", "system", "wealth_product", "card", "loan", "waiting")),
                Column("severity", "text", choices=("low", "medium", "high")),
                Column("channel", "text", choices=CHANNELS),
                Column("opened_at", "timestamp"),
                Column("resolved_at", "timestamp", required=False),
                Column("sla_days", "int", min_value=1, max_value=365),
            ),
            key=("complaint_id",),
            references=(Reference("customer_id", "customers"),),
            orders=(Order("opened_at", "resolved_at"),),
        ),
    )
}

# Tables of the facts store that are written by the application's own commands, never imported.
SCORED_TABLES = ("churn_scores", "product_scores")
