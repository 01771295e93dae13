"""NPS, CSAT and complaints on the hand-built store (tests/handbuilt.py), expected values worked out by hand,
and properties that hold on the generated demo store whatever the filters."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from hypothesis import strategies as st

from analytics import marts, satisfaction, store
from analytics.filters import Filters, Slice
from analytics.rules import TIERS, RuleSet
from analytics.schema import CHANNELS, PRODUCTS
from analytics.scope import Scope, ScopedStore

from . import engines, handbuilt

D = dt.date


@pytest.fixture(scope="module")
def extended(tmp_path_factory, connect):
    """The hand-built store plus, for customer 3 (BJ01, branch atm):
    - ten answers in April 2024: NPS 10, 10, 9, 9, 9, 8, 7, 7, 6, 0 (5 promoters, 3 passives,
      2 detractors) and CSAT 5, 5, 5, 4, 4, 4, 4, 4, 3, 1 (8 satisfied);
    - complaint 3 (fees) opened 20 May 09:00, resolved 5 June 09:00: 16 days against an SLA of 15;
    - complaint 4 (card) opened 1 June 10:00, resolved 8 June 10:00: exactly its SLA of 7 days.
    """
    path = handbuilt.build(tmp_path_factory.mktemp("extended") / "extended.duckdb")
    nps = (10, 10, 9, 9, 9, 8, 7, 7, 6, 0)
    csat = (5, 5, 5, 4, 4, 4, 4, 4, 3, 1)
    with store.rewrite(path) as con:
        for day, (n, c) in enumerate(zip(nps, csat), start=1):
            con.execute("INSERT INTO surveys VALUES (?, 3, ?, 'atm', 'branch', ?, ?)",
                        [100 + day, f"2024-04-{day:02d} 12:00", n, c])
        con.execute("""INSERT INTO complaints VALUES
            (3, 3, 'fees', 'low', 'phone', '2024-05-20 09:00', '2024-06-05 09:00', 15),
            (4, 3, 'card', 'low', 'app', '2024-06-01 10:00', '2024-06-08 10:00', 7)""")
        marts.rebuild(con)
    return connect(path)


def sliced(backend, scope=None, rules=RuleSet(), **filters):
    return Slice(ScopedStore(backend, scope or Scope.all_branches()), Filters(**filters), rules)


def by_month(frame, column="value"):
    return {m.strftime("%Y-%m"): (None if pd.isna(v) else v) for m, v in zip(frame["month"], frame[column])}


def rows(frame, key):
    """{key value: {column: value}}, NaN as None, for comparing with dicts written by hand."""
    return {r[key]: {c: (None if pd.isna(v) else v) for c, v in r.items() if c != key}
            for r in frame.to_dict("records")}


# --- NPS ---------------------------------------------------------------------

def test_nps_is_promoters_minus_detractors_per_month_of_answer(backend):
    frame = satisfaction.nps_by_month(sliced(backend))
    # Feb: customer 2 answers 10; Mar: customer 1 answers 9; Jun: customer 1 answers 3 (customer 3: no NPS)
    assert by_month(frame) == {"2024-02": 100.0, "2024-03": 100.0, "2024-06": -100.0}
    assert by_month(frame, "answers") == {"2024-02": 1, "2024-03": 1, "2024-06": 1}
    assert by_month(frame, "detractors") == {"2024-02": 0, "2024-03": 0, "2024-06": 1}


def test_nps_has_no_band_under_two_answers(backend):
    frame = satisfaction.nps_by_month(sliced(backend))
    assert frame["low"].isna().all() and frame["high"].isna().all()


def test_nps_band_is_value_plus_minus_1_96_standard_errors(extended):
    april = satisfaction.nps_by_month(sliced(extended)).set_index("month").loc[pd.Timestamp("2024-04-30")]
    assert (april.answers, april.promoters, april.passives, april.detractors) == (10, 5, 3, 2)
    assert april.value == pytest.approx(30.0)  # 50% - 20%
    # se = 100 * sqrt((0.5 + 0.2 - 0.3^2) / 10) = 100 * sqrt(0.061) = 24.698; 1.96 * se = 48.408
    assert april.low == pytest.approx(30 - 48.408, abs=1e-3)
    assert april.high == pytest.approx(30 + 48.408, abs=1e-3)


def test_nps_band_is_clipped_to_minus_100_and_100(backend):
    # tier Mass at July: customer 1 (9 and 3) -> NPS 0 from 2 answers; se = 100 * sqrt(1 / 2) = 70.7
    mass = rows(satisfaction.by(sliced(backend), "tier"), "tier")["Mass"]
    assert (mass["nps_answers"], mass["nps"], mass["nps_low"], mass["nps_high"]) == (2, 0.0, -100.0, 100.0)


def test_nps_counts_only_months_in_the_period(backend):
    frame = satisfaction.nps_by_month(sliced(backend, start=D(2024, 3, 31), end=D(2024, 6, 30)))
    assert by_month(frame) == {"2024-03": 100.0, "2024-06": -100.0}


# --- CSAT --------------------------------------------------------------------

def test_csat_is_share_of_answers_4_or_5_per_month(backend):
    frame = satisfaction.csat_by_month(sliced(backend))
    # Feb: 4; Mar: 5; Jun: 2 and 3
    assert by_month(frame) == {"2024-02": 1.0, "2024-03": 1.0, "2024-06": 0.0}
    assert by_month(frame, "answers") == {"2024-02": 1, "2024-03": 1, "2024-06": 2}


def test_csat_band_is_the_wilson_interval(extended):
    april = satisfaction.csat_by_month(sliced(extended)).set_index("month").loc[pd.Timestamp("2024-04-30")]
    assert (april.answers, april.satisfied, april.value) == (10, 8, 0.8)
    # Wilson 95% for 8 of 10: centre (0.8 + 1.96^2/20) / (1 + 1.96^2/10) = 0.71674,
    # half-width 1.96 * sqrt(0.016 + 0.009604) / 1.38416 = 0.22658
    assert (april.low, april.high) == (pytest.approx(0.49016, abs=1e-5), pytest.approx(0.94332, abs=1e-5))


def test_csat_band_of_no_satisfied_answers_starts_at_zero(backend):
    june = satisfaction.csat_by_month(sliced(backend)).set_index("month").loc[pd.Timestamp("2024-06-30")]
    # 0 of 2: centre = half-width = (1.96^2 / 4) / (1 + 1.96^2 / 2) = 0.9604 / 2.9208 = 0.32882
    assert june.low == pytest.approx(0.0, abs=1e-12)
    assert june.high == pytest.approx(2 * 0.9604 / 2.9208, abs=1e-6)


# --- breakdowns --------------------------------------------------------------

def test_by_branch_is_the_customers_branch(backend):
    got = rows(satisfaction.by(sliced(backend), "branch"), "branch")
    # SH01: customer 1, NPS 9 and 3, CSAT 5 and 2; BJ01: customer 2 NPS 10 CSAT 4, customer 3 CSAT 3
    assert {b: (r["nps_answers"], r["nps"], r["csat_answers"], r["csat"]) for b, r in got.items()} == {
        "SH01": (2, 0.0, 2, 0.5), "BJ01": (1, 100.0, 2, 0.5)}


def test_by_channel_and_touchpoint_are_the_surveys_own(backend):
    channel = rows(satisfaction.by(sliced(backend), "channel"), "channel")
    assert {c: (r["nps_answers"], r["nps"], r["csat_answers"], r["csat"]) for c, r in channel.items()} == {
        "branch": (1, 100.0, 2, 0.5), "app": (1, -100.0, 1, 0.0), "phone": (1, 100.0, 1, 1.0)}
    touchpoint = rows(satisfaction.by(sliced(backend), "touchpoint"), "touchpoint")
    assert {t: (r["nps_answers"], r["nps"], r["csat"]) for t, r in touchpoint.items()} == {
        "atm": (0, None, 0.0), "branch_counter": (1, 100.0, 1.0),
        "call_center": (1, 100.0, 1.0), "mobile_app": (1, -100.0, 0.0)}


def test_by_tier_uses_the_tier_at_the_as_of_month(backend):
    # July: customer 1's 3-month average AUM is 6,000 and customer 3's 50, both Mass (< 50k);
    # customer 2 has no July row (churned in March) and is left out.
    got = rows(satisfaction.by(sliced(backend), "tier"), "tier")
    assert list(got) == ["Mass"]
    assert (got["Mass"]["nps_answers"], got["Mass"]["csat_answers"]) == (2, 3)
    # As of February, customer 2 (average (500 + 400) / 2) is Mass and the only one who answered.
    february = rows(satisfaction.by(sliced(backend, end=D(2024, 2, 29)), "tier"), "tier")
    assert {t: (r["nps_answers"], r["nps"]) for t, r in february.items()} == {"Mass": (1, 100.0)}


def test_by_tier_follows_the_rule_set(backend):
    rules = RuleSet(version=1, tier_cutoffs_cny=(5_000, 500_000, 6_000_000))  # customer 1's 6,000 is Affluent
    got = satisfaction.by(sliced(backend, rules=rules), "tier")
    assert got["tier"].tolist() == ["Mass", "Affluent"]  # in tier order
    assert rows(got, "tier")["Affluent"]["nps_answers"] == 2 and rows(got, "tier")["Mass"]["nps_answers"] == 0


def test_by_an_unknown_dimension_names_it(backend):
    with pytest.raises(ValueError, match="'region'"):
        satisfaction.by(sliced(backend), "region")


def test_promoters_vs_detractors_reads_each_customers_latest_answer(backend):
    frame = satisfaction.promoters_vs_detractors(sliced(backend)).set_index("feature")
    assert frame.index.tolist() == list(satisfaction.FEATURES)
    # Customer 1's latest is 3 in June (detractor): AUM 6,000, tenure 12 months (since 2023-06-15),
    # 2 products, 63 days since 28 Apr, 2 logins, a complaint (1 May) within the 90 days before 10 June.
    assert frame["detractors"].tolist() == [6000.0, 12.0, 2.0, 63.0, 2.0, 1.0]
    # Customer 2's is 10 in February (promoter): AUM 400, 13 months, 1 product,
    # 424 days since opening on 2023-01-01 (no transaction date), 0 logins, no complaints.
    assert frame["promoters"].tolist() == [400.0, 13.0, 1.0, 424.0, 0.0, 0.0]
    assert frame["passives"].isna().all()


def test_promoters_vs_detractors_latest_answer_is_within_the_period(backend):
    # Up to March, customer 1's latest answer is the 9 (AUM 3,000 in March): two promoters, no detractors.
    frame = satisfaction.promoters_vs_detractors(sliced(backend, end=D(2024, 3, 31))).set_index("feature")
    assert frame.loc["aum_cny", "promoters"] == (3000 + 400) / 2
    assert frame["detractors"].isna().all()


# --- complaints --------------------------------------------------------------

def test_sla_compliance_is_resolved_within_sla_over_resolved_by_month_of_resolution(backend, extended):
    # Complaint 1: 2 days against 15, resolved in May.
    assert by_month(satisfaction.sla_by_month(sliced(backend))) == {"2024-05": 1.0}
    # June: complaint 3 took 16 days against 15 (late), complaint 4 exactly its 7 (on time).
    frame = satisfaction.sla_by_month(sliced(extended))
    assert by_month(frame) == {"2024-05": 1.0, "2024-06": 0.5}
    assert by_month(frame, "resolved") == {"2024-05": 1, "2024-06": 2}


def test_complaints_by_category_counts_open_ones_at_the_period_end(backend, extended):
    got = rows(satisfaction.complaints_by_category(sliced(backend)), "category")
    assert got == {
        "fees": {"complaints": 1, "open": 0, "resolved": 1, "within_sla": 1, "sla_compliance": 1.0},
        "system": {"complaints": 1, "open": 1, "resolved": 0, "within_sla": 0, "sla_compliance": None},
    }
    # Up to May: complaints 1 and 3 opened; complaint 3 was resolved only on 5 June, so it is open.
    may = rows(satisfaction.complaints_by_category(sliced(extended, end=D(2024, 5, 31))), "category")
    assert may == {"fees": {"complaints": 2, "open": 1, "resolved": 1, "within_sla": 1, "sla_compliance": 1.0}}
    whole = rows(satisfaction.complaints_by_category(sliced(extended)), "category")
    assert whole["fees"] == {"complaints": 2, "open": 0, "resolved": 2, "within_sla": 1, "sla_compliance": 0.5}


def test_backlog_is_complaints_open_at_each_month_end(backend, extended):
    # Complaint 1 lived 1-3 May; complaint 2 is open since 1 July.
    assert by_month(satisfaction.backlog_by_month(sliced(backend)), "open") == {
        "2024-01": 0, "2024-02": 0, "2024-03": 0, "2024-04": 0, "2024-05": 0, "2024-06": 0, "2024-07": 1}
    # Complaint 3 is open at 31 May; complaints 3 and 4 are resolved by 30 June.
    got = by_month(satisfaction.backlog_by_month(sliced(extended, start=D(2024, 5, 31))), "open")
    assert got == {"2024-05": 1, "2024-06": 0, "2024-07": 1}


# --- scope and filters -------------------------------------------------------

def test_figures_follow_the_scope(backend):
    sh = Scope.for_branches(["SH01"])
    assert by_month(satisfaction.nps_by_month(sliced(backend, sh))) == {"2024-03": 100.0, "2024-06": -100.0}
    bj = Scope.for_branches(["BJ01"])
    assert by_month(satisfaction.nps_by_month(sliced(backend, bj))) == {"2024-02": 100.0}
    assert satisfaction.complaints_by_category(sliced(backend, bj)).empty
    assert satisfaction.backlog_by_month(sliced(backend, bj))["open"].tolist() == [0] * 7


def test_channel_filter_keeps_surveys_and_complaints_of_that_channel(backend):
    app = sliced(backend, channels=("app",))
    assert by_month(satisfaction.nps_by_month(app)) == {"2024-06": -100.0}
    assert satisfaction.complaints_by_category(app)["category"].tolist() == ["system"]
    assert satisfaction.sla_by_month(app).empty  # the branch complaint resolved in May is filtered out


def test_every_function_returns_its_documented_columns(backend):
    sl = sliced(backend)
    expected = {
        satisfaction.nps_by_month: ["month", "answers", "promoters", "passives", "detractors", "value", "low", "high"],
        satisfaction.csat_by_month: ["month", "answers", "satisfied", "value", "low", "high"],
        satisfaction.complaints_by_category: ["category", "complaints", "open", "resolved", "within_sla",
                                              "sla_compliance"],
        satisfaction.backlog_by_month: ["month", "open"],
        satisfaction.sla_by_month: ["month", "resolved", "within_sla", "value"],
        satisfaction.promoters_vs_detractors: ["feature", "detractors", "passives", "promoters", "unit"],
    }
    for fn, columns in expected.items():
        assert fn(sl).columns.tolist() == columns, fn.__name__
    for dimension in satisfaction.DIMENSIONS:
        assert satisfaction.by(sl, dimension).columns.tolist() == [
            dimension, "nps_answers", "nps", "nps_low", "nps_high", "csat_answers", "csat", "csat_low", "csat_high"]


# --- properties on the demo store --------------------------------------------

@pytest.fixture(scope="module")
def demo(demo_store, connect):
    backend = connect(demo_store)
    tables = ScopedStore(backend, Scope.all_branches())
    months = tuple(sorted(tables.table("customer_month").month.as_table().distinct().execute()["month"].dt.date))
    regions = tuple(sorted(tables.table("branches").region.as_table().distinct().execute()["region"]))
    return tables, months, regions


def draw_slice(data, demo) -> Slice:
    tables, months, regions = demo
    start, end = sorted(data.draw(st.lists(st.sampled_from(months), min_size=2, max_size=2)))
    some = lambda values: st.lists(st.sampled_from(values), max_size=2)
    filters = Filters(
        start=data.draw(st.one_of(st.none(), st.just(start))),
        end=data.draw(st.one_of(st.none(), st.just(end))),
        regions=tuple(data.draw(some(regions))),
        tiers=tuple(data.draw(some(TIERS))),
        products=tuple(data.draw(some(PRODUCTS))),
        channels=tuple(data.draw(some(CHANNELS))),
    )
    return Slice(tables, filters)


def within(values, low, high) -> bool:
    values = pd.Series(values, dtype="float64").dropna()
    return bool(((values >= low) & (values <= high)).all())


def test_nps_and_its_band_stay_within_minus_100_and_100(demo, engine):
    @engines.properties(engine, examples=25)
    def check(data):
        sl = draw_slice(data, demo)
        monthly = satisfaction.nps_by_month(sl)
        for column in ("value", "low", "high"):
            assert within(monthly[column], -100, 100), column
        assert (monthly.low.fillna(-100) <= monthly.value).all() and (monthly.value <= monthly.high.fillna(100)).all()
        assert (monthly.promoters + monthly.passives + monthly.detractors == monthly.answers).all()
        for column in ("nps", "nps_low", "nps_high"):
            assert within(satisfaction.by(sl, "channel")[column], -100, 100), column

    check()


def test_csat_and_sla_compliance_are_shares(demo, engine):
    @engines.properties(engine, examples=25)
    def check(data):
        sl = draw_slice(data, demo)
        csat = satisfaction.csat_by_month(sl)
        for column in ("value", "low", "high"):
            assert within(csat[column], 0, 1), column
        assert (csat.low <= csat.value + 1e-12).all() and (csat.value <= csat.high + 1e-12).all()
        assert within(satisfaction.by(sl, "touchpoint")["csat"], 0, 1)
        assert within(satisfaction.sla_by_month(sl)["value"], 0, 1)
        categories = satisfaction.complaints_by_category(sl)
        assert within(categories["sla_compliance"], 0, 1)
        assert (categories.open + categories.resolved == categories.complaints).all()
        assert (categories.within_sla <= categories.resolved).all()

    check()


def test_answers_by_tier_never_exceed_all_answers(demo, engine):
    @engines.properties(engine, examples=25)
    def check(data):
        sl = draw_slice(data, demo)
        nps_total = satisfaction.nps_by_month(sl)["answers"].sum()
        csat_total = satisfaction.csat_by_month(sl)["answers"].sum()
        tiers = satisfaction.by(sl, "tier")
        assert set(tiers["tier"]) <= set(TIERS)
        assert tiers["nps_answers"].sum() <= nps_total and tiers["csat_answers"].sum() <= csat_total
        # every survey has a channel and every customer a branch: those splits add up exactly
        for dimension in ("channel", "branch"):
            split = satisfaction.by(sl, dimension)
            assert (split["nps_answers"].sum(), split["csat_answers"].sum()) == (nps_total, csat_total), dimension

    check()


def test_backlog_has_a_row_for_every_month_of_the_period(demo):
    tables, months, _ = demo
    sl = Slice(tables, Filters(start=months[3], end=months[8]))
    frame = satisfaction.backlog_by_month(sl)
    assert frame["month"].dt.date.tolist() == list(months[3:9])
    assert (frame["open"] >= 0).all()
