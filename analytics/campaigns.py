"""Campaign lists: who should hear about which product next, saved as leads the funnel follows.

A list starts from the newest next-best-product scores in scope (analytics.nextbest): current customers
who lack `product` and whose probability of opening it within 3 months is at least `min_probability`,
narrowed by tier, branch, relationship manager, tags, lifecycle stage and found segment, as of the
latest month-end (tags: each customer's latest) by the active rule set. It keeps the `size` likeliest customers.

Contact hygiene leaves out customers with an open complaint, those contacted (an interaction, or a funnel
event at 'contacted') in the rule set's `contact_quiet_days` up to the store's latest day, and those who
became a lead of a campaign in the `contact_quiet_days` up to now (a list saved here counts at once);
the preview says how many for each reason.

Saving writes the campaign and one lead per listed customer (stage 'lead', owner = the customer's
relationship manager) into the state store, with the audit row, in one transaction. `added_rows` hands
them to the scoped store, which reads them beside the facts' own campaigns and funnel events, so the
Funnel page follows the campaign through its stages as the bank's funnel events for its leads arrive.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict, dataclass

import ibis
import ibis.expr.types as ir
import pandas as pd
from ibis import _

from analytics import export, nextbest, permissions
from analytics.filters import Slice, refuse_unknown, sort_choices
from analytics.portfolio import current
from analytics.rules import ALL_TIERS, STAGES, tier
from analytics.schema import CHANNELS, PRODUCTS
from analytics.scope import OutOfScope, Scope
from analytics.state import StateStore, append_audit, utc_now
from analytics.tags import TAGS, tagged

MAX_SIZE = 5_000            # customers a list keeps at most, the likeliest first
LEAD_IDS_FROM = 10 ** 15    # saved leads are numbered from here, apart from the ids of a bank's own leads
CAMPAIGN_DAYS = 91          # a saved campaign runs for the 3 months the propensities look ahead
REASONS = ("open_complaint", "contacted", "listed")  # why contact hygiene leaves a customer out
OFFERED = tuple(p for p in PRODUCTS if p != "current")  # everyone holds a current account
LISTABLE_STAGES = tuple(s for s in STAGES if s != "Churned")


class BadList(ValueError):
    pass


@dataclass(frozen=True)
class ListSpec:
    """What makes a list; empty choices mean "any". Part of the cache key, so sorted tuples."""
    product: str
    min_probability: float = 0.0
    size: int = MAX_SIZE
    tiers: tuple[str, ...] = ()
    branches: tuple[str, ...] = ()
    rms: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    stages: tuple[str, ...] = ()
    segments: tuple[int, ...] = ()

    def __post_init__(self):
        sort_choices(self, ("tiers", "branches", "rms", "tags", "stages", "segments"))
        if self.product not in OFFERED:
            raise BadList(f"product: unknown {self.product!r}; known: {', '.join(OFFERED)}")
        if not 0 <= self.min_probability <= 1:
            raise BadList(f"min_probability: {self.min_probability} is not between 0 and 1")
        if not isinstance(self.size, int) or not 1 <= self.size <= MAX_SIZE:
            raise BadList(f"size: {self.size!r} is not a whole number from 1 to {MAX_SIZE}")
        refuse_unknown(self, {"tiers": ALL_TIERS, "tags": TAGS, "stages": LISTABLE_STAGES}, BadList)

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)


@dataclass(frozen=True)
class Preview:
    matched: int                # customers the filters and the minimum propensity select
    left_out: dict[str, int]    # per REASONS: matched customers contact hygiene leaves out (one may have several)
    left_out_total: int         # matched customers left out for any reason
    listed: pd.DataFrame        # the list: the `size` likeliest of the rest (MEMBER_COLUMNS, likeliest first)
    by_rm: pd.DataFrame         # rm_id, rm_name, branch_code, customers, expected: the workload per RM
    expected: float             # expected conversions: the sum of the listed customers' probabilities
    quiet_days: int
    contacts_to: dt.date | None  # the store's latest day: contacts are counted up to it
    scores_as_of: dt.date | None
    model_version: str | None

    @property
    def eligible(self) -> int:
        return self.matched - self.left_out_total


def _candidates(sl: Slice, spec: ListSpec, contacts_to: dt.date | None) -> ir.Table:
    """Current customers in scope the spec selects, with the product's probability, their branch, RM and
    hygiene flags (open_complaint, contacted, listed)."""
    offers = nextbest.latest(sl)
    offers = offers.filter((offers["product"] == spec.product) & (offers.probability >= spec.min_probability))
    if spec.stages:  # the stage reads the churn scores: joined only when asked for
        now = current(sl).filter(_.stage.isin(spec.stages))
    else:
        cm = sl.table("customer_month")
        now = cm.filter((cm.month == sl.as_of()) & ~cm.is_churned)
        now = now.mutate(tier=tier(now, sl.rules))
    if spec.branches:
        now = now.filter(now.branch_code.isin(spec.branches))
    if spec.rms:
        now = now.filter(now.rm_id.isin(spec.rms))
    if spec.tiers:
        now = now.filter(now.tier.isin(spec.tiers))
    if spec.tags:
        carrying = tagged(sl)
        now = now.semi_join(carrying.filter(*(carrying[tag] for tag in spec.tags)), "customer_id")
    if spec.segments:
        now = now.semi_join(sl.table("customer_segments").filter(_.segment.isin(spec.segments)), "customer_id")
    complaints = sl.table("customer_current").select("customer_id", "open_complaints")
    chosen = (now.select("customer_id", "branch_code", "rm_id")
              .join(offers.select("customer_id", "probability", "reasons_json", "as_of", "model_version"), "customer_id")
              .left_join(complaints, "customer_id").drop("customer_id_right"))
    return _hygiene(sl, chosen, contacts_to)


def _hygiene(sl: Slice, chosen: ir.Table, contacts_to: dt.date | None) -> ir.Table:
    days = sl.rules.contact_quiet_days
    contacted = listed = ibis.literal(False)
    if days and contacts_to:
        since = ibis.literal(dt.datetime.combine(contacts_to - dt.timedelta(days=days - 1), dt.time()))
        until = ibis.literal(dt.datetime.combine(contacts_to + dt.timedelta(days=1), dt.time()))
        i, e = sl.table("interactions"), sl.table("funnel_events")
        touched = (i.filter((i.occurred_at >= since) & (i.occurred_at < until)).select("customer_id")
                   .union(e.filter((e.stage == "contacted") & (e.occurred_at >= since) & (e.occurred_at < until))
                          .select("customer_id")))
        listed_since = ibis.literal(dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(days=days))
        contacted = chosen.customer_id.isin(touched.customer_id)
        listed = chosen.customer_id.isin(e.filter((e.stage == "lead") & (e.occurred_at >= listed_since)).customer_id)
    flagged = chosen.mutate(open_complaint=chosen.open_complaints.fill_null(0) > 0, contacted=contacted, listed=listed)
    return flagged.mutate(left_out=flagged.open_complaint | flagged.contacted | flagged.listed)


MEMBER_COLUMNS = ["customer_id", "name", "branch_code", "rm_id", "rm_name", "probability", "reasons_json"]


def _listed(sl: Slice, spec: ListSpec, contacts_to: dt.date | None) -> ir.Table:
    """The list: the `size` likeliest customers the spec selects and contact hygiene keeps, likeliest first,
    with MEMBER_COLUMNS (the name masked as the scope says; the model's reasons are kept for each customer's
    top two products), the scoring run, and the Preview's counts as window sums over every matched
    customer, so one query answers both."""
    flagged = _candidates(sl, spec, contacts_to)
    everyone = ibis.window()
    counted = flagged.mutate(matched=flagged.customer_id.count().over(everyone),
                             left_out_total=flagged.left_out.sum().over(everyone),
                             **{f"left_out_{r}": flagged[r].sum().over(everyone) for r in REASONS})
    kept = counted.filter(~counted.left_out).order_by([ibis.desc("probability"), "customer_id"]).limit(spec.size)
    names = sl.table("customers").select("customer_id", "name")
    rms = sl.table("relationship_managers").select("rm_id", rm_name="name")
    return kept.join(names, "customer_id").left_join(rms, "rm_id").select(
        *MEMBER_COLUMNS, "as_of", "model_version", "matched", "left_out_total", *(f"left_out_{r}" for r in REASONS)
    ).order_by([ibis.desc("probability"), "customer_id"])


def preview(sl: Slice, spec: ListSpec) -> Preview:
    """The list before it is saved: its size, expected conversions, workload per RM, and who contact
    hygiene left out and why."""
    permissions.check(sl.scoped.scope.role, "campaign:build")
    contacts_to = sl.as_of_date()
    rows = _listed(sl, spec, contacts_to).execute()
    if len(rows):
        counts = run = rows.iloc[0]
    else:  # nobody kept: the counts, if anyone matched, come from the matched customers themselves
        flagged = _candidates(sl, spec, contacts_to)
        counts = flagged.aggregate(matched=_.count(), left_out_total=_.left_out.sum(),
                                   **{f"left_out_{r}": flagged[r].sum() for r in REASONS}).execute().iloc[0]
        run = nextbest.latest(sl).aggregate(as_of=_.as_of.max(), model_version=_.model_version.max()).execute().iloc[0]
    listed = rows[MEMBER_COLUMNS].reset_index(drop=True)
    by_rm = (listed.assign(rm_id=listed.rm_id.fillna(""), rm_name=listed.rm_name.fillna(""))
             .groupby(["rm_id", "rm_name", "branch_code"], as_index=False)
             .agg(customers=("customer_id", "size"), expected=("probability", "sum"))
             .sort_values(["customers", "rm_id"], ascending=[False, True], ignore_index=True))
    return Preview(
        matched=int(counts.matched), left_out={r: int(counts[f"left_out_{r}"] or 0) for r in REASONS},
        left_out_total=int(counts.left_out_total or 0), listed=listed, by_rm=by_rm,
        expected=float(listed.probability.sum()), quiet_days=sl.rules.contact_quiet_days,
        contacts_to=contacts_to,
        scores_as_of=None if pd.isna(run.as_of) else pd.Timestamp(run.as_of).date(),
        model_version=None if pd.isna(run.model_version) else str(run.model_version))


# --- saving ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Saved:
    campaign_id: str
    leads: int
    expected: float


def save(state: StateStore, scope: Scope, spec: ListSpec, shown: Preview, *, name: str, channel: str,
         rules_version: int, today: dt.date | None = None) -> Saved:
    """Turn a previewed list into a campaign and its leads (stage 'lead', owner = the customer's RM), with
    the audit row, in one transaction. Only roles that may "campaign:save" (analytics.permissions) may, and only
    customers of their scope's branches."""
    permissions.check(scope.role, "campaign:save")
    try:
        name = export.typed_text("name", name)
    except export.FormulaText as problem:
        raise BadList(str(problem)) from None
    if not name:
        raise BadList("name: a campaign needs a name")
    if channel not in CHANNELS:
        raise BadList(f"channel: unknown {channel!r}; known: {', '.join(CHANNELS)}")
    listed = shown.listed
    if listed.empty:
        raise BadList("the list is empty: there is nobody to save")
    if scope.branch_codes is not None and (outside := sorted(set(listed.branch_code) - scope.branch_codes)):
        raise OutOfScope(f"the list holds customers of branches outside your scope: {', '.join(outside)}")
    starts = today or dt.date.today()
    now = utc_now()
    with state.transaction() as con:
        number = con.execute("SELECT count(*) FROM campaign_lists").fetchone()[0] + 1
        campaign_id = f"LIST-{number:04d}"
        con.execute(
            "INSERT INTO campaign_lists (campaign_id, name, product, channel, starts_on, ends_on, spec_json, left_out_json,"
            " rules_version, scores_as_of, model_version, leads, expected, created_by, role, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [campaign_id, name, spec.product, channel, starts.isoformat(),
             (starts + dt.timedelta(days=CAMPAIGN_DAYS)).isoformat(), spec.to_json(),
             json.dumps(shown.left_out), int(rules_version), str(shown.scores_as_of), str(shown.model_version),
             len(listed), float(shown.expected), scope.user, scope.role, now])
        first = max(con.execute("SELECT coalesce(max(lead_id), 0) FROM campaign_leads").fetchone()[0] + 1, LEAD_IDS_FROM)
        con.executemany(
            "INSERT INTO campaign_leads (lead_id, campaign_id, customer_id, branch_code, rm_id, probability, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            [(first + n, campaign_id, int(row.customer_id), row.branch_code, None if pd.isna(row.rm_id) else row.rm_id,
              float(row.probability), now) for n, row in enumerate(listed.itertuples(index=False))])
        append_audit(con, scope.user, "campaign_saved", scope.role, campaign_id=campaign_id, name=name,
                     product=spec.product, leads=len(listed), expected=round(float(shown.expected), 4),
                     first_lead_id=first, spec=asdict(spec))
    return Saved(campaign_id, len(listed), float(shown.expected))


# --- reading what was saved -----------------------------------------------------------------


def version(state: StateStore) -> int:
    """How many campaign lists were ever saved (they are never changed or removed): a cache key."""
    with state.connect() as con:
        return con.execute("SELECT count(*) FROM campaign_lists").fetchone()[0]


def added_rows(state: StateStore) -> dict[str, pd.DataFrame]:
    """The saved campaigns and their leads as rows of the facts' `campaigns` and `funnel_events` tables
    (each lead one event at stage 'lead', when it was saved), for analytics.scope.ScopedStore."""
    with state.connect() as con:
        campaigns = pd.read_sql_query(
            "SELECT campaign_id, name, product, channel, starts_on, ends_on FROM campaign_lists", con)
        leads = pd.read_sql_query(
            "SELECT lead_id, campaign_id, customer_id, rm_id, 'lead' AS stage, created_at AS occurred_at"
            " FROM campaign_leads", con)
    leads["occurred_at"] = pd.to_datetime(leads.occurred_at)
    return {"campaigns": campaigns, "funnel_events": leads}


def saved(state: StateStore, branch_codes: frozenset[str] | None) -> pd.DataFrame:
    """The saved campaigns with leads in the given branches (None: all), newest first: campaign_id, name,
    product, channel, starts_on, ends_on, created_by, created_at, leads and expected (of those branches)."""
    codes = None if branch_codes is None else json.dumps(sorted(branch_codes))
    with state.connect() as con:
        return pd.read_sql_query(
            "SELECT c.campaign_id, c.name, c.product, c.channel, c.starts_on, c.ends_on, c.created_by, c.created_at,"
            " count(*) AS leads, sum(l.probability) AS expected"
            " FROM campaign_lists c JOIN campaign_leads l USING (campaign_id)"
            " WHERE ? IS NULL OR l.branch_code IN (SELECT value FROM json_each(?))"
            " GROUP BY c.campaign_id ORDER BY c.created_at DESC, c.campaign_id DESC", con, params=[codes, codes])


def choices(sl: Slice) -> dict[str, pd.DataFrame]:
    """What the list's filters offer in scope: rms (rm_id, name, branch_code) and segments (segment, name_en,
    name_zh)."""
    permissions.check(sl.scoped.scope.role, "campaign:build")
    rms = sl.table("relationship_managers").select("rm_id", "name", "branch_code").order_by("rm_id").execute()
    segments = sl.scoped.table("found_segments").select("segment", "name_en", "name_zh").order_by("segment").execute()
    return {"rms": rms, "segments": segments}
