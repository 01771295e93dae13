"""The portfolio drill-down on the hand-built store (tests/handbuilt.py), worked out by hand."""

from __future__ import annotations

import datetime as dt
import numbers

import ibis
import pandas as pd
import pytest

from analytics import portfolio
from analytics.filters import Filters, Slice
from analytics.scope import OutOfScope, Scope, ScopedStore

JUNE = dt.date(2024, 6, 30)


def sliced(backend, scope=Scope.all_branches(pii="shown"), filters=Filters(end=JUNE)):
    return Slice(ScopedStore(backend, scope), filters)


def test_branch_league_ranks_by_aum_with_customers_and_nps(backend):
    league = portfolio.branches(sliced(backend)).set_index("branch_code")
    assert league.loc["SH01", "rank"] == 1 and league.loc["BJ01", "rank"] == 2
    assert league.loc["SH01", "customers"] == 1 and league.loc["SH01", "aum_cny"] == 6000
    assert league.loc["BJ01", "customers"] == 1 and league.loc["BJ01", "aum_cny"] == 50  # customer 2 churned in March
    assert league.loc["SH01", "nps_12m"] == 0       # a 9 in March and a 3 in June
    assert league.loc["BJ01", "nps_12m"] == 100     # customer 2's 10 in February


def test_a_branch_head_s_league_ranks_their_branch_among_all_and_adds_the_bank(backend):
    """Worked out by hand at June 2024: SH01 holds 6,000 (customer 1), BJ01 50 (customer 3; customer 2 churned in
    March); the NPS answers of the 12 months are a 9 and a 3 (SH01) and a 10 (BJ01)."""
    # with two branches the bank less BJ01 would be SH01's figures: the head gets the rank, not the bank's row
    (mine,) = portfolio.league(sliced(backend, Scope.for_branches(["BJ01"]))).to_dict("records")
    assert (mine["branch_code"], mine["rank"], mine["ranked"], mine["customers"], mine["aum_cny"]) == ("BJ01", 2, 2, 1, 50)
    *branches, bank = portfolio.league(sliced(backend)).to_dict("records")
    assert [b["branch_code"] for b in branches] == ["SH01", "BJ01"] and [b["rank"] for b in branches] == [1, 2]
    assert pd.isna(bank["branch_code"]) and pd.isna(bank["rank"]) and bank["ranked"] == 2
    assert (bank["customers"], bank["aum_cny"], bank["churned_12m"]) == (2, 6050, 1)
    assert bank["nps_12m"] == pytest.approx(100 * (2 - 1) / 3)  # 2 promoters, 1 detractor of 3 answers
    assert pd.isna(bank["churn_rate_12m"])  # nobody a year before June: no rate


def test_value_at_risk_is_unknown_not_zero_before_any_churn_score(backend, demo_store):
    """The hand-built store has no churn scores (a new store's first minutes, or a model that failed its checks):
    nobody knows what is at risk, which the league, the branches and the RMs show as "–", not CNY 0."""
    assert backend.table("churn_scores").count().execute() == 0
    sl = sliced(backend)
    assert portfolio.league(sl).value_at_risk_cny.isna().all()
    assert portfolio.branches(sl).value_at_risk_cny.isna().all()
    assert portfolio.relationship_managers(sl, "SH01").value_at_risk_cny.isna().all()
    scored = Slice(ScopedStore(ibis.duckdb.connect(str(demo_store), read_only=True), Scope.all_branches()), Filters())
    assert (portfolio.league(scored).value_at_risk_cny > 0).all()


def test_relationship_managers_of_a_branch(backend):
    rms = portfolio.relationship_managers(sliced(backend), "BJ01")
    assert list(rms.rm_id) == ["BJ01-RM01"] and list(rms.customers) == [1] and list(rms.aum_cny) == [50]


def test_customers_of_a_relationship_manager(backend):
    listed = portfolio.customers(sliced(backend), "SH01-RM01")
    assert list(listed.customer_id) == [1] and list(listed.name) == ["张伟"]
    assert listed.tier.iloc[0] == "Mass" and listed.stage.iloc[0] == "Active"


def test_customer_360_holds_everything_about_the_customer(backend):
    view = portfolio.customer_360(sliced(backend), 1)
    assert view.profile["name"] == "张伟" and view.profile["branch_name_en"] == "Shanghai Lujiazui"
    assert view.profile["rm_name"] == "王经理"
    assert len(view.balances) == 7 and view.balances.aum_cny.iloc[-1] == 7000
    assert list(view.accounts.account_id) == [11, 12]
    assert len(view.interactions) == 2 and len(view.surveys) == 2 and len(view.complaints) == 2
    assert view.churn is None  # the hand-built store has no scores


def test_customer_360_masks_pii_for_roles_without_it(backend):
    view = portfolio.customer_360(sliced(backend, Scope.all_branches()), 1)
    assert view.profile["name"] == "张**" and view.profile["phone"] == "*******5678"


def test_customer_360_refuses_a_customer_outside_the_scope(backend):
    with pytest.raises(OutOfScope):
        portfolio.customer_360(sliced(backend, Scope.for_branches(["SH01"])), 2)


def test_the_churn_warnings_list_holds_every_customer_in_the_churn_warning_stage_and_only_them(demo_store):
    """The list the churn-warnings page shows (#24 item 1): every customer in the Churn-warning stage, by either of
    its rules, whatever their AUM; nobody under the threshold without an AUM fall; the Portfolio's at-risk count and
    the care rules' churn tasks are the same customers; each one listed has reasons."""
    import ibis
    import pandas as pd

    from analytics import care, store
    from analytics.rules import DEFAULT_RULES

    sl = Slice(ScopedStore(ibis.duckdb.from_connection(store.connect(demo_store, read_only=True)),
                           Scope.all_branches(pii="shown")), Filters(), DEFAULT_RULES)
    now = portfolio.current(sl).select("customer_id", "stage", "probability", "aum_cny", "aum_3m_ago_cny",
                                       "branch_code").execute()
    staged = now[now.stage == "Churn-warning"]
    listed = portfolio.at_risk(sl)
    assert sorted(listed.customer_id) == sorted(staged.customer_id)
    fell = staged.aum_cny < staged.aum_3m_ago_cny * (1 - DEFAULT_RULES.warning_aum_drop_share)
    assert (staged.probability.fillna(0) >= DEFAULT_RULES.warning_probability).sum() > 0 and fell.sum() > 0
    under = listed[listed.probability.fillna(0) < DEFAULT_RULES.warning_probability]
    assert len(under) > 0 and under.aum_fell.all()  # under the threshold only by the AUM rule
    assert (listed.likely == (listed.probability.fillna(0) >= DEFAULT_RULES.warning_probability)).all()
    assert list(listed.value_at_risk_cny) == sorted(listed.value_at_risk_cny, reverse=True)

    counted = pd.concat([portfolio.relationship_managers(sl, b) for b in sorted(now.branch_code.unique())])
    assert counted.at_risk_customers.sum() == len(listed)
    tasks = care.due(sl, dt.date(2026, 12, 1))
    assert sorted(tasks[tasks.kind == "churn_risk"].customer_id) == sorted(listed.customer_id)
    for lang in ("en", "zh"):
        reasons = care.why_at_risk(listed, DEFAULT_RULES, lang)
        assert all(reasons)
        fall = next(r for r, row in zip(reasons, listed.itertuples()) if row.aum_fell and not row.likely)
        assert ("AUM down" if lang == "en" else "资产下降") in fall

    one_rm = listed.rm_id.mode()[0]
    assert sorted(portfolio.at_risk(sl, one_rm).customer_id) == sorted(listed[listed.rm_id == one_rm].customer_id)


def test_a_branch_head_s_league_holds_their_rank_and_the_bank_s_figures_and_nothing_of_another_branch(demo_store):
    """The Overview's league for a branch head (#24 item 13): their branch ranked among all 20 by AUM, and the bank's
    row equal to the executive's and to the bank-wide KPIs; no other branch's code, name or figure in any cell."""
    import duckdb
    import ibis

    from analytics import kpis

    backend = ibis.duckdb.connect(str(demo_store), read_only=True)
    head = portfolio.league(Slice(ScopedStore(backend, Scope.for_branches(["SH01"]))))
    whole = Slice(ScopedStore(backend, Scope.all_branches()))
    bank_wide = portfolio.league(whole)
    con = duckdb.connect(str(demo_store), read_only=True)
    by_aum = [code for code, in con.execute(
        "SELECT branch_code FROM customer_month WHERE month = (SELECT max(month) FROM customer_month) AND NOT is_churned"
        " GROUP BY branch_code ORDER BY sum(aum_cny) DESC, branch_code").fetchall()]
    assert len(by_aum) == 20

    assert head.branch_code.tolist()[0] == "SH01" and len(head) == 2
    mine, bank = head.iloc[0], head.iloc[1]
    assert mine["rank"] == by_aum.index("SH01") + 1 and mine["ranked"] == bank["ranked"] == 20
    assert bank_wide["rank"].tolist()[:20] == list(range(1, 21)) and bank_wide.branch_code.tolist()[:20] == by_aum
    theirs = bank_wide[bank_wide.branch_code.isna()].iloc[0]
    figures = ["customers", "aum_cny", "aum_change_12m", "churn_rate_12m", "nps_12m", "value_at_risk_cny"]
    assert bank[figures].tolist() == pytest.approx(theirs[figures].tolist())
    month = pd.Timestamp(con.execute("SELECT max(month) FROM customer_month").fetchone()[0])
    for figure, kpi in (("customers", kpis.customers), ("aum_cny", kpis.aum), ("churn_rate_12m", kpis.churn_rate_12m)):
        assert bank[figure] == pytest.approx(kpis.snapshot(kpi(whole), month).value), figure
    assert bank["aum_cny"] == pytest.approx(bank_wide.aum_cny.iloc[:20].sum())

    others = bank_wide[bank_wide.branch_code.notna() & (bank_wide.branch_code != "SH01")]
    words = set(others[["branch_code", "name", "name_en"]].to_numpy().ravel())
    allowed = {*bank_wide[bank_wide.branch_code == "SH01"].iloc[0].tolist(), *theirs.tolist(), mine["rank"], 20}
    for cell in head.to_numpy().ravel():
        if isinstance(cell, str):
            assert cell not in words, cell
        elif not pd.isna(cell):
            assert any(cell == pytest.approx(v) for v in allowed if isinstance(v, numbers.Number) and not pd.isna(v)), cell
