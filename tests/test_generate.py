"""The demo store: deterministic, believable, and with churn a model can see coming."""

from __future__ import annotations

import duckdb
import pytest

from analytics import generate, store

from .conftest import DEMO_END, build_demo


def q(con, sql, *params):
    return con.execute(sql, list(params)).fetchall()


def test_same_seed_same_store_other_seed_other_store(tmp_path):
    spec = generate.DemoSpec(customers=800, months=12, seed=3, end_month=DEMO_END)
    a = duckdb.connect(str(build_demo(tmp_path / "a.duckdb", spec)), read_only=True)
    b = duckdb.connect(str(build_demo(tmp_path / "b.duckdb", spec)), read_only=True)
    other = generate.DemoSpec(customers=800, months=12, seed=4, end_month=DEMO_END)
    c = duckdb.connect(str(build_demo(tmp_path / "c.duckdb", other)), read_only=True)
    assert store.content_checksum(a) == store.content_checksum(b)
    assert store.content_checksum(a) != store.content_checksum(c)


def test_spec_refuses_nonsense():
    with pytest.raises(ValueError, match="customers"):
        generate.DemoSpec(customers=5)
    with pytest.raises(ValueError, match="months"):
        generate.DemoSpec(months=1)


def test_branches_regions_and_relationship_managers(demo_con):
    [(branches, regions, cities)] = q(demo_con, "SELECT count(*), count(DISTINCT region), count(DISTINCT city) FROM branches")
    assert 18 <= branches <= 22 and regions >= 4 and cities >= 10
    per_branch = [n for (n,) in q(demo_con, "SELECT count(*) FROM relationship_managers GROUP BY branch_code")]
    assert len(per_branch) == branches and min(per_branch) >= 5 and max(per_branch) <= 15
    # every customer's RM works at the customer's branch
    assert q(demo_con, """SELECT count(*) FROM customers c JOIN relationship_managers r USING (rm_id)
                          WHERE r.branch_code <> c.branch_code""") == [(0,)]


def test_tier_mix_under_default_rules(demo_con):
    rows = dict(q(demo_con, """
        SELECT CASE WHEN aum_3m_avg_cny < 50000 THEN 'Mass' WHEN aum_3m_avg_cny < 500000 THEN 'Affluent'
                    WHEN aum_3m_avg_cny < 6000000 THEN 'Wealth' ELSE 'Private' END,
               count(*) / sum(count(*)) OVER ()
        FROM customer_month WHERE month = ? AND NOT is_churned GROUP BY 1""", DEMO_END))
    assert rows["Mass"] == pytest.approx(0.80, abs=0.04)
    assert rows["Affluent"] == pytest.approx(0.15, abs=0.03)
    assert rows["Wealth"] == pytest.approx(0.045, abs=0.02)
    assert 0.001 <= rows["Private"] <= 0.015


def test_yearly_churn_between_8_and_18_percent(demo_con):
    """Of the customers active a year before the end, the share that churned within that year."""
    [(start, churned)] = q(demo_con, """
        SELECT count(*), count(*) FILTER (WHERE cc.churned_month > cm.month)
        FROM customer_month cm JOIN customer_current cc USING (customer_id)
        WHERE cm.month = last_day(?::DATE - INTERVAL 12 MONTH) AND NOT cm.is_churned""", DEMO_END)
    assert 0.08 <= churned / start <= 0.18


def test_both_kinds_of_churn_occur(demo_con):
    [(closed, dormant)] = q(demo_con, """
        SELECT count(*) FILTER (WHERE products_held = 0),
               count(*) FILTER (WHERE products_held > 0 AND aum_cny < 100 AND days_since_last_txn >= 180)
        FROM customer_month WHERE churned_in_month""")
    assert closed > 0 and dormant > 0


BEFORE_CHURN = """
    WITH flagged AS (
        SELECT cm.*, cc.churned_month IS NOT NULL
               AND cm.month BETWEEN last_day(cc.churned_month - INTERVAL 3 MONTH)
                                AND last_day(cc.churned_month - INTERVAL 1 MONTH) AS before_churn
        FROM customer_month cm JOIN customer_current cc USING (customer_id)
        WHERE NOT cm.is_churned AND cm.tenure_months >= 6)
"""


def test_warning_signs_show_before_customers_leave(demo_con):
    """In the 1-3 months before churning, activity and AUM fall, complaints rise, NPS drops."""
    [(txn_before, txn_other, aum_before, aum_other)] = q(demo_con, BEFORE_CHURN + """
        SELECT avg(txn_count) FILTER (WHERE before_churn), avg(txn_count) FILTER (WHERE NOT before_churn),
               median(aum_cny / nullif(aum_3m_ago_cny, 0)) FILTER (WHERE before_churn),
               median(aum_cny / nullif(aum_3m_ago_cny, 0)) FILTER (WHERE NOT before_churn)
        FROM flagged""")
    assert txn_before < 0.5 * txn_other
    assert aum_before < 0.8 < aum_other
    [(complaints_before, complaints_other)] = q(demo_con, BEFORE_CHURN + """
        , monthly AS (SELECT f.before_churn, count(c.complaint_id) AS n
                      FROM flagged f LEFT JOIN complaints c
                        ON c.customer_id = f.customer_id AND last_day(c.opened_at::DATE) = f.month
                      GROUP BY f.customer_id, f.month, f.before_churn)
        SELECT avg(n) FILTER (WHERE before_churn), avg(n) FILTER (WHERE NOT before_churn) FROM monthly""")
    assert complaints_before > 3 * complaints_other
    [(nps_before, nps_other)] = q(demo_con, BEFORE_CHURN + """
        SELECT avg(s.nps) FILTER (WHERE f.before_churn), avg(s.nps) FILTER (WHERE NOT f.before_churn)
        FROM flagged f JOIN surveys s ON s.customer_id = f.customer_id AND last_day(s.answered_at::DATE) = f.month""")
    assert nps_before < nps_other - 1.5


def test_single_product_customers_churn_more(demo_con):
    """Churn within the next 3 months, by whether the customer holds a single product now."""
    rates = dict(q(demo_con, """
        SELECT cm.products_held = 1,
               avg(coalesce(cc.churned_month > cm.month AND cc.churned_month <= last_day(cm.month + INTERVAL 3 MONTH), false)::INT)
        FROM customer_month cm JOIN customer_current cc USING (customer_id)
        WHERE NOT cm.is_churned AND cm.month <= last_day(?::DATE - INTERVAL 3 MONTH) GROUP BY 1""", DEMO_END))
    assert rates[True] > 2 * rates[False]


def test_funnel_reaches_all_six_stages_and_never_grows(demo_con):
    counts = dict(q(demo_con, "SELECT stage, count(*) FROM funnel_events GROUP BY 1"))
    stages = generate.FUNNEL_STAGES
    assert set(counts) == set(stages)
    assert all(counts[a] >= counts[b] for a, b in zip(stages, stages[1:]))
    # a lead's stages happen in order
    assert q(demo_con, """
        SELECT count(*) FROM funnel_events a JOIN funnel_events b USING (lead_id)
        WHERE list_position(?, a.stage) < list_position(?, b.stage) AND a.occurred_at > b.occurred_at""",
             list(stages), list(stages)) == [(0,)]


def test_seasonality_chinese_new_year_and_year_end(demo_con):
    by_month = dict(q(demo_con, """
        SELECT month(month), median(aum_cny / nullif(aum_3m_avg_cny, 0))
        FROM customer_month WHERE NOT is_churned AND tenure_months > 6 GROUP BY 1"""))
    assert by_month[1] > by_month[2]


def test_customer_pii_looks_real(demo_con):
    rows = q(demo_con, "SELECT name, phone, id_number, gender FROM customers LIMIT 500")
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    for name, phone, id_number, gender in rows:
        assert 2 <= len(name) <= 4 and all("\u4e00" <= ch <= "\u9fff" for ch in name)
        assert len(phone) == 11 and phone.startswith("1") and phone.isdigit()
        check = "10X98765432"[sum(int(d) * w for d, w in zip(id_number[:17], weights)) % 11]
        assert len(id_number) == 18 and id_number[17] == check
        assert (int(id_number[16]) % 2 == 1) == (gender == "M")


def test_surveys_and_complaints_are_in_range(demo_con):
    assert q(demo_con, "SELECT min(nps) >= 0 AND max(nps) <= 10 AND min(csat) >= 1 AND max(csat) <= 5 FROM surveys") == [(True,)]
    [(open_, late)] = q(demo_con, """SELECT count(*) FILTER (WHERE resolved_at IS NULL),
        count(*) FILTER (WHERE resolved_at > opened_at + to_days(sla_days)) FROM complaints""")
    assert open_ > 0 and late > 0
