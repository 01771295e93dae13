"""The funnel on the hand-built store (tests/handbuilt.py), expected values worked out by hand.

The five leads, by stage reached (an event at the stage or a later one):
101 C1 customer 1 (SH01): every stage, lead 5 Jan .. activated 1 Feb
102 C1 customer 2 (BJ01): lead, contacted, qualified (Jan)
103 C1 customer 3 (BJ01): lead only (3 Feb)
104 C2 customer 1 (SH01): up to approved (Apr)
105 C2 customer 3 (BJ01): no "qualified" event, but activated (May)
"""

from __future__ import annotations

import datetime as dt
import math

import pandas as pd
import pytest
from hypothesis import strategies as st

from analytics import funnel, marts, store
from analytics.filters import Filters, Slice, options
from analytics.rules import TIERS
from analytics.schema import CHANNELS, FUNNEL_STAGES, PRODUCTS
from analytics.scope import Scope, ScopedStore

from . import engines, handbuilt

APRIL_TO_JUNE = Filters(start=dt.date(2024, 4, 30), end=dt.date(2024, 6, 30))


@pytest.fixture(scope="module")
def backend_with_lead_106(tmp_path_factory, connect):
    """The hand-built store plus lead 106 (C2, customer 1): no "lead" event, contacted on 3 Jun at 10:00,
    qualified on 4 Jun at 22:00 (1.5 days later)."""
    path = handbuilt.build(tmp_path_factory.mktemp("hand106") / "hand.duckdb")
    with store.rewrite(path) as con:
        con.execute("""INSERT INTO funnel_events VALUES
            (106, 'C2', 1, 'SH01-RM01', 'contacted', '2024-06-03 10:00'),
            (106, 'C2', 1, 'SH01-RM01', 'qualified', '2024-06-04 22:00')""")
        marts.rebuild(con)
    return connect(path)


def sliced(backend, filters: Filters = Filters(), scope: Scope | None = None) -> Slice:
    return Slice(ScopedStore(backend, scope or Scope.all_branches()), filters)


def counts(sl: Slice) -> list[int]:
    return funnel.stages(sl)["leads"].tolist()


def nan_to_none(values) -> list:
    return [None if pd.isna(v) else pytest.approx(v) for v in values]


# --- stages -----------------------------------------------------------------

def test_leads_reaching_each_stage_in_order(backend):
    frame = funnel.stages(sliced(backend))
    assert frame["stage"].tolist() == list(FUNNEL_STAGES)
    assert frame["leads"].tolist() == [5, 4, 4, 3, 3, 2]


def test_a_lead_with_a_missing_stage_counts_at_that_stage(backend):
    # 105 has no "qualified" event but reached applied: qualified counts 101, 102, 104 and 105.
    assert counts(sliced(backend))[FUNNEL_STAGES.index("qualified")] == 4
    assert 105 not in funnel.stopped_at(sliced(backend), "contacted")["lead_id"].tolist()


def test_stage_conversion_is_against_the_stage_before_and_overall_against_all_leads(backend):
    frame = funnel.stages(sliced(backend))
    assert nan_to_none(frame["stage_conversion"]) == [None, 4 / 5, 4 / 4, 3 / 4, 3 / 3, 2 / 3]
    assert nan_to_none(frame["overall_conversion"]) == [1, 4 / 5, 4 / 5, 3 / 5, 3 / 5, 2 / 5]


def test_a_slice_without_leads_still_has_six_stages_of_zeros(backend):
    frame = funnel.stages(sliced(backend, Filters(channels=("wechat",))))
    assert frame["stage"].tolist() == list(FUNNEL_STAGES)
    assert frame["leads"].tolist() == [0] * 6
    assert frame["stage_conversion"].isna().all() and frame["overall_conversion"].isna().all()


# --- which leads: period, filters, scope ---------------------------------------

def test_the_period_keeps_leads_by_the_time_of_their_lead_event(backend):
    sl = sliced(backend, APRIL_TO_JUNE)  # 104 (2 Apr) and 105 (1 May)
    assert counts(sl) == [2, 2, 2, 2, 2, 1]
    assert funnel.by(sl, "campaign")["campaign"].tolist() == ["C2"]


def test_a_lead_outside_the_period_is_ignored_with_all_its_events(backend):
    # February holds 103's lead event and 101's activation; 101 became a lead in January.
    sl = sliced(backend, Filters(start=dt.date(2024, 2, 29), end=dt.date(2024, 2, 29)))
    assert counts(sl) == [1, 0, 0, 0, 0, 0]
    assert funnel.monthly(sl)[["leads", "activated"]].values.tolist() == [[1, 0]]


def test_a_lead_without_a_lead_event_belongs_to_the_period_of_its_first_event(backend_with_lead_106):
    assert counts(sliced(backend_with_lead_106)) == [6, 5, 5, 3, 3, 2]
    june = sliced(backend_with_lead_106, Filters(start=dt.date(2024, 6, 30), end=dt.date(2024, 6, 30)))
    assert counts(june) == [1, 1, 1, 0, 0, 0]
    assert funnel.cohorts(june)["lead_month"].tolist() == [pd.Timestamp("2024-06-30")]


def test_a_branch_filter_keeps_the_leads_of_its_customers(backend):
    # BJ01: customers 2 and 3, so leads 102, 103 and 105; region 华东 is SH01: 101 and 104.
    assert counts(sliced(backend, Filters(branches=("BJ01",)))) == [3, 2, 2, 1, 1, 1]
    assert counts(sliced(backend, Filters(regions=("华东",)))) == [2, 2, 2, 2, 2, 1]


def test_the_scope_keeps_the_leads_of_its_branches(backend):
    sl = sliced(backend, scope=Scope.for_branches(["SH01"]))  # 101 and 104
    assert counts(sl) == [2, 2, 2, 2, 2, 1]
    assert funnel.by(sl, "branch")["branch"].tolist() == ["SH01"]


def test_a_channel_filter_keeps_the_leads_of_its_campaigns(backend):
    sl = sliced(backend, Filters(channels=("app",)))  # C1: 101, 102, 103
    assert counts(sl) == [3, 2, 2, 1, 1, 1]
    assert funnel.by(sl, "channel")["channel"].tolist() == ["app"]


# --- by dimension --------------------------------------------------------------

def test_by_campaign_counts_leads_stages_and_activations_per_campaign(backend):
    frame = funnel.by(sliced(backend), "campaign")
    assert frame["campaign"].tolist() == ["C1", "C2"]  # most leads first
    assert frame["label"].tolist() == ["基金定投推广", "大额存单专享"]
    assert frame[["leads", "activated"]].values.tolist() == [[3, 1], [2, 1]]
    assert frame["conversion"].tolist() == [pytest.approx(1 / 3), pytest.approx(1 / 2)]
    assert frame[list(FUNNEL_STAGES)].values.tolist() == [[3, 2, 2, 1, 1, 1], [2, 2, 2, 2, 2, 1]]


def test_by_product_and_channel_read_the_campaign_and_are_labelled_by_their_code(backend):
    product = funnel.by(sliced(backend), "product")
    assert product[["product", "label", "leads"]].values.tolist() == [
        ["wealth_fund", "wealth_fund", 3], ["term_deposit", "term_deposit", 2]]
    channel = funnel.by(sliced(backend), "channel")
    assert channel[["channel", "label", "leads", "activated"]].values.tolist() == [
        ["app", "app", 3, 1], ["branch", "branch", 2, 1]]


def test_by_branch_uses_the_customer_branch(backend):
    frame = funnel.by(sliced(backend), "branch")
    # BJ01: 102, 103, 105 (activated); SH01: 101 (activated), 104
    assert frame[["branch", "label", "leads", "activated"]].values.tolist() == [
        ["BJ01", "北京金融街支行", 3, 1], ["SH01", "上海陆家嘴支行", 2, 1]]


def test_by_rm_uses_the_rm_on_the_lead(backend):
    frame = funnel.by(sliced(backend), "rm")
    assert frame[["rm", "label", "leads", "activated"]].values.tolist() == [
        ["BJ01-RM01", "李经理", 3, 1], ["SH01-RM01", "王经理", 2, 1]]


def test_an_unknown_dimension_is_refused_by_name(backend):
    with pytest.raises(ValueError, match="'region'"):
        funnel.by(sliced(backend), "region")


# --- timing, cohorts, months -------------------------------------------------------

def test_stage_times_are_median_days_between_consecutive_events(backend):
    frame = funnel.stage_times(sliced(backend))
    assert list(zip(frame["from_stage"], frame["to_stage"])) == list(zip(FUNNEL_STAGES, FUNNEL_STAGES[1:]))
    # lead->contacted: 101 2d, 102 2d, 104 1d, 105 1d; contacted->qualified: 3, 8, 2 (105 has none);
    # qualified->applied: 5, 4; applied->approved: 5, 3, 2; approved->activated: 101 12d, 105 2d
    assert frame["leads"].tolist() == [4, 3, 2, 3, 2]
    assert frame["median_days"].tolist() == [1.5, 3.0, 4.5, 3.0, 7.0]


def test_days_between_stages_are_fractional(backend_with_lead_106):
    june = sliced(backend_with_lead_106, Filters(start=dt.date(2024, 6, 30), end=dt.date(2024, 6, 30)))
    frame = funnel.stage_times(june).set_index("from_stage")
    assert frame.loc["contacted", "leads"] == 1
    assert frame.loc["contacted", "median_days"] == pytest.approx(1.5)
    assert frame.loc["lead", "leads"] == 0 and math.isnan(frame.loc["lead", "median_days"])


def test_cohorts_are_shares_of_each_lead_month_reaching_each_stage(backend):
    frame = funnel.cohorts(sliced(backend))
    assert frame["lead_month"].dt.strftime("%Y-%m").tolist() == ["2024-01", "2024-02", "2024-04", "2024-05"]
    assert frame["leads"].tolist() == [2, 1, 1, 1]
    later = list(FUNNEL_STAGES[1:])
    assert frame[later].values.tolist() == [
        [1.0, 1.0, 0.5, 0.5, 0.5],  # 101 all the way, 102 up to qualified
        [0.0, 0.0, 0.0, 0.0, 0.0],  # 103
        [1.0, 1.0, 1.0, 1.0, 0.0],  # 104
        [1.0, 1.0, 1.0, 1.0, 1.0],  # 105
    ]


def test_monthly_counts_new_leads_and_activations_each_in_its_own_month(backend):
    frame = funnel.monthly(sliced(backend))
    assert frame["month"].dt.strftime("%Y-%m").tolist() == ["2024-01", "2024-02", "2024-03", "2024-04", "2024-05"]
    assert frame["leads"].tolist() == [2, 1, 0, 1, 1]
    assert frame["activated"].tolist() == [0, 1, 0, 0, 1]  # 101 activates in February
    assert nan_to_none(frame["value"]) == [0.0, 1.0, None, 0.0, 1.0]


def test_monthly_leaves_out_activations_after_the_period(backend):
    january = sliced(backend, Filters(start=dt.date(2024, 1, 31), end=dt.date(2024, 1, 31)))
    assert funnel.monthly(january)[["leads", "activated"]].values.tolist() == [[2, 0]]


# --- where leads stop ----------------------------------------------------------

def test_drop_outs_are_leads_whose_furthest_stage_is_that_stage(backend):
    frame = funnel.drop_outs(sliced(backend))
    assert frame["stage"].tolist() == list(FUNNEL_STAGES[:-1])
    assert frame["leads"].tolist() == [1, 0, 1, 0, 1]  # 103, 102, 104; 101 and 105 activated
    assert frame["share"].tolist() == [pytest.approx(v) for v in (0.2, 0, 0.2, 0, 0.2)]


def test_stopped_at_lists_the_leads_that_stopped_there_newest_first(backend):
    approved = funnel.stopped_at(sliced(backend), "approved")
    assert approved.to_dict("records") == [{
        "lead_id": 104, "customer_id": 1, "name": "张**", "branch_code": "SH01", "rm_id": "SH01-RM01",
        "campaign_id": "C2", "last_event_at": pd.Timestamp("2024-04-12 10:00")}]
    assert funnel.stopped_at(sliced(backend), "activated")["lead_id"].tolist() == [105, 101]
    assert funnel.stopped_at(sliced(backend), "activated", limit=1)["lead_id"].tolist() == [105]
    assert funnel.stopped_at(sliced(backend), "contacted").empty


def test_stopped_at_shows_names_as_the_scope_allows(backend):
    shown = funnel.stopped_at(sliced(backend, scope=Scope.for_branches(["SH01"])), "approved")
    assert shown["name"].tolist() == ["张伟"]


def test_stopped_at_an_unknown_stage_is_refused_by_name(backend):
    with pytest.raises(ValueError, match="'won'"):
        funnel.stopped_at(sliced(backend), "won")


# --- any filters on the demo store -----------------------------------------------

@pytest.fixture(scope="module")
def demo(demo_store, connect):
    backend = connect(demo_store)
    return backend, options(ScopedStore(backend, Scope.all_branches()))


def some(values):
    return st.lists(st.sampled_from(values), unique=True, max_size=2).map(tuple)


def never_grows(values) -> bool:
    return all(a >= b for a, b in zip(values, values[1:]))


def within_0_1(values) -> bool:
    return all(0 <= v <= 1 for v in values if not pd.isna(v))


def test_funnel_counts_never_grow_and_conversions_are_shares_for_any_filters(demo, engine):
    @engines.properties(engine, examples=25)
    def check(data):
        backend, offered = demo
        start = data.draw(st.one_of(st.none(), st.sampled_from(offered.months)), label="start")
        later = [m for m in offered.months if start is None or m >= start]
        end = data.draw(st.one_of(st.none(), st.sampled_from(later)), label="end")
        filters = Filters(start=start, end=end, regions=data.draw(some(offered.regions), label="regions"),
                          tiers=data.draw(some(TIERS), label="tiers"), products=data.draw(some(PRODUCTS), label="products"),
                          channels=data.draw(some(CHANNELS), label="channels"))
        sl = sliced(backend, filters)

        stages = funnel.stages(sl)
        leads = stages["leads"].tolist()
        assert never_grows(leads)
        assert within_0_1(stages["stage_conversion"]) and within_0_1(stages["overall_conversion"])

        for dimension in funnel.DIMENSIONS:
            frame = funnel.by(sl, dimension)
            assert frame["leads"].sum() == leads[0], dimension  # every lead in exactly one group
            assert (frame["lead"] == frame["leads"]).all()
            assert all(never_grows(row) for row in frame[list(FUNNEL_STAGES)].values.tolist()), dimension
            assert within_0_1(frame["conversion"])

        cohorts = funnel.cohorts(sl)
        assert cohorts["leads"].sum() == leads[0]
        assert all(never_grows(row) and within_0_1(row) for row in cohorts[list(FUNNEL_STAGES[1:])].values.tolist())

        monthly = funnel.monthly(sl)
        assert monthly["leads"].sum() == leads[0] and monthly["activated"].sum() <= leads[-1]

        drop_outs = funnel.drop_outs(sl)
        assert drop_outs["leads"].sum() + leads[-1] == leads[0]

        times = funnel.stage_times(sl)
        assert (times["leads"] <= pd.Series(leads[1:])).all()
        assert (times["median_days"].dropna() >= 0).all()  # the generator's events happen in stage order

    check()
