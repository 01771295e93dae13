"""The marketing funnel: lead -> contacted -> qualified -> applied -> approved -> activated.

A lead belongs to the period by the time of its 'lead' event (its first
event when 'lead' is missing); leads of other periods are left out with all
their events, wherever those fall. A lead has reached a stage when it has an
event at that stage or at any later one, so the counts never grow along the
stages even when an event is missing from the data.

Every function takes a `Slice` and returns a small frame: one Ibis
expression over the leads of the period, executed once.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir
import pandas as pd
from ibis import _

from analytics.filters import Slice, month_end
from analytics.schema import FUNNEL_STAGES

DIMENSIONS = ("campaign", "product", "channel", "branch", "rm")
RANK = {stage: i for i, stage in enumerate(FUNNEL_STAGES)}
SECONDS_PER_DAY = 86_400


def leads_of(e: ir.Table) -> ir.Table:
    """One row per lead of the funnel events `e`: its campaign and customer (from its first event), its RM (the
    latest event that names one), when it became a lead, its furthest stage and each stage's time. The
    `funnel_leads` mart holds them for the store's events (analytics.marts)."""
    rank = e.stage.cases(*RANK.items())
    return e.group_by("lead_id").agg(
        campaign_id=e.campaign_id.argmin(e.occurred_at),
        customer_id=e.customer_id.argmin(e.occurred_at),
        rm_id=e.rm_id.argmax(e.occurred_at, where=e.rm_id.notnull()),
        started_at=ibis.coalesce(e.occurred_at.min(where=e.stage == "lead"), e.occurred_at.min()),
        furthest=rank.max(),
        last_event_at=e.occurred_at.max(),
        **{f"{stage}_at": e.occurred_at.min(where=e.stage == stage) for stage in FUNNEL_STAGES},
    )


def _leads(sl: Slice) -> ir.Table:
    """The leads of the period (`leads_of`): the store's from the `funnel_leads` mart, with those of the lists
    saved in the app."""
    leads = sl.table("funnel_leads")
    if (added := sl.scoped.added("funnel_events")) is not None:
        leads = leads.union(sl.narrow("funnel_leads", leads_of(added)).cast(leads.schema()))
    return leads.filter(sl.in_period(leads.started_at))


def _reached(leads: ir.Table) -> dict[str, ir.IntegerScalar]:
    """Per stage, the number of leads whose furthest stage is that one or later."""
    return {stage: (leads.furthest >= i).sum().fill_null(0) for stage, i in RANK.items()}


def stages(sl: Slice) -> pd.DataFrame:
    """Leads of the period that reached each stage (an event at the stage or a later one); stage conversion
    is against the stage before, overall conversion against all leads."""
    leads = _leads(sl)
    counts = leads.aggregate(**_reached(leads)).execute().iloc[0]
    frame = pd.DataFrame({"stage": FUNNEL_STAGES, "leads": [int(counts[s]) for s in FUNNEL_STAGES]})
    reached = frame["leads"].astype("float64")
    frame["stage_conversion"] = reached / reached.shift(1).where(lambda n: n > 0)
    frame["overall_conversion"] = reached / (reached.iloc[0] if reached.iloc[0] > 0 else float("nan"))
    return frame


def _keyed(sl: Slice, leads: ir.Table, dimension: str) -> ir.Table:
    """The leads with `key` (the dimension's value) and `label` (its name, or the key when it has none)."""
    if dimension in ("campaign", "product", "channel"):
        campaigns = sl.table("campaigns")
        key, label = {"campaign": ("campaign_id", "name"), "product": ("product", "product"),
                      "channel": ("channel", "channel")}[dimension]
        names = campaigns.select("campaign_id", key=campaigns[key], label=campaigns[label])
        keyed = leads.left_join(names, "campaign_id")
    elif dimension == "branch":
        customers = sl.table("customers").select("customer_id", key="branch_code")
        branches = sl.table("branches").select(key="branch_code", label="name")
        keyed = leads.left_join(customers, "customer_id").left_join(branches, "key")
    elif dimension == "rm":
        rms = sl.table("relationship_managers").select(key="rm_id", label="name")
        keyed = leads.mutate(key=leads.rm_id).left_join(rms, "key")
    else:
        raise ValueError(f"unknown funnel dimension {dimension!r}; known: {', '.join(DIMENSIONS)}")
    return keyed.mutate(label=keyed.label.fill_null(keyed.key))


def by(sl: Slice, dimension: str) -> pd.DataFrame:
    """Leads of the period per campaign, product, channel, customer's branch or RM, with the leads reaching
    each stage; conversion = activated leads / leads."""
    leads = _keyed(sl, _leads(sl), dimension)
    expr = (
        leads.group_by("key", "label")
        .agg(leads=_.count(), **_reached(leads))
        .mutate(conversion=_.activated / _.leads)
        .order_by([ibis.desc("leads"), "key"])
    )
    others = [stage for stage in FUNNEL_STAGES if stage != "activated"]
    return expr.select(_.key.name(dimension), "label", "leads", "activated", "conversion", *others).execute()


def lists(sl: Slice, campaign_ids: tuple[str, ...]) -> pd.DataFrame:
    """`by` campaign for the given campaigns, whatever the period: a list saved after the store's latest
    month (analytics.campaigns) still shows."""
    frame = by(Slice(sl.scoped, sl.filters.but(start=None, end=None), sl.rules), "campaign")
    return frame[frame.campaign.isin(campaign_ids)].reset_index(drop=True)


def stage_times(sl: Slice) -> pd.DataFrame:
    """Median days from one stage's event to the next stage's event, over the leads of the period that have
    both events."""
    leads = _leads(sl)
    pairs = list(zip(FUNNEL_STAGES, FUNNEL_STAGES[1:]))
    measures = {}
    for i, (earlier, later) in enumerate(pairs):
        days = (leads[f"{later}_at"].epoch_seconds() - leads[f"{earlier}_at"].epoch_seconds()) / SECONDS_PER_DAY
        measures[f"leads_{i}"] = days.count()
        measures[f"days_{i}"] = days.median()
    row = leads.aggregate(**measures).execute().iloc[0]
    return pd.DataFrame({
        "from_stage": [earlier for earlier, _later in pairs],
        "to_stage": [later for _earlier, later in pairs],
        "leads": [int(row[f"leads_{i}"]) for i in range(len(pairs))],
        "median_days": [float(row[f"days_{i}"]) if pd.notna(row[f"days_{i}"]) else float("nan")
                        for i in range(len(pairs))],
    })


def cohorts(sl: Slice) -> pd.DataFrame:
    """Leads grouped by the month of their lead event, with the share of each month's leads that reached
    each later stage."""
    leads = _leads(sl)
    later = FUNNEL_STAGES[1:]
    reached = _reached(leads)
    expr = (
        leads.group_by(lead_month=month_end(leads.started_at))
        .agg(leads=_.count(), **{stage: reached[stage] for stage in later})
        .mutate(**{stage: _[stage] / _.leads for stage in later})
        .order_by("lead_month")
    )
    return expr.execute()


def monthly(sl: Slice) -> pd.DataFrame:
    """Funnel conversion per month: leads activated in the month / new leads in the month, among the leads
    of the period (so a month can exceed 100% when earlier leads activate in it)."""
    leads = _leads(sl)
    new = leads.select(month=month_end(leads.started_at), leads=ibis.literal(1), activated=ibis.literal(0))
    done = leads.filter(leads.activated_at.notnull() & sl.in_period(leads.activated_at))
    done = done.select(month=month_end(done.activated_at), leads=ibis.literal(0), activated=ibis.literal(1))
    expr = new.union(done).group_by("month").agg(leads=_.leads.sum(), activated=_.activated.sum())
    frame = expr.execute()
    if frame.empty:
        return pd.DataFrame({"month": pd.Series(dtype="datetime64[s]"), "leads": pd.Series(dtype="int64"),
                             "activated": pd.Series(dtype="int64"), "value": pd.Series(dtype="float64")})
    # Every month from the first to the last, so a month without leads shows as a gap, not as a straight line.
    frame["month"] = pd.to_datetime(frame["month"])
    months = pd.date_range(frame["month"].min(), frame["month"].max(), freq="ME", name="month")
    frame = frame.set_index("month").reindex(months, fill_value=0).reset_index()
    frame[["leads", "activated"]] = frame[["leads", "activated"]].astype("int64")
    frame["value"] = frame["activated"] / frame["leads"].where(frame["leads"] > 0)
    return frame


def drop_outs(sl: Slice) -> pd.DataFrame:
    """Where leads stop: the leads of the period whose furthest stage is this one, and their share of all
    leads; activated leads did not drop out."""
    leads = _leads(sl)
    stopped = FUNNEL_STAGES[:-1]
    measures = {s: (leads.furthest == RANK[s]).sum().fill_null(0) for s in stopped}
    row = leads.aggregate(total=_.count(), **measures).execute().iloc[0]
    frame = pd.DataFrame({"stage": stopped, "leads": [int(row[s]) for s in stopped]})
    frame["share"] = frame["leads"] / (row["total"] if row["total"] > 0 else float("nan"))
    return frame


def stopped_at(sl: Slice, stage: str, limit: int = 200) -> pd.DataFrame:
    """The leads of the period whose furthest stage is `stage`, the most recently active first."""
    if stage not in RANK:
        raise ValueError(f"unknown funnel stage {stage!r}; known: {', '.join(FUNNEL_STAGES)}")
    leads = _leads(sl)
    leads = leads.filter(leads.furthest == RANK[stage])
    customers = sl.table("customers").select("customer_id", "name", "branch_code")
    expr = (
        leads.left_join(customers, "customer_id")
        .select("lead_id", "customer_id", "name", "branch_code", "rm_id", "campaign_id", "last_event_at")
        .order_by([ibis.desc("last_event_at"), ibis.desc("lead_id")])
        .limit(limit)
    )
    return expr.execute()
