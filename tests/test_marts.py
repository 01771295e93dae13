"""Marts on the hand-built store (tests/handbuilt.py), every value worked out by hand."""

from __future__ import annotations

import datetime as dt

import duckdb
import pytest

from . import handbuilt


@pytest.fixture(scope="module")
def con(tmp_path_factory):
    path = handbuilt.build(tmp_path_factory.mktemp("hand") / "hand.duckdb")
    con = duckdb.connect(str(path), read_only=True)
    yield con
    con.close()


def month_rows(con, customer_id, *columns):
    sql = f"SELECT {', '.join(columns)} FROM customer_month WHERE customer_id = ? ORDER BY month"
    return con.execute(sql, [customer_id]).fetchall()


def test_aum_3m_average_and_3_months_ago(con):
    rows = month_rows(con, 1, "aum_cny", "aum_3m_avg_cny", "aum_3m_ago_cny")
    assert [r[0] for r in rows] == [1000, 2000, 3000, 4000, 5000, 6000, 7000]
    assert [r[1] for r in rows] == [1000, 1500, 2000, 3000, 4000, 5000, 6000]
    assert [r[2] for r in rows] == [None, None, None, 1000, 2000, 3000, 4000]


def test_products_held_follow_account_dates(con):
    assert [r[0] for r in month_rows(con, 1, "products_held")] == [1, 2, 2, 2, 2, 2, 2]
    assert [r[0] for r in month_rows(con, 2, "products_held")] == [1, 1, 0]


def test_days_since_last_customer_initiated_transaction(con):
    # Jan 31 - Jan 20, Feb 29 - Jan 20, Mar 31 - Jan 20, Apr 30 - Apr 28, then from Apr 28
    assert [r[0] for r in month_rows(con, 1, "days_since_last_txn")] == [11, 40, 71, 2, 33, 63, 94]


def test_churn_when_every_account_is_closed(con):
    assert month_rows(con, 2, "is_churned", "churned_in_month") == [(False, False), (False, False), (True, True)]


def test_churn_when_dormant_180_days_with_aum_under_100(con):
    rows = month_rows(con, 3, "days_since_last_txn", "is_churned", "churned_in_month")
    assert rows[-2] == (177, False, False)  # Jun 30 - Jan 5
    assert rows[-1] == (208, True, True)    # Jul 31 - Jan 5


def test_customer_current_features(con):
    cols = ["as_of", "in_latest_month", "aum_cny", "aum_3m_ago_cny", "aum_change_3m_pct", "products_held",
            "txn_count_30d", "txn_count_90d", "days_since_last_txn", "open_complaints",
            "oldest_open_complaint_days", "last_nps", "last_csat", "is_churned", "churned_month"]
    rows = {r[0]: dict(zip(cols, r[1:])) for r in con.execute(
        f"SELECT customer_id, {', '.join(cols)} FROM customer_current").fetchall()}
    one = rows[1]
    assert one["as_of"] == dt.date(2024, 7, 31) and one["in_latest_month"]
    assert (one["aum_cny"], one["aum_3m_ago_cny"], one["aum_change_3m_pct"]) == (7000, 4000, 0.75)
    assert (one["products_held"], one["txn_count_30d"], one["txn_count_90d"], one["days_since_last_txn"]) == (2, 0, 0, 94)
    assert (one["open_complaints"], one["oldest_open_complaint_days"]) == (1, 30)
    assert (one["last_nps"], one["last_csat"], one["is_churned"], one["churned_month"]) == (3, 2, False, None)
    two = rows[2]
    assert two["as_of"] == dt.date(2024, 3, 31) and not two["in_latest_month"]
    assert (two["is_churned"], two["churned_month"], two["last_nps"], two["open_complaints"]) == (True, dt.date(2024, 3, 31), 10, 0)
    three = rows[3]
    assert (three["is_churned"], three["churned_month"], three["last_nps"], three["last_csat"]) == (True, dt.date(2024, 7, 31), None, 3)
    assert three["txn_count_90d"] == 0 and three["aum_change_3m_pct"] == 0


def test_a_customer_closed_by_the_bank_counts_as_churned_without_history(tmp_path):
    from analytics import marts, store

    with store.rewrite(tmp_path / "s.duckdb", fresh=True) as con:
        con.execute("INSERT INTO branches VALUES ('X1', 'x', 'x', 'x', 'x', NULL)")
        con.execute("""INSERT INTO customers (customer_id, branch_code, name, opened_on, status)
                       VALUES (1, 'X1', 'a', '2020-01-01', 'closed'), (2, 'X1', 'b', '2020-01-01', 'active')""")
        marts.rebuild(con)
        assert con.execute("SELECT customer_id, is_churned FROM customer_current ORDER BY 1").fetchall() == [(1, True), (2, False)]


def test_months_missing_from_an_extract_do_not_shift_the_3_month_figures(tmp_path):
    from analytics import marts, store

    with store.rewrite(tmp_path / "s.duckdb", fresh=True) as con:
        con.execute("INSERT INTO branches VALUES ('X1', 'x', 'x', 'x', 'x', NULL)")
        con.execute("INSERT INTO customers (customer_id, branch_code, name, opened_on) VALUES (1, 'X1', 'a', '2020-01-01')")
        for month, aum in (("2024-01-31", 100), ("2024-02-29", 200), ("2024-04-30", 400), ("2024-05-31", 500)):
            con.execute("INSERT INTO monthly_balances VALUES (1, ?, ?, 0, 0, 0, 1, 1, 0, ?, NULL, NULL)", [month, aum, month])
        marts.rebuild(con)
        rows = con.execute("SELECT aum_3m_avg_cny, aum_3m_ago_cny FROM customer_month ORDER BY month").fetchall()
    # April averages Feb..Apr (no March row): (200 + 400) / 2; three months before April is January
    assert rows == [(100, None), (150, None), (300, 100), (450, 200)]
