"""The tables a bank can import, with their keys and the rules every row obeys, and the data class of every
column of the store.

One registry, read by the importer (validation and upsert), by the scope
(masking), by the docs and by the tests (which check it against the migrated
store so the two cannot drift apart).

Data classes follow the Chinese standard for personal financial information,
JR/T 0171-2020:
- C3, authentication data (passwords, keys): never in the facts store; the
  users file holds bcrypt hashes only.
- C2, data that identifies a customer or describes their finances. Each
  identifying C2 field carries a `mask`: how a role without the right to
  see customer PII is shown it (the rules are in `analytics.scope.MASKS`).
  Financial C2 fields (balances, transactions, holdings, scores) have no
  mask: every role that sees customers sees them.
- C1, the bank's internal data: branches, staff, campaigns, codes, dates.
"""

from __future__ import annotations

from dataclasses import dataclass, field

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
    data_class: str | None = None  # C1 | C2 | C3 (see above); None: the table's
    mask: str | None = None        # identifying fields: a key of analytics.scope.MASKS


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
    data_class: str = "C1"  # of the columns that do not name their own

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    @property
    def classes(self) -> dict[str, str]:
        return {c.name: c.data_class or self.data_class for c in self.columns}

    @property
    def masks(self) -> dict[str, str]:
        return {c.name: c.mask for c in self.columns if c.mask}


C1, C2, C3 = "C1", "C2", "C3"
DATA_CLASSES = (C1, C2, C3)


def _money(name: str, *, required: bool = True) -> Column:
    return Column(name, "float", required=required, min_value=0)


def _customer_id(**rules) -> Column:
    """The bank's customer number: identifies a customer inside the bank (pseudonymised for analysts)."""
    return Column("customer_id", "int", data_class=C2, mask="customer", **rules)


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
                _customer_id(min_value=1),
                Column("branch_code", "text", max_length=20, data_class=C1),
                Column("rm_id", "text", required=False, max_length=30, data_class=C1),
                Column("name", "text", max_length=100, mask="name"),
                Column("gender", "text", required=False, choices=("M", "F")),
                Column("birth_date", "date", required=False, mask="hidden"),
                Column("phone", "text", required=False, max_length=20, pattern=r"\+?[0-9][0-9 -]{4,19}",
                       pattern_rule="digits, spaces and '-', optionally after a leading '+'", mask="last4"),
                Column("id_number", "text", required=False, max_length=18, pattern=r"[0-9]{17}[0-9Xx]",
                       pattern_rule="18 characters: 17 digits and a digit or X", mask="last4"),
                # the city of a branch the customer banks at, not an address: it says no more than the branch
                Column("city", "text", required=False, max_length=50),
                Column("opened_on", "date"),
                Column("closed_on", "date", required=False),
                Column("status", "text", required=False, choices=("active", "closed")),
            ),
            key=("customer_id",),
            references=(Reference("branch_code", "branches"), Reference("rm_id", "relationship_managers")),
            orders=(Order("birth_date", "opened_on"), Order("opened_on", "closed_on")),
            data_class=C2,
        ),
        TableSpec(
            "accounts",
            (
                Column("account_id", "int", min_value=1),
                _customer_id(),
                Column("product", "text", choices=PRODUCTS),
                Column("opened_on", "date"),
                Column("closed_on", "date", required=False),
                Column("maturity_on", "date", required=False),
            ),
            key=("account_id",),
            references=(Reference("customer_id", "customers"),),
            orders=(Order("opened_on", "closed_on"),),
            data_class=C2,
        ),
        TableSpec(
            "monthly_balances",
            (
                _customer_id(),
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
            data_class=C2,
        ),
        TableSpec(
            "interactions",
            (
                Column("interaction_id", "int", min_value=1),
                _customer_id(),
                Column("rm_id", "text", required=False, max_length=30),
                Column("kind", "text", choices=("care_call", "visit", "message", "wechat")),
                Column("channel", "text", choices=CHANNELS),
                Column("occurred_at", "timestamp"),
                Column("note", "text", required=False, max_length=2000, mask="hidden"),  # free text may hold anything
            ),
            key=("interaction_id",),
            references=(Reference("customer_id", "customers"), Reference("rm_id", "relationship_managers")),
            data_class=C2,
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
                _customer_id(),
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
            data_class=C2,
        ),
        TableSpec(
            "surveys",
            (
                Column("survey_id", "int", min_value=1),
                _customer_id(),
                Column("answered_at", "timestamp"),
                Column("touchpoint", "text", choices=TOUCHPOINTS),
                Column("channel", "text", choices=CHANNELS),
                Column("nps", "int", required=False, min_value=0, max_value=10),
                Column("csat", "int", required=False, min_value=1, max_value=5),
            ),
            key=("survey_id",),
            references=(Reference("customer_id", "customers"),),
            data_class=C2,
        ),
        TableSpec(
            "complaints",
            (
                Column("complaint_id", "int", min_value=1),
                _customer_id(),
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
            data_class=C2,
        ),
    )
}

# Tables of the facts store that are written by the application's own commands, never imported.
SCORED_TABLES = ("churn_scores", "product_scores")


@dataclass(frozen=True)
class Built:
    """A table the application builds itself (marts, scores, segments): its columns' class, and the masks of its
    identifying columns."""
    name: str
    data_class: str
    masks: dict[str, str] = field(default_factory=dict)


_OF_A_CUSTOMER = {"customer_id": "customer"}
# The marts of figures that add up (analytics.measures): one row per month, branch and more, no customer in them.
BRANCH_MONTH, SURVEY_MONTH, COMPLAINT_MONTH, TIER_MONTH = AGGREGATED = (
    "branch_month", "survey_month", "complaint_month", "tier_month")
MART_RULES = "mart_rules"  # the rule set tier_month was built with
BUILT: dict[str, Built] = {
    b.name: b
    for b in (
        Built("customer_month", C2, _OF_A_CUSTOMER),
        Built("customer_current", C2, {**_OF_A_CUSTOMER, "age_years": "age_band"}),
        Built("customer_segments", C2, _OF_A_CUSTOMER),
        Built("found_segments", C1),  # profiles of whole segments
        Built("funnel_leads", C2, _OF_A_CUSTOMER),
        *(Built(name, C1) for name in AGGREGATED),  # sums over customers (analytics.measures)
        Built(MART_RULES, C1),
        Built("churn_scores", C2, _OF_A_CUSTOMER),  # reasons name an age by its 10-year band only
        Built("product_scores", C2, _OF_A_CUSTOMER),
        Built("customer_pseudonyms", C2),  # never served: the key from a pseudonym back to the customer
        Built("schema_version", C1),
    )
}


def classes(table: str, columns) -> dict[str, str]:
    """The data class of each of `columns` of a store table."""
    if table in IMPORTABLE:
        return IMPORTABLE[table].classes
    return dict.fromkeys(columns, BUILT[table].data_class)


def masks(table: str) -> dict[str, str]:
    """The identifying columns of a store table and how a role without the right to see PII is shown them
    (keys of analytics.scope.MASKS)."""
    return IMPORTABLE[table].masks if table in IMPORTABLE else BUILT[table].masks
