"""The churn model's features know nothing of the future; its labels are the next three months."""

from __future__ import annotations

import datetime as dt
import shutil

import duckdb
import pandas as pd
import pytest

from analytics import marts
from analytics.ml import features as F
from analytics.scope import Scope, ScopedStore


CUTOFF = dt.date(2025, 12, 31)


def tables(backend) -> ScopedStore:
    return ScopedStore(backend, Scope.all_branches(pii="shown"))


def cut_off(source, target, month: dt.date):
    """The store as it stood at the end of `month`: later rows gone, later events not yet happened."""
    shutil.copyfile(source, target)
    con = duckdb.connect(str(target))
    end = month + dt.timedelta(days=1)
    for sql in (
        "DELETE FROM monthly_balances WHERE month > ?",
        "DELETE FROM surveys WHERE answered_at >= ?",
        "DELETE FROM complaints WHERE opened_at >= ?",
        "UPDATE complaints SET resolved_at = NULL WHERE resolved_at >= ?",
        "DELETE FROM interactions WHERE occurred_at >= ?",
        "DELETE FROM funnel_events WHERE occurred_at >= ?",
        "DELETE FROM accounts WHERE opened_on >= ?",
        "UPDATE accounts SET closed_on = NULL WHERE closed_on >= ?",
        "UPDATE customers SET closed_on = NULL, status = 'active' WHERE closed_on >= ?",
        "DELETE FROM customers WHERE opened_on >= ?",
    ):
        con.execute(sql, [end])
    marts.rebuild(con)
    con.close()
    return target


def test_features_at_a_month_end_use_nothing_from_after_it(demo_store, tmp_path, connect):
    full = F.features(tables(connect(demo_store)), CUTOFF).order_by("customer_id").execute()
    past = F.features(tables(connect(cut_off(demo_store, tmp_path / "past.duckdb", CUTOFF))), CUTOFF).order_by(
        "customer_id").execute()
    assert len(full) > 1000
    pd.testing.assert_frame_equal(full, past)


def test_the_leakage_test_would_catch_a_feature_from_the_future(demo_store, tmp_path, monkeypatch, connect):
    original = F.features

    def peeks_ahead(tables, month):
        later = month.replace(day=1) + dt.timedelta(days=95)  # a month-end after the cut-off
        cm = tables.table("customer_month")
        ahead = cm.filter(cm.month == later.replace(day=1) - dt.timedelta(days=1)).select("customer_id", future_aum=cm.aum_cny)
        return original(tables, month).left_join(ahead, "customer_id").drop("customer_id_right")

    monkeypatch.setattr(F, "features", peeks_ahead)
    with pytest.raises(AssertionError):
        test_features_at_a_month_end_use_nothing_from_after_it(demo_store, tmp_path, connect)


def test_features_and_labels_on_the_hand_built_store(backend):
    t = tables(backend)
    frame = F.training_frame(t, dt.date(2024, 4, 30)).set_index("customer_id")
    # customer 2 churned in March and is no longer a customer at the end of April
    assert list(frame.index) == [1, 3]
    one = frame.loc[1]
    assert (one.aum_cny, one.aum_change_3m_pct, one.products_held, one.txn_count_3m) == (4000, 3.0, 2, 3)
    assert (one.days_since_last_txn, one.open_complaints, one.complaints_90d, one.last_nps) == (2, 0, 0, 9)
    assert one.age_years == pytest.approx(44.0, abs=0.01)  # born 1980-05-01
    assert not one.churned
    # customer 3 turns dormant-churned in July: within the 3 months after April, not after March
    assert frame.loc[3].churned
    march = F.training_frame(t, dt.date(2024, 3, 31)).set_index("customer_id")
    assert list(march.index) == [1, 3] and not march.loc[3].churned
    # customer 2 churned in March: a positive at the end of February
    assert F.training_frame(t, dt.date(2024, 2, 29)).set_index("customer_id").loc[2].churned
    june = F.training_frame(t, dt.date(2024, 6, 30)).set_index("customer_id").loc[1]
    assert (june.open_complaints, june.complaints_90d, june.last_nps) == (0, 1, 3)
